"""The service layer the routers, the fast path and the dashboard share: stored score lookups,
live scoring, worklists and the manager views."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from fastapi import HTTPException, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from barometer.scoring.scores import change_since, score_now
from explain.wording import CAVEAT
from serving.answers import item_view, live_row, score_view
from serving.deps import model_for, snapshot_for
from serving.snapshot import CursorError, utc
from serving.state import ServiceState

NOT_FOUND = {404: {"description": "Unknown id (never scored, or no features)."}}


def stored_score(service: ServiceState, target: str, entity_id: str) -> Response:
    """The latest stored score of one entity: its JSON bytes, built and validated by the target's
    response schema with the snapshot (`serving.bodies`; `serving.fastpath` sends the churn ones
    before routing)."""
    found = snapshot_for(service, target).body(entity_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No {target} score for {entity_id!r}.")
    service.metrics.scores.labels(target, "stored").observe(found.probability)
    return Response(found.body, media_type="application/json")


async def live_response(
    service: ServiceState, target: str, entity_id: str, schema: type[BaseModel]
) -> Response:
    """`live_score` with the bundle current on arrival. On the event loop: ~1-2 ms of CPU that a
    worker thread would only make wait for the GIL (tail latency). The first request after a swap
    that finds the rows unprepared runs in a thread instead, so the loop never waits for that."""
    loaded = model_for(service.models.current, target)
    if service.live.ready(loaded, service.features):
        return live_score(service, loaded, target, entity_id, schema)
    return await run_in_threadpool(live_score, service, loaded, target, entity_id, schema)


def live_score(
    state: ServiceState, loaded, target: str, entity_id: str, schema: type[BaseModel]
) -> Response:
    """`live_body` as a response; 404 when the entity has no latest feature row."""
    found = live_body(state, loaded, target, entity_id, schema)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No features for {target} {entity_id!r}.")
    return Response(found, media_type="application/json")


def live_body(
    state: ServiceState, loaded, target: str, entity_id: str, schema: type[BaseModel]
) -> bytes | None:
    """One entity scored now from its latest feature row with `loaded` (the champion current when
    the request arrived), as validated JSON bytes; None without a feature row. `state` is the
    service's (features, registry, snapshots, metrics); `serving.fastpath` calls this too."""
    row = live_row_of(state, loaded, target, entity_id)
    if row is None:
        return None
    state.metrics.scores.labels(target, "live").observe(row["probability"])
    return schema.model_validate(score_view(row, target, live=True)).model_dump_json().encode()


def live_row_of(state: ServiceState, loaded, target: str, entity_id: str) -> dict | None:
    """The entity scored now (`barometer.scoring.scores.score_now`: the batch job's rules and the
    stored run's bands) as a stored-like row; its change is against the stored score of the same
    feature row. None without a feature row."""
    rows = state.live.rows(loaded, state.features)
    found = None if rows is None else rows.row(entity_id)
    if found is None:
        return None
    matrix, values = found
    snapshot = state.scores.current[target]
    tried = state.live.tried(loaded, rows, state.registry)
    scored = score_now(loaded.model, matrix, values, snapshot.cuts, state.registry, tried)
    stored = snapshot.row(entity_id)
    group = None if stored is None else stored.get("stage" if target == "deal_win" else "segment")
    peers = snapshot.peers(entity_id, group) if len(snapshot) else None
    as_of = state.features.as_of(target, entity_id)
    extra = {
        "as_of": utc(as_of) or datetime.now(UTC),
        "data_through": snapshot.summary["data_through"],
        "percentile": percentile_among(peers, scored["probability"]),
    }
    if stored is not None:
        extra |= {
            "previous_as_of": stored["as_of"],
            "previous_probability": stored["probability"],
            "previous_model_version": stored["model_version"],
            "change_reasons": change_since(
                stored["probability"],
                stored["model_version"],
                scored["probability"],
                loaded.version,
                target,
                state.registry,
            ),
        }
    return live_row(stored, entity_id, scored, loaded.version, extra)


def percentile_among(peers, probability: float) -> float | None:
    """The probability's percentile (0-100] among its peers' sorted stored probabilities."""
    if peers is None or not len(peers):
        return None
    return round(float(np.searchsorted(peers, probability, side="right")) / len(peers) * 100, 1)


def actions_answer(service: ServiceState, target: str, entity_id: str) -> dict:
    """The entity's suggested behaviours from its stored score (none for a low-risk account);
    404 when it was not scored."""
    row = snapshot_for(service, target).row(entity_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No {target} score for {entity_id!r}.")
    return {
        "entity_id": entity_id,
        "as_of": row["as_of"],
        "data_through": row.get("data_through"),
        "model_version": row["model_version"],
        "actions": row.get("actions") or [],
        "caveat": CAVEAT,
    }


def worklist(
    service: ServiceState,
    target: str,
    sort: str,
    filters: dict,
    limit: int,
    cursor,
    offset: int = 0,
):
    """A page of the target's worklist (after `cursor`, or after `offset` rows without one), with
    the run's as-of date, the data's last event and its bands."""
    snapshot = snapshot_for(service, target)
    try:
        page = snapshot.page(sort, filters, limit, cursor, offset)
    except CursorError as exc:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "cursor"), "msg": str(exc), "input": cursor}]
        ) from exc
    items = [item_view(row, target) for row in page.rows]
    return {
        "items": items,
        "next_cursor": page.next_cursor,
        "total": page.total,
        **snapshot.summary,
    }


def worklist_response(
    service: ServiceState,
    target: str,
    sort: str,
    filters: dict,
    limit: int,
    cursor: str | None,
    schema: type[BaseModel],
) -> Response:
    """A `worklist` page as JSON bytes, built once per snapshot and query (bounded cache)."""

    def build() -> str:
        page = worklist(service, target, sort, filters, limit, cursor)
        return schema.model_validate(page).model_dump_json()

    key = ("page", target, sort, *filters.values(), limit, cursor)
    body = snapshot_for(service, target).cached(key, build)
    return Response(body, media_type="application/json")


UNAVAILABLE = {
    404: {"description": "Unknown rep or team."},
    503: {"description": "Not computable yet: no model, or the warehouse lacks the tables."},
}


async def insights_for(service: ServiceState, part: str):
    """This snapshot's manager views (`serving.insights`); 503 naming what is missing when
    `part` cannot be computed."""
    try:
        insights = await service.insights.get(service)
    except Exception as exc:  # noqa: BLE001 - e.g. the warehouse busy; the next request retries
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"Manager views are unavailable right now: {exc}"
        ) from exc
    if part in insights.errors:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, unavailable(part, insights.errors[part])
        )
    return insights


# The manager views as a manager names them (`explain.managers.NEEDS` has their tables).
VIEW_WORDS = {
    "diagnosis": "Rep diagnosis and the team views",
    "contribution": "Service contribution",
    "pipeline": "The pipeline view",
}


def unavailable(part: str, reason: str) -> str:
    """Why a manager view cannot be shown, naming the view in words, not its internal key."""
    return f"{VIEW_WORDS.get(part, part.replace('_', ' '))} cannot be shown: {reason.rstrip('.')}."


def attrition_for(service: ServiceState):
    """The current scoring run's rep-attrition view (`serving.attrition`) and the facts every
    answer carries; 503 when the warehouse cannot be read right now."""
    try:
        view = service.attrition.get(service.settings, service.scores.marker)
    except Exception as exc:  # noqa: BLE001 - e.g. the warehouse busy; the next request retries
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"Rep attrition is unavailable right now: {exc}"
        ) from exc
    return view, view.facts() | {"horizon_days": service.settings.rep_attrition_horizon_days}
