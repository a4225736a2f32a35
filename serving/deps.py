"""Typed dependencies: the service's state, the caller's role, the model bundle and score snapshot
for this request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from barometer.model.store import LoadedModel
from serving.auth import Role, key_from_headers
from serving.bundle import ModelBundle
from serving.snapshot import ScoreSnapshot
from serving.state import ServiceState

ERRORS = {
    401: {"description": "Missing or unknown API key."},
    403: {"description": "The key's role may not use this route."},
}


class RoleCheck(APIKeyHeader):
    """One dependency per request: the key from `X-API-Key` (or `Authorization: Bearer`), its role,
    and 401 / 403 unless the role is at least `minimum`.

    A security scheme itself (so OpenAPI documents it; `serving.app` adds the bearer alternative)
    rather than a function over `APIKeyHeader` and `HTTPBearer` sub-dependencies: FastAPI resolves
    one dependency instead of three on every request. Async, so it runs on the event loop."""

    def __init__(self, minimum: Role) -> None:
        super().__init__(
            name="X-API-Key",
            scheme_name="APIKeyHeader",
            auto_error=False,
            description="Your API key.",
        )
        self.minimum = minimum

    async def __call__(self, request: Request) -> Role:  # type: ignore[override]
        headers = request.headers
        key = key_from_headers(headers.get("x-api-key"), headers.get("authorization"))
        role = request.app.state.service.keyring.role_of(key)
        if role is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Missing or unknown API key: send `X-API-Key` or `Authorization: Bearer`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.role = role.name
        if role < self.minimum:
            needed = self.minimum.name
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"This route needs the {needed} role or higher."
            )
        return role


def require(minimum: Role) -> RoleCheck:
    """A dependency admitting keys whose role is at least `minimum` (401 / 403 otherwise)."""
    return RoleCheck(minimum)


Retention = Annotated[Role, Depends(require(Role.retention))]
Manager = Annotated[Role, Depends(require(Role.manager))]
Admin = Annotated[Role, Depends(require(Role.admin))]


async def get_service(request: Request) -> ServiceState:
    """The service's state (`serving.state`), put on the app by `create_app`."""
    return request.app.state.service


ServiceDep = Annotated[ServiceState, Depends(get_service)]


async def get_bundle(service: ServiceDep) -> ModelBundle:
    """The bundle current when the request arrived; the whole response uses this one."""
    return service.models.current


BundleDep = Annotated[ModelBundle, Depends(get_bundle)]


def model_for(bundle: ModelBundle, target: str) -> LoadedModel:
    """The champion for `target` in this bundle, or 503 when none is loaded."""
    loaded = bundle.get(target)
    if loaded is None and target in bundle.absent:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"No {target} model was trained: {bundle.absent[target]}",
        )
    if loaded is None:
        reason = bundle.errors.get(target, "not loaded yet")
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"No {target} model is loaded ({reason})."
        )
    return loaded


def snapshot_for(service: ServiceState, target: str) -> ScoreSnapshot:
    return service.scores.current[target]
