"""The API's description, for a valid key only: it names every route and field, so it is not for
anyone who can reach the port. A program fetches `/openapi.json` with its key as it calls the API;
a browser reads the description signed in to the dashboard (`/dashboard/docs`, where `/docs` and
`/redoc` lead), since a page cannot send a key header."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse

from serving.deps import Retention

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi(request: Request, _: Retention) -> JSONResponse:
    # On the event loop, as FastAPI's own route is: the app builds and caches the schema once.
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def swagger() -> RedirectResponse:
    return RedirectResponse("/dashboard/docs", status_code=307)


@router.get("/redoc")
def redoc() -> RedirectResponse:
    return RedirectResponse("/dashboard/redoc", status_code=307)
