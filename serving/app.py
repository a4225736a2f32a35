"""The FastAPI app factory: models, scores and the registry load once, in the lifespan.

`create_app(settings)` builds the service; tests pass their own model provider and feature source.
A background task notices promotions (a new champion version) and new scoring runs, and swaps them
in without dropping requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from barometer import __version__
from barometer.model.store import ChampionProvider, ModelProvider
from barometer.scoring.history import latest_run, latest_scores
from barometer.scoring.latest_features import FrameFeatureSource, load_latest_features
from barometer.scoring.reasons import load_registry
from barometer.settings import Settings
from features.warehouse import WarehouseBusyError, connect
from serving import monitoring
from serving.auth import NO_KEYS, NoKeysError, load_keyring
from serving.bundle import TARGETS, BundleHolder
from serving.dashboard import mount as mount_dashboard
from serving.fastpath import StoredScoreFastPath
from serving.heap import settle_heap, thaw_heap
from serving.observability import LOGGER, ObservabilityMiddleware
from serving.routers import API_PREFIX, accounts, api_routers, docs, health
from serving.routers.accounts import churn_risk
from serving.security import headers_for
from serving.snapshot import ScoreSnapshot, empty_snapshot
from serving.state import ScoreHolder, ServiceState

MAX_BODY_BYTES = 1_000_000
log = logging.getLogger(LOGGER)


@dataclass
class ServeOptions:
    """How the service runs; defaults suit production, tests shorten the poll interval."""

    targets: tuple[str, ...] = TARGETS
    poll_seconds: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ()
    access_log: bool = True
    dashboard: bool = True  # tests that mount it with their own options turn this off
    fast_path: bool = True  # cached stored churn-risk bodies answered before routing
    secure_cookies: bool = False  # `barometer serve`: on unless bound to loopback (see `cli`)


def read_scores(settings: Settings, targets) -> tuple[tuple, dict, FrameFeatureSource]:
    """Scores and latest feature rows from the warehouse (one short read-only connection)."""
    if not settings.warehouse_path.exists():
        return (), {t: empty_snapshot(t) for t in targets}, FrameFeatureSource({})
    with connect(settings.warehouse_path, read_only=True) as con:
        marker = scores_marker(con)
        snapshots = {
            t: ScoreSnapshot(t, latest_scores(con, t), run=latest_run(con, t)) for t in targets
        }
    return marker, snapshots, load_latest_features(settings.warehouse_path, targets)


def scores_marker(con) -> tuple:
    """Changes whenever a scoring run is written."""
    from features.warehouse import table_exists

    if not table_exists(con, "scores"):
        return ()
    return tuple(con.execute("select count(*), max(scored_at) from scores").fetchone())


def refresh_scores(app: FastAPI) -> bool:
    """Reload the snapshots when the scores table changed; True when swapped."""
    state: ServiceState = app.state.service
    if state.load_scores is None or not state.settings.warehouse_path.exists():
        return False
    with connect(state.settings.warehouse_path, read_only=True) as con:
        marker = scores_marker(con)
    if marker == state.scores.marker:
        return False
    marker, snapshots, features = state.load_scores(state.settings, state.models.targets)
    state.scores.current, state.scores.marker, state.features = snapshots, marker, features
    for target, snapshot in snapshots.items():
        state.metrics.scored_entities.labels(target).set(len(snapshot))
    return True


def refresh_monitoring(app: FastAPI) -> None:
    """What `barometer monitor` wrote, reloaded when it wrote since; gauges for the champions."""
    monitoring.update(app.state.service)


async def watch(app: FastAPI, seconds: float) -> None:
    """Poll for promotions and new scoring runs; errors are logged, never fatal."""
    state: ServiceState = app.state.service
    while True:
        await asyncio.sleep(seconds)
        try:
            if reload_keys(app):
                log.info("API keys reloaded", extra={"keys": len(state.keyring)})
            if await run_in_threadpool(state.models.refresh_if_promoted):
                versions = state.models.current.versions()
                state.metrics.set_models(versions)
                log.info("models reloaded", extra={"versions": versions})
                settle_heap()
            if await run_in_threadpool(refresh_scores, app):
                log.info("scores reloaded")
                settle_heap()
            await run_in_threadpool(refresh_monitoring, app)
            await run_in_threadpool(warm_live, app)  # no-op unless models or features changed
            state.insights.ensure(state)  # recomputes only when models or scores changed
        except WarehouseBusyError:
            continue
        except Exception:  # noqa: BLE001 - keep serving the current state
            log.exception("background refresh failed")


def warm_live(app: FastAPI) -> None:
    """Prepare every loaded model's latest rows for on-demand scoring (once, not per request)."""
    state: ServiceState = app.state.service
    state.live.warm(state.models.current, state.features)


def make_lifespan(options: ServeOptions):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state: ServiceState = app.state.service
        state.registry = await run_in_threadpool(load_registry)
        bundle = await run_in_threadpool(state.models.reload)
        state.metrics.set_models(bundle.versions())
        with contextlib.suppress(WarehouseBusyError):
            await run_in_threadpool(refresh_scores, app)
        with contextlib.suppress(WarehouseBusyError):
            await run_in_threadpool(refresh_monitoring, app)
        await run_in_threadpool(warm_live, app)
        state.insights.ensure(state)  # manager views: computed in the background, once per snapshot
        settle_heap()
        task = asyncio.create_task(watch(app, options.poll_seconds))
        log.info(
            "service started", extra={"models": bundle.versions(), "errors": dict(bundle.errors)}
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            thaw_heap()

    return lifespan


def create_app(
    settings: Settings,
    *,
    provider: ModelProvider | None = None,
    options: ServeOptions | None = None,
    load_scores: Callable | None = read_scores,
    features: FrameFeatureSource | None = None,
) -> FastAPI:
    """Build the service; `NoKeysError` without a single API key (nothing is served without one).
    `provider` defaults to MLflow champions; `load_scores=None` keeps the scores given by a test
    (set on `app.state.service.scores`)."""
    options = options or ServeOptions()
    app = FastAPI(
        title="Barometer",
        version=__version__,
        summary="Churn risk and deal-win probability with their reasons.",
        lifespan=make_lifespan(options),
        docs_url=None,  # served by `serving.routers.docs`, behind a key or a session
        redoc_url=None,
        openapi_url=None,
    )
    keyring = load_keyring(settings.api_keys, settings.api_keys_file)
    if not len(keyring):
        raise NoKeysError(NO_KEYS)
    state = app.state.service = ServiceState(
        settings=settings,
        keyring=keyring,
        keys_marker=keys_marker(settings.api_keys_file),
        models=BundleHolder(provider or ChampionProvider(settings), options.targets),
        scores=ScoreHolder(options.targets),
        features=features or FrameFeatureSource({}),
        load_scores=load_scores,
    )
    app.include_router(health.router)
    app.include_router(docs.router)
    for router in api_routers():  # one level of routers, not two: less matching per request
        app.include_router(router, prefix=API_PREFIX)
    app.openapi = lambda: with_bearer_alternative(FastAPI.openapi(app))
    app.add_exception_handler(Exception, unexpected_error)
    if options.fast_path and "churn" in options.targets:
        route = route_of(accounts.router, churn_risk)
        app.add_middleware(StoredScoreFastPath, state=state, route=route)
    if options.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
        )
    app.add_middleware(
        ObservabilityMiddleware,
        metrics=state.metrics,
        max_body_bytes=options.max_body_bytes,
        access_log=options.access_log,
    )
    if options.dashboard:
        mount_dashboard(app, secure_cookie=options.secure_cookies)
    return app


def keys_marker(path) -> tuple | None:
    """Changes when the keys file is edited (None without one, or while it is missing)."""
    if path is None:
        return None
    try:
        found = Path(path).stat()
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size, found.st_ino)


def reload_keys(app: FastAPI) -> bool:
    """Reload the keyring when the keys file changed: a removed key stops working, and dashboard
    sessions signed in with it end. A broken or empty file keeps the current keys (logged)."""
    state: ServiceState = app.state.service
    marker = keys_marker(state.settings.api_keys_file)
    if marker is None or marker == state.keys_marker:
        return False
    try:
        keyring = load_keyring(state.settings.api_keys, state.settings.api_keys_file)
    except (OSError, ValueError) as exc:
        log.error("keys file not reloaded", extra={"error": str(exc)})
        return False
    state.keys_marker = marker
    if not len(keyring):
        log.error("keys file not reloaded", extra={"error": "it holds no key"})
        return False
    state.keyring = keyring
    return True


def route_of(router, endpoint: Callable):
    """The route of `router` serving `endpoint`, as routing puts it in the scope (or None)."""
    return next((r for r in router.routes if getattr(r, "endpoint", None) is endpoint), None)


BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "`Authorization: Bearer <API key>`.",
}


def with_bearer_alternative(spec: dict) -> dict:
    """Document `Authorization: Bearer` beside `X-API-Key` wherever a key is required (one
    `RoleCheck` dependency accepts both; see `serving.deps`). Idempotent."""
    schemes = spec.get("components", {}).get("securitySchemes", {})
    if "APIKeyHeader" not in schemes:
        return spec
    schemes.setdefault("HTTPBearer", BEARER_SCHEME)
    for operations in spec["paths"].values():
        for operation in operations.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and {"APIKeyHeader": []} in security and {"HTTPBearer": []} not in security:
                security.append({"HTTPBearer": []})
    return spec


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug, not bad input: log it with the request id and answer a plain 500."""
    request_id = request.scope.get("state", {}).get("request_id")
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    headers = {name.decode(): value.decode() for name, value in headers_for(request.url.path)}
    return JSONResponse(
        {"detail": f"Internal error (request id {request_id})."}, status_code=500, headers=headers
    )
