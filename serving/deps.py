"""Typed dependencies: the caller's role, the model bundle and score snapshot for this request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from serving.auth import Role
from serving.bundle import LoadedModel, ModelBundle
from serving.snapshot import ScoreSnapshot

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Your API key.")
bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`.")

ERRORS = {
    401: {"description": "Missing or unknown API key."},
    403: {"description": "The key's role may not use this route."},
}


def require(minimum: Role):
    """A dependency admitting keys whose role is at least `minimum` (401 / 403 otherwise).

    Async (it never blocks), so it runs on the event loop instead of costing a thread hop."""

    async def check(
        request: Request,
        x_api_key: Annotated[str | None, Depends(api_key_header)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Role:
        key = x_api_key or (credentials.credentials if credentials else None)
        role = request.app.state.keyring.role_of(key)
        if role is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Missing or unknown API key: send `X-API-Key` or `Authorization: Bearer`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.role = role.name
        if role < minimum:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"This route needs the {minimum.name} role or higher."
            )
        return role

    return check


Retention = Annotated[Role, Depends(require(Role.retention))]
Manager = Annotated[Role, Depends(require(Role.manager))]
Admin = Annotated[Role, Depends(require(Role.admin))]


async def get_bundle(request: Request) -> ModelBundle:
    """The bundle current when the request arrived; the whole response uses this one."""
    return request.app.state.models.current


BundleDep = Annotated[ModelBundle, Depends(get_bundle)]


def model_for(bundle: ModelBundle, target: str) -> LoadedModel:
    """The champion for `target` in this bundle, or 503 when none is loaded."""
    loaded = bundle.get(target)
    if loaded is None:
        reason = bundle.errors.get(target, "not loaded yet")
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"No {target} model is loaded ({reason})."
        )
    return loaded


def snapshot_for(request: Request, target: str) -> ScoreSnapshot:
    return request.app.state.scores.current[target]
