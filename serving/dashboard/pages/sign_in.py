"""Sign-in and sign-out: the API's keys start a server-side session."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from serving.dashboard import session
from serving.dashboard.pages.core import (
    Text,
    checked_form,
    current_session,
    render,
    role_of,
    sessions,
)
from serving.deps import ServiceDep
from serving.state import ServiceState

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def home(request: Request):
    return RedirectResponse("/dashboard/worklist", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, service: ServiceDep, next: Text = None):
    return sign_in_page(request, service, safe_next(next), None, 200)


def sign_in_page(
    request: Request, service: ServiceState, target: str, error: str | None, status: int
) -> Response:
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
        secure = service.dashboard.secure_cookie
        response.set_cookie(value=nonce, **session.sign_in_cookie_options(secure))
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, service: ServiceDep):
    """Check the key against the API's keyring; start a session with the role and the key's id."""
    form = await checked_form(request, sign_in=True)
    key, target = form.get("key", ""), safe_next(form.get("next"))
    found = service.keyring.match(key.strip())
    if found is None:
        error = "That key is not known. Paste the API key you were given."
        return sign_in_page(request, service, target, error, 401)
    identity, role = found
    store = sessions(request)
    store.end(request.cookies.get(session.COOKIE))  # a new sign-in replaces the old session
    response = RedirectResponse(target, status_code=303)
    secure = service.dashboard.secure_cookie
    response.set_cookie(value=store.start(role, identity), **session.cookie_options(secure))
    session.forget(response, session.sign_in_cookie_options(secure))
    return response


@router.post("/logout")
async def logout(request: Request, service: ServiceDep):
    """End the session on the server (its cookie is worthless from now on) and drop the cookie."""
    if current_session(request) is not None:
        await checked_form(request)
        sessions(request).end(request.cookies.get(session.COOKIE))
    response = RedirectResponse("/dashboard/login", status_code=303)
    session.forget(response, session.cookie_options(service.dashboard.secure_cookie))
    return response


def safe_next(value: str | None) -> str:
    """Only redirect within the dashboard after sign-in."""
    if value and value.startswith("/dashboard/") and "//" not in value and "\\" not in value:
        return value
    return "/dashboard/worklist"
