"""The API's description for a browser signed in to the dashboard: Swagger UI and ReDoc, reading
the description through the session (`serving.routers.docs` serves it to keys)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from serving.auth import Role
from serving.dashboard.pages.core import need

router = APIRouter(prefix="/dashboard", include_in_schema=False)
DESCRIPTION = "/dashboard/openapi.json"


@router.get("/openapi.json")
async def description(request: Request) -> JSONResponse:
    need(request, Role.retention)
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
def swagger(request: Request) -> HTMLResponse:
    need(request, Role.retention)
    return get_swagger_ui_html(openapi_url=DESCRIPTION, title=f"{request.app.title} API")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    need(request, Role.retention)
    return get_redoc_html(openapi_url=DESCRIPTION, title=f"{request.app.title} API")
