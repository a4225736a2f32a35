"""Response security headers and the dashboard's same-origin check.

Every response carries `nosniff`, `X-Frame-Options: DENY`, a referrer policy and a
Content-Security-Policy chosen by path: JSON answers may load nothing; the dashboard's pages load
only their own stylesheet (no script, no inline style; `tests/dashboard` checks the pages pass it);
the API description's pages (`/dashboard/docs`, `/dashboard/redoc`, behind a session) load
FastAPI's Swagger UI and ReDoc from their CDN. Dashboard
pages other than static files are also `no-store`, so a signed-out browser cannot show them from
its cache. The header lists are built once; `ObservabilityMiddleware` appends them to every
response and the churn-risk fast path sends them with its stored bytes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DASHBOARD_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src https://fonts.gstatic.com; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PATHS = ("/dashboard/docs", "/dashboard/redoc")


def header_list(csp: str, *extra: tuple[bytes, bytes]) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        *extra,
    )


API_HEADERS = header_list(API_CSP)
DASHBOARD_HEADERS = header_list(DASHBOARD_CSP, (b"cache-control", b"no-store"))
STATIC_HEADERS = header_list(DASHBOARD_CSP)
DOCS_HEADERS = header_list(DOCS_CSP, (b"cache-control", b"no-store"))


def headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers of a response to `path` (raw ASGI header pairs)."""
    if path.startswith(DOCS_PATHS):
        return DOCS_HEADERS
    if path.startswith("/dashboard"):
        return STATIC_HEADERS if path.startswith("/dashboard/static/") else DASHBOARD_HEADERS
    return API_HEADERS


def same_origin(headers, host: str | None) -> bool:
    """Whether a browser's POST comes from this site: its `Origin` (else its `Referer`) names the
    host and port the request was sent to. A request with neither, or `Origin: null`, is refused:
    every browser sends `Origin` with a form POST. The scheme is not compared, so a TLS proxy in
    front works; the proxy must pass the `Host` header through."""
    claimed = headers.get("origin") or headers.get("referer")
    if not claimed or not host or claimed == "null":
        return False
    try:
        return urlsplit(claimed).netloc.lower() == host.lower()
    except ValueError:
        return False
