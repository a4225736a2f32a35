"""The dashboard's pages, built on the API's own functions and snapshots (same numbers as `/v1`).

Every page checks the session's role; managers' pages refuse the retention role (403) and are left
out of its navigation. Every POST (sign-in, sign-out, what-if) is refused (403) unless it comes from
this site (`Origin`, else `Referer`) and carries its form's CSRF token (`checked_form`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from serving.auth import Role
from serving.dashboard import formatting, session, warehouse_reads
from serving.security import same_origin
from serving.state import ServiceState

PAGE_SIZE = 50
MAX_FORM_BYTES = 10_000
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parents[1] / "templates"))
TEMPLATES.env.filters.update(
    pct=formatting.pct,
    points=formatting.points,
    arrow=formatting.arrow,
    money=formatting.money,
    number=formatting.number,
    count=formatting.count,
    lift=formatting.lift,
    friendly=formatting.friendly,
    family=formatting.family,
    metric=formatting.metric,
    interval=formatting.interval,
    days=formatting.days,
)
TEMPLATES.env.globals.update(
    band_icon=formatting.BAND_ICON,
    band_text=formatting.BAND_TEXT,
    tone=formatting.tone,
    band_tone=formatting.band_tone,
    metric_value=formatting.metric_value,
)
RUN_LABELS = {"churn": "Churn risk", "deal_win": "Win probability"}
NAV = (
    ("Worklist", "/dashboard/worklist", Role.retention),
    ("Deals", "/dashboard/opportunities", Role.retention),
    ("Drivers", "/dashboard/drivers", Role.manager),
    ("Teams", "/dashboard/teams", Role.manager),
    ("Contribution", "/dashboard/contribution", Role.manager),
    ("Pipeline", "/dashboard/pipeline", Role.manager),
    ("Models", "/dashboard/models", Role.retention),
)
Text = Annotated[str | None, Query(max_length=200)]


class SignInNeeded(Exception):
    """No valid session: the handler redirects to the sign-in form."""


class Refused(Exception):
    """Signed in, but the role may not see this page (rendered as a 403 page)."""

    def __init__(self, minimum: Role) -> None:
        self.minimum = minimum


class FormRefused(Exception):
    """A POST from another site or without its form's token (rendered as a 403 page)."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass
class DashboardState:
    """What `mount` keeps on the service state (`ServiceState.dashboard`)."""

    sessions: session.SessionStore
    reliability: object  # callable(target, version) -> DataFrame | None
    backtest: object  # callable(target, version) -> {metric: value}
    secure_cookie: bool = False
    norms: tuple | None = None  # (scores marker, stage norms frame)
    index: tuple | None = None  # (scores marker, future of warehouse_reads.read_index)
    memo: dict = field(default_factory=dict)  # target -> (snapshot, what was built from it)


def sessions(request: Request) -> session.SessionStore:
    return request.app.state.service.dashboard.sessions


def current_session(request: Request) -> session.Session | None:
    """The request's live session (read once per request)."""
    if "session" not in request.scope.get("state", {}):
        cookie = request.cookies.get(session.COOKIE)
        request.state.session = sessions(request).get(cookie, request.app.state.service.keyring)
    return request.state.session


def role_of(request: Request) -> Role | None:
    found = current_session(request)
    return None if found is None else found.role


def need(request: Request, minimum: Role) -> Role:
    """The signed-in role, or SignInNeeded / Refused."""
    role = role_of(request)
    if role is None:
        raise SignInNeeded()
    request.state.role = role.name
    if role < minimum:
        raise Refused(minimum)
    return role


def render(request: Request, name: str, role: Role | None, status: int = 200, **context):
    nav = [(label, href) for label, href, minimum in NAV if role is not None and role >= minimum]
    signed_in = current_session(request)
    csrf = sessions(request).csrf_token(signed_in) if signed_in is not None else ""
    context |= {"nav": nav, "role": role.name if role else None, "path": request.url.path}
    context |= {"csrf": csrf, "runs": run_lines(request) if role is not None else []}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


def run_lines(request: Request) -> list[dict]:
    """What every page states: per target, the day its scores are as of and the data's last
    event when they were made."""
    service: ServiceState = request.app.state.service
    out = []
    for target, snapshot in service.scores.current.items():
        if len(snapshot):
            summary = snapshot.summary
            out.append({"label": RUN_LABELS.get(target, target), **summary})
    return out


def problem(request: Request, role: Role | None, exc: HTTPException) -> HTMLResponse:
    """An API error (404, 503 …) as a page with the API's message."""
    return render(request, "error.html", role, exc.status_code, message=exc.detail)


async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dashboard/login?next={quote(target)}", status_code=303)


async def refused(request: Request, exc: Refused) -> Response:
    role = role_of(request)
    message = f"This page needs the {exc.minimum.name} role; you are signed in as {role.name}."
    return render(request, "error.html", role, 403, message=message)


async def form_refused(request: Request, exc: FormRefused) -> Response:
    return render(request, "error.html", role_of(request), 403, message=exc.message)


async def checked_form(request: Request, sign_in: bool = False) -> dict[str, str]:
    """The form of a POST from this site with its form's CSRF token, else FormRefused. The token
    is the session's (`sign_in`: the sign-in form's, bound to its nonce cookie)."""
    headers = request.headers
    if not same_origin(headers, headers.get("host")):
        raise FormRefused("This form was sent from another site, so it was refused.")
    form = await read_form(request)
    store = sessions(request)
    if sign_in:
        nonce = request.cookies.get(session.SIGN_IN_COOKIE)
        expected = store.sign_in_token(nonce) if nonce else None
    else:
        signed_in = current_session(request)
        expected = store.csrf_token(signed_in) if signed_in is not None else None
    if not session.same_token(expected, form.get("csrf")):
        raise FormRefused("This form has expired or was not sent from this page; reload and retry.")
    return form


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (small; the first value of each field)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "Form too large.")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def details_index(service: ServiceState) -> asyncio.Future:
    """Histories and recent rows for every entity, read once per scoring run (in a thread);
    started by the worklist so an account page rarely waits for it."""
    state: DashboardState = service.dashboard
    marker = service.scores.marker
    stale = state.index is None or state.index[0] != marker
    if stale or (state.index[1].done() and state.index[1].exception() is not None):
        path = service.settings.warehouse_path
        state.index = (
            marker,
            asyncio.ensure_future(run_in_threadpool(warehouse_reads.read_index, path)),
        )
    return state.index[1]


async def index_for(service: ServiceState) -> dict:
    return await asyncio.shield(details_index(service))
