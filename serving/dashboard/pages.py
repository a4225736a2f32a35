"""The dashboard's pages, built on the API's own functions and snapshots (same numbers as `/v1`).

Every page checks the session's role; managers' pages refuse the retention role (403) and are left
out of its navigation. Every POST (sign-in, sign-out, what-if) is refused (403) unless it comes from
this site (`Origin`, else `Referer`) and carries its form's CSRF token (`checked_form`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, quote

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from serving.answers import score_view
from serving.auth import Role
from serving.dashboard import formatting, session, svg, warehouse_reads
from serving.deps import snapshot_for
from serving.routers import drivers, reports, reps, teams, what_if
from serving.routers.models import models_view
from serving.schemas.requests import WhatIf
from serving.schemas.responses import AccountItem, ChurnRisk, WinProbability
from serving.security import same_origin
from serving.service import worklist

PAGE_SIZE = 50
MAX_FORM_BYTES = 10_000
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
TEMPLATES.env.filters.update(
    pct=formatting.pct, points=formatting.points, money=formatting.money, number=formatting.number
)
TEMPLATES.env.globals.update(band_icon=formatting.BAND_ICON, band_text=formatting.BAND_TEXT)
NAV = (
    ("Worklist", "/dashboard/worklist", Role.retention),
    ("Deals", "/dashboard/opportunities", Role.retention),
    ("Drivers", "/dashboard/drivers", Role.manager),
    ("Teams", "/dashboard/teams", Role.manager),
    ("Contribution", "/dashboard/contribution", Role.manager),
    ("Models", "/dashboard/models", Role.retention),
)
router = APIRouter(prefix="/dashboard", include_in_schema=False)
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
    """What `mount` keeps on `app.state.dashboard`."""

    sessions: session.SessionStore
    mlflow_ui: str
    reliability: object  # callable(target, version) -> DataFrame | None
    backtest: object  # callable(target, version) -> {metric: value}
    secure_cookie: bool = False
    norms: tuple | None = None  # (scores marker, stage norms frame)
    index: tuple | None = None  # (scores marker, future of warehouse_reads.read_index)
    memo: dict = field(default_factory=dict)  # target -> (snapshot, what was built from it)


# ------------------------------------------------------------------ sessions and rendering


def sessions(request: Request) -> session.SessionStore:
    return request.app.state.dashboard.sessions


def current_session(request: Request) -> session.Session | None:
    """The request's live session (read once per request)."""
    if "session" not in request.scope.get("state", {}):
        cookie = request.cookies.get(session.COOKIE)
        request.state.session = sessions(request).get(cookie, request.app.state.keyring)
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
    context |= {"csrf": csrf}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


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


# ------------------------------------------------------------------ sign-in


@router.get("", response_class=HTMLResponse)
def home(request: Request):
    return RedirectResponse("/dashboard/worklist", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Text = None):
    return sign_in_page(request, safe_next(next), None, 200)


def sign_in_page(request: Request, target: str, error: str | None, status: int) -> Response:
    """The sign-in form with its CSRF token; a new nonce cookie unless the browser has one."""
    nonce = request.cookies.get(session.SIGN_IN_COOKIE)
    fresh = not nonce or len(nonce) > 100
    nonce = session.new_nonce() if fresh else nonce
    token = sessions(request).sign_in_token(nonce)
    role = role_of(request)
    response = render(
        request, "login.html", role, status, next=target, error=error, sign_in_csrf=token
    )
    if fresh:
        secure = request.app.state.dashboard.secure_cookie
        response.set_cookie(value=nonce, **session.sign_in_cookie_options(secure))
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request):
    """Check the key against the API's keyring; start a session with the role and the key's id."""
    form = await checked_form(request, sign_in=True)
    key, target = form.get("key", ""), safe_next(form.get("next"))
    found = request.app.state.keyring.match(key.strip())
    if found is None:
        error = "That key is not known. Paste the API key you were given."
        return sign_in_page(request, target, error, 401)
    identity, role = found
    store = sessions(request)
    store.end(request.cookies.get(session.COOKIE))  # a new sign-in replaces the old session
    response = RedirectResponse(target, status_code=303)
    secure = request.app.state.dashboard.secure_cookie
    response.set_cookie(value=store.start(role, identity), **session.cookie_options(secure))
    session.forget(response, session.sign_in_cookie_options(secure))
    return response


@router.post("/logout")
async def logout(request: Request):
    """End the session on the server (its cookie is worthless from now on) and drop the cookie."""
    if current_session(request) is not None:
        await checked_form(request)
        sessions(request).end(request.cookies.get(session.COOKIE))
    response = RedirectResponse("/dashboard/login", status_code=303)
    session.forget(response, session.cookie_options(request.app.state.dashboard.secure_cookie))
    return response


def safe_next(value: str | None) -> str:
    """Only redirect within the dashboard after sign-in."""
    if value and value.startswith("/dashboard/") and "//" not in value and "\\" not in value:
        return value
    return "/dashboard/worklist"


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (small; the first value of each field)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "Form too large.")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


# ------------------------------------------------------------------ per-run index


def details_index(request: Request) -> asyncio.Future:
    """Histories and recent rows for every entity, read once per scoring run (in a thread);
    started by the worklist so an account page rarely waits for it."""
    state: DashboardState = request.app.state.dashboard
    marker = request.app.state.scores.marker
    stale = state.index is None or state.index[0] != marker
    if stale or (state.index[1].done() and state.index[1].exception() is not None):
        path = request.app.state.settings.warehouse_path
        state.index = (
            marker,
            asyncio.ensure_future(run_in_threadpool(warehouse_reads.read_index, path)),
        )
    return state.index[1]


async def index_for(request: Request) -> dict:
    return await asyncio.shield(details_index(request))


# ------------------------------------------------------------------ worklist


@dataclass(frozen=True)
class Filters:
    sort: str
    segment: str | None
    owner: str | None
    band: str | None
    q: str | None

    def api(self) -> dict[str, str | None]:
        return {"segment": self.segment, "owner_rep_id": self.owner, "band": self.band}

    def query(self, **extra) -> str:
        items = {"sort": self.sort, "segment": self.segment, "owner": self.owner}
        items |= {"band": self.band, "q": self.q} | extra
        return "&".join(f"{k}={quote(str(v))}" for k, v in items.items() if v not in (None, ""))


def filters_from(
    sort: Literal["risk", "arr_at_risk"] = "risk",
    segment: Text = None,
    owner: Text = None,
    band: Literal["high", "medium", "low", ""] | None = None,
    q: Text = None,
) -> Filters:
    """The worklist's query parameters (a dependency the page and its CSV export share)."""
    return Filters(sort, segment or None, owner or None, band or None, (q or "").strip() or None)


WorklistFilters = Annotated[Filters, Depends(filters_from)]


@router.get("/worklist", response_class=HTMLResponse)
async def worklist_page(
    request: Request,
    chosen: WorklistFilters,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    """Accounts ranked by churn risk or ARR at risk, filtered, searched, paged."""
    role = need(request, Role.retention)
    details_index(request)  # warm the account pages' index in the background
    snapshot = snapshot_for(request, "churn")
    try:
        items, total, next_cursor = ranked_rows(request, chosen, cursor, page)
    except (HTTPException, ValidationError) as exc:
        return problem(request, role, as_http(exc))
    rows = [
        formatting.worklist_row(item, change_of(snapshot, item["account_id"]), rank)
        for rank, item in enumerate(items, start=(page - 1) * PAGE_SIZE + 1)
    ]
    return render(
        request,
        "worklist.html",
        role,
        rows=rows,
        total=total,
        filters=chosen,
        page=page,
        page_size=PAGE_SIZE,
        next_cursor=next_cursor,
        options=filter_options(request, snapshot),
    )


def as_http(exc: Exception) -> HTTPException:
    if isinstance(exc, HTTPException):
        return exc
    return HTTPException(422, f"Bad request: {exc}")


def ranked_rows(request: Request, chosen: Filters, cursor: str | None, page: int):
    """The API's worklist page (cursor paging), or search results ranked the same way."""
    if chosen.q:
        items, total = search_rows(request, chosen, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        return items, total, "search" if total > page * PAGE_SIZE else None
    try:
        body = worklist(request, "churn", chosen.sort, chosen.api(), PAGE_SIZE, cursor)
    except Exception as exc:  # RequestValidationError on a foreign cursor
        raise HTTPException(
            422, "That page link is out of date; start from the first page."
        ) from exc
    return body["items"], body["total"], body["next_cursor"]


def search_rows(request: Request, chosen: Filters, offset: int, limit: int):
    """Accounts whose id contains the search text (the contract has no account name), with the
    filters, ranked like the API (highest first, ties by id), offset-paged."""
    from serving.answers import item_view

    snapshot = snapshot_for(request, "churn")
    order = ranked_positions(request, snapshot, chosen)
    items = [
        AccountItem.model_validate(item_view(snapshot.record_at(int(i)), "churn")).model_dump()
        for i in order[offset : offset + limit]
    ]
    return items, len(order)


def ranked_positions(request: Request, snapshot, chosen: Filters) -> np.ndarray:
    """Row positions of the filtered (and searched) worklist in the API's order: highest first,
    ties by id. The orders and filter columns are built once per snapshot."""
    built = memo(request, snapshot)
    order = built.get(chosen.sort)
    if order is None:
        order = built[chosen.sort] = api_order(snapshot, chosen)
    mask = np.ones(len(snapshot), dtype=bool)
    if chosen.q:
        mask &= id_index(request, snapshot).__contains__(chosen.q.lower())
    for column, wanted in chosen.api().items():
        if wanted is not None:
            mask &= filter_column(request, snapshot, column) == wanted
    return order[mask[order]]


def memo(request: Request, snapshot) -> dict:
    """What the pages built from this snapshot (orders, columns, search index, CSV lines); a new
    snapshot starts empty. Kept apart from the snapshot's bounded body cache, never evicted."""
    state: DashboardState = request.app.state.dashboard
    found = state.memo.get(snapshot.target)
    if found is None or found[0] is not snapshot:
        found = state.memo[snapshot.target] = (snapshot, {})
    return found[1]


def api_order(snapshot, chosen: Filters) -> np.ndarray:
    """Every row position by the sort key, highest first (missing last), ties by id."""
    column = "probability" if chosen.sort == "risk" else "value_at_risk"
    frame = snapshot.frame
    keys = pd.to_numeric(frame[column], errors="coerce").fillna(-np.inf).to_numpy(float)
    return np.lexsort((frame["entity_id"].astype(str).to_numpy(), -keys))


def filter_column(request: Request, snapshot, column: str) -> np.ndarray:
    """A filter column's values (objects, compared with ==); all None when the snapshot lacks it."""
    built = memo(request, snapshot)
    found = built.get(f"column:{column}")
    if found is None:
        frame = snapshot.frame
        found = (
            frame[column].astype(object).to_numpy()
            if column in frame
            else np.full(len(snapshot), None, dtype=object)
        )
        built[f"column:{column}"] = found
    return found


class IdIndex:
    """Lower-cased ids of one snapshot for substring search (built once per snapshot)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.char.lower(ids.astype(str))

    def __contains__(self, text: str) -> np.ndarray:  # a mask, not a bool
        return np.char.find(self.ids, text) >= 0


def id_index(request: Request, snapshot) -> IdIndex:
    built = memo(request, snapshot)
    if "search" not in built:
        built["search"] = IdIndex(snapshot.frame["entity_id"].to_numpy())
    return built["search"]


def change_of(snapshot, entity_id: str) -> float | None:
    row = snapshot.row(entity_id)
    return None if row is None else change_in(row)


def change_in(row: dict) -> float | None:
    """The change in probability since the previous scoring (None without one)."""
    if row.get("previous_probability") is None:
        return None
    return row["probability"] - row["previous_probability"]


def filter_options(request: Request, snapshot) -> dict[str, list[str]]:
    """The segments and owners present in the snapshot (built once per snapshot)."""
    built = memo(request, snapshot)
    if "options" not in built:
        frame = snapshot.frame
        built["options"] = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist()) if c in frame else []
            for c in ("segment", "owner_rep_id")
        }
    return built["options"]


@router.get("/worklist.csv")
async def worklist_csv(request: Request, chosen: WorklistFilters):
    """The whole filtered worklist as CSV, in the page's order (rows rendered once per run)."""
    need(request, Role.retention)
    snapshot = snapshot_for(request, "churn")
    lines, prefixes = await asyncio.shield(csv_lines(request, snapshot))
    whole = chosen.q is None and not any(chosen.api().values())
    built = memo(request, snapshot)
    body = built.get(f"csv:{chosen.sort}") if whole else None
    if body is None:
        positions = ranked_positions(request, snapshot, chosen)
        body = formatting.csv_join(lines, prefixes, positions).encode()
        if whole:  # the whole worklist in either order: the same bytes until the next run
            built[f"csv:{chosen.sort}"] = body
    headers = {"Content-Disposition": 'attachment; filename="worklist.csv"'}
    return Response(body, media_type="text/csv", headers=headers)


def csv_lines(request: Request, snapshot) -> asyncio.Future:
    """Every account's CSV line (all columns but the rank), rendered once per snapshot in a
    thread; started by the worklist page so an export rarely waits for it."""
    built = memo(request, snapshot)
    if "csv" not in built or failed(built["csv"]):
        built["csv"] = asyncio.ensure_future(run_in_threadpool(render_csv_lines, snapshot))
    return built["csv"]


def render_csv_lines(snapshot) -> tuple[np.ndarray, list[str]]:
    """Each row of the snapshot (by position) as the API's worklist item with its change, and
    the rank prefixes."""
    from serving.answers import item_view
    from serving.snapshot import record

    lines = []
    for raw in snapshot.frame.to_dict("records"):
        row = record(raw)
        item = formatting.worklist_row(item_view(row, "churn"), change_in(row), 0)
        lines.append(formatting.csv_line(item))
    return np.array(lines, dtype=object), formatting.rank_prefixes(len(lines))


def failed(job: asyncio.Future) -> bool:
    return job.done() and (job.cancelled() or job.exception() is not None)


# ------------------------------------------------------------------ account and what-if

WHAT_IF_FIELDS = 6


def churn_body(request: Request, account_id: str) -> dict:
    """Exactly the body of `GET /v1/accounts/{id}/churn-risk` (stored score)."""
    row = snapshot_for(request, "churn").row(account_id)
    if row is None:
        raise HTTPException(404, f"No churn score for {account_id!r}.")
    return ChurnRisk.model_validate(score_view(row, "churn")).model_dump()


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
async def account_page(request: Request, account_id: str):
    role = need(request, Role.retention)
    return await account_response(request, role, account_id, None, {})


async def account_response(request, role, account_id: str, result, entered: dict):
    try:
        body = churn_body(request, account_id)
    except HTTPException as exc:
        return problem(request, role, exc)
    details = warehouse_reads.account_view(await index_for(request), account_id)
    history = details["history"]
    labels = [f"{pd.Timestamp(t):%Y-%m-%d}" for t in history.get("as_of", [])]
    values = [float(v) for v in history.get("probability", [])]
    chart = svg.line_chart(labels, values, f"Churn risk over time for {account_id}")
    steps = formatting.waterfall_steps(body["contributions"])
    base = body["base_probability"] or 0.0
    waterfall = svg.waterfall(
        base, steps, f"How this score of {formatting.pct(body['probability'])} adds up"
    )
    return render(
        request,
        "account.html",
        role,
        a=body,
        chart=chart,
        waterfall=waterfall,
        details={k: v for k, v in details.items() if k != "history"},
        fields=what_if_fields(request, "churn", account_id, body["contributions"]),
        result=result,
        entered=entered,
    )


def what_if_fields(request: Request, target: str, entity_id: str, reasons: list[dict]) -> list:
    """Numeric behaviours to try, the score's own reasons first, with their current values."""
    loaded = request.app.state.models.current.get(target)
    latest = request.app.state.features.record(target, entity_id)
    if loaded is None or latest is None:
        return []
    model = loaded.model
    numeric = [f for f in model.feature_names if f not in model.categories]
    ordered = [r["feature"] for r in reasons if r["feature"] in numeric]
    ordered += [f for f in numeric if f not in ordered]
    registry = request.app.state.registry
    return [
        {
            "name": name,
            "label": describe(registry, name),
            "current": plain_value(latest[name]) if name in latest else None,
        }
        for name in ordered[:WHAT_IF_FIELDS]
    ]


def describe(registry: dict, name: str) -> str:
    entry = registry.get(name)
    text = (
        entry.get("description") if isinstance(entry, dict) else getattr(entry, "description", None)
    )
    return text or name.replace("_", " ")


def plain_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and np.isnan(value) else value


@router.post("/accounts/{account_id}/what-if", response_class=HTMLResponse)
async def account_what_if(request: Request, account_id: str):
    """Run `POST /v1/what-if` with the form's changed behaviours and show the result."""
    role = need(request, Role.retention)
    form = await checked_form(request)
    entered = {k[7:]: v for k, v in form.items() if k.startswith("change:")}
    changes = {k: formatting.parse_change(v) for k, v in entered.items()}
    changes = {k: v for k, v in changes.items() if v is not None}
    result = await run_what_if(request, "churn", account_id, changes)
    return await account_response(request, role, account_id, result, entered)


async def run_what_if(request: Request, target: str, entity_id: str, changes: dict) -> dict:
    """The API's what-if result, or {'error': message} for a refusal (shown on the page)."""
    if not changes:
        return {"error": "Enter at least one new value to try."}
    try:
        payload = WhatIf(target=target, entity_id=entity_id, changes=changes)
        bundle = request.app.state.models.current
        return await run_in_threadpool(what_if.what_if, request, payload, Role.retention, bundle)
    except HTTPException as exc:
        return {"error": str(exc.detail)}
    except (ValidationError, ValueError) as exc:
        return {"error": f"Those values were refused: {exc}"}
    except Exception as exc:  # RequestValidationError: unknown or mistyped feature
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        names = ", ".join(str(e["loc"][-1]) for e in exc.errors())
        return {"error": f"Not a valid value for: {names}."}


# ------------------------------------------------------------------ opportunities


@router.get("/opportunities", response_class=HTMLResponse)
def opportunities_page(
    request: Request,
    sort: Literal["probability", "expected_value"] = "probability",
    stage: Text = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
):
    """Open deals ranked by win probability or expected value (the API's deal list)."""
    role = need(request, Role.retention)
    filters = {"stage": stage or None}
    try:
        body = worklist(request, "deal_win", sort, filters, PAGE_SIZE, cursor)
    except Exception:
        return problem(request, role, HTTPException(422, "That page link is out of date."))
    stages = request.app.state.settings.stage_order
    return render(
        request, "opportunities.html", role, body=body, sort=sort, stage=stage, stages=stages
    )


@router.get("/opportunities/{opportunity_id}", response_class=HTMLResponse)
async def opportunity_page(request: Request, opportunity_id: str):
    role = need(request, Role.retention)
    row = snapshot_for(request, "deal_win").row(opportunity_id)
    if row is None:
        return problem(
            request, role, HTTPException(404, f"No deal_win score for {opportunity_id!r}.")
        )
    body = WinProbability.model_validate(score_view(row, "deal_win")).model_dump()
    details = warehouse_reads.deal_view(await index_for(request), opportunity_id)
    norms = await run_in_threadpool(stage_norms, request)
    stages = warehouse_reads.stage_table(
        details["stages"], norms, pd.Timestamp(body["as_of"]).tz_localize(None)
    )
    history = details["history"]
    chart = svg.line_chart(
        [f"{pd.Timestamp(t):%Y-%m-%d}" for t in history.get("as_of", [])],
        [float(v) for v in history.get("probability", [])],
        f"Win probability over time for {opportunity_id}",
    )
    steps = formatting.waterfall_steps(body["contributions"])
    waterfall = svg.waterfall(
        body["base_probability"] or 0.0, steps, "How this win probability adds up"
    )
    return render(
        request, "opportunity.html", role, o=body, stages=stages, chart=chart, waterfall=waterfall
    )


def stage_norms(request: Request) -> pd.DataFrame:
    """Won deals' median days per stage, read once per scoring run."""
    state: DashboardState = request.app.state.dashboard
    marker = request.app.state.scores.marker
    if state.norms is None or state.norms[0] != marker:
        state.norms = (
            marker,
            warehouse_reads.stage_norms(request.app.state.settings.warehouse_path),
        )
    return state.norms[1]


# ------------------------------------------------------------------ managers


@router.get("/drivers", response_class=HTMLResponse)
async def drivers_page(
    request: Request,
    target: Literal["churn", "deal_win"] = "churn",
    by: Literal["segment", "stage", ""] | None = None,
):
    """`GET /v1/drivers/{target}`: family bars, top behaviours with direction, dependence."""
    role = need(request, Role.manager)
    bundle = request.app.state.models.current
    try:
        body = await drivers.get_drivers(request, target, role, bundle, by or None)
    except HTTPException as exc:
        return problem(request, role, exc)
    body = body if isinstance(body, dict) else body.model_dump()
    groups = formatting.groups_of(body["families"])
    family_charts = [
        (
            g,
            svg.bars(
                formatting.family_items(body["families"], g),
                f"Share of effect by family ({g or 'all'})",
                "%",
            ),
        )
        for g in groups
    ]
    top = [d for d in body["drivers"] if d.get("group") is None][:10] if not by else []
    per_group = (
        {g: [d for d in body["drivers"] if d.get("group") == g][:5] for g in groups} if by else {}
    )
    curves = [
        (c, svg.curve(c["x"], c["effect"], f"Effect of {c['feature']}", c.get("crossing")))
        for c in body["dependence"]
    ]
    return render(
        request,
        "drivers.html",
        role,
        d=body,
        target=target,
        by=by or "",
        family_charts=family_charts,
        top=top,
        per_group=per_group,
        curves=curves,
        direction=lambda x: formatting.direction_word(x, target),
    )


@router.get("/teams", response_class=HTMLResponse)
async def teams_page(request: Request):
    """Every team with its reps (tier, win rate against expected) and its training needs."""
    role = need(request, Role.manager)
    try:
        insights = await profiles_ready(request)
    except HTTPException as exc:
        return problem(request, role, exc)
    by_team: dict[str, list[dict]] = {}
    for profile in sorted(insights.profiles.values(), key=lambda p: p["rep_id"]):
        by_team.setdefault(profile["team"], []).append(profile)
    return render(request, "teams.html", role, by_team=by_team, teams=sorted(insights.teams))


async def profiles_ready(request: Request):
    from serving.service import insights_for

    return await insights_for(request, "profiles")


@router.get("/teams/{team}", response_class=HTMLResponse)
async def team_page(request: Request, team: str):
    """`GET /v1/teams/{team}/training-needs` and the team's reps."""
    role = need(request, Role.manager)
    try:
        needs = await teams.training_needs(request, team, role)
        insights = await profiles_ready(request)
    except HTTPException as exc:
        return problem(request, role, exc)
    members = sorted(
        (p for p in insights.profiles.values() if p["team"] == team), key=lambda p: p["rep_id"]
    )
    chart = svg.bars(
        [(n["description"], float(n["expected_revenue_gap"] or 0)) for n in needs["needs"][:8]],
        f"Expected revenue gap per behaviour, team {team}",
    )
    return render(request, "team.html", role, team=team, needs=needs, members=members, chart=chart)


@router.get("/reps/{rep_id}", response_class=HTMLResponse)
async def rep_page(request: Request, rep_id: str):
    """`GET /v1/reps/{id}/profile`: behaviours against the team, win rate against the mix."""
    role = need(request, Role.manager)
    try:
        profile = await reps.rep_profile(request, rep_id, role)
    except HTTPException as exc:
        return problem(request, role, exc)
    behaviours = [
        (b["description"], float(b["percentile"]))
        for b in profile["behaviours"]
        if b["percentile"] is not None
    ]
    chart = svg.bars(behaviours, f"{rep_id}'s percentile in the team per behaviour", "th")
    funnel = svg.bars(
        [
            ("Expected for their deal mix", 100 * float(profile["expected_win_rate"] or 0)),
            ("Actual win rate", 100 * float(profile["win_rate"] or 0)),
        ],
        "Win rate against the rate expected for the deal mix",
        "%",
    )
    return render(request, "rep.html", role, p=profile, chart=chart, funnel=funnel)


@router.get("/contribution", response_class=HTMLResponse)
async def contribution_page(request: Request):
    """`GET /v1/reports/contribution`: service against sales, in revenue, with the classic KPIs."""
    role = need(request, Role.manager)
    try:
        report = await reports.contribution(request, role)
    except HTTPException as exc:
        return problem(request, role, exc)
    items = []
    for row in report["by_team"]:
        items += [
            (f"{row['team']}: service", float(row["service_value"] or 0)),
            (f"{row['team']}: sales", float(row["sales_value"] or 0)),
        ]
    chart = svg.bars(items, "Expected revenue credited to service and sales behaviours, per team")
    return render(request, "contribution.html", role, r=report, chart=chart)


# ------------------------------------------------------------------ models


@router.get("/models", response_class=HTMLResponse)
async def models_page(request: Request):
    """`GET /v1/models` with each champion's backtest metrics from the registry, its reliability
    curve, and a link to the MLflow UI."""
    role = need(request, Role.retention)
    state: DashboardState = request.app.state.dashboard
    body = models_view(request.app.state.models.current)
    curves = []
    for m in body["models"]:
        table = await run_in_threadpool(state.reliability, m["target"], m["version"])
        backtest = await run_in_threadpool(state.backtest, m["target"], m["version"])
        m = {**m, "metrics": {**m["metrics"], **backtest}}
        chart = None
        if table is not None and len(table):
            chart = svg.curve(
                [float(x) for x in table["predicted"]],
                [float(y) for y in table["observed"]],
                f"Reliability of {m['target']} v{m['version']}: predicted against observed",
                diagonal=True,
            )
        curves.append((m, chart))
    return render(request, "models.html", role, body=body, curves=curves, mlflow_ui=state.mlflow_ui)
