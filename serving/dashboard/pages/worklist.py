"""The retention worklist: accounts ranked, filtered, searched and paged, and its CSV export."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from serving.auth import Role
from serving.dashboard import formatting
from serving.dashboard.pages.core import (
    PAGE_SIZE,
    DashboardState,
    Text,
    details_index,
    need,
    problem,
    render,
)
from serving.deps import ServiceDep, snapshot_for
from serving.schemas.responses import AccountItem
from serving.service import worklist
from serving.state import ServiceState

router = APIRouter(prefix="/dashboard", include_in_schema=False)


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
    service: ServiceDep,
    chosen: WorklistFilters,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    """Accounts ranked by churn risk or ARR at risk, filtered, searched, paged."""
    role = need(request, Role.retention)
    details_index(service)  # warm the account pages' index in the background
    snapshot = snapshot_for(service, "churn")
    try:
        items, total, next_cursor = ranked_rows(service, chosen, cursor, page)
    except (HTTPException, ValidationError) as exc:
        return problem(request, role, as_http(exc))
    rows = [
        formatting.worklist_row(item, item.get("change"), rank)
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
        options=filter_options(service, snapshot),
        bands=snapshot.summary["bands"],
    )


def as_http(exc: Exception) -> HTTPException:
    if isinstance(exc, HTTPException):
        return exc
    return HTTPException(422, f"Bad request: {exc}")


def ranked_rows(service: ServiceState, chosen: Filters, cursor: str | None, page: int):
    """The API's worklist page (cursor paging; a page number without a cursor, as in a link
    typed or kept, starts after that many pages), or search results ranked the same way."""
    if chosen.q:
        items, total = search_rows(service, chosen, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        return items, total, "search" if total > page * PAGE_SIZE else None
    offset = 0 if cursor else (page - 1) * PAGE_SIZE
    try:
        body = worklist(service, "churn", chosen.sort, chosen.api(), PAGE_SIZE, cursor, offset)
    except Exception as exc:  # RequestValidationError on a foreign cursor
        raise HTTPException(
            422, "That page link is out of date; start from the first page."
        ) from exc
    return body["items"], body["total"], body["next_cursor"]


def search_rows(service: ServiceState, chosen: Filters, offset: int, limit: int):
    """Accounts whose id contains the search text (the contract has no account name), with the
    filters, ranked like the API (highest first, ties by id), offset-paged."""
    from serving.answers import item_view

    snapshot = snapshot_for(service, "churn")
    order = ranked_positions(service, snapshot, chosen)
    items = [
        AccountItem.model_validate(item_view(snapshot.record_at(int(i)), "churn")).model_dump()
        for i in order[offset : offset + limit]
    ]
    return items, len(order)


def ranked_positions(service: ServiceState, snapshot, chosen: Filters) -> np.ndarray:
    """Row positions of the filtered (and searched) worklist in the API's order: highest first,
    ties by id. The orders and filter columns are built once per snapshot."""
    built = memo(service, snapshot)
    order = built.get(chosen.sort)
    if order is None:
        order = built[chosen.sort] = api_order(snapshot, chosen)
    mask = np.ones(len(snapshot), dtype=bool)
    if chosen.q:
        mask &= id_index(service, snapshot).__contains__(chosen.q.lower())
    for column, wanted in chosen.api().items():
        if wanted is not None:
            mask &= filter_column(service, snapshot, column) == wanted
    return order[mask[order]]


def memo(service: ServiceState, snapshot) -> dict:
    """What the pages built from this snapshot (orders, columns, search index, CSV lines); a new
    snapshot starts empty. Kept apart from the snapshot's bounded body cache, never evicted."""
    state: DashboardState = service.dashboard
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


def filter_column(service: ServiceState, snapshot, column: str) -> np.ndarray:
    """A filter column's values (objects, compared with ==); all None when the snapshot lacks it."""
    built = memo(service, snapshot)
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


def id_index(service: ServiceState, snapshot) -> IdIndex:
    built = memo(service, snapshot)
    if "search" not in built:
        built["search"] = IdIndex(snapshot.frame["entity_id"].to_numpy())
    return built["search"]


def filter_options(service: ServiceState, snapshot) -> dict[str, list[str]]:
    """The segments and owners present in the snapshot (built once per snapshot)."""
    built = memo(service, snapshot)
    if "options" not in built:
        frame = snapshot.frame
        built["options"] = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist()) if c in frame else []
            for c in ("segment", "owner_rep_id")
        }
    return built["options"]


@router.get("/worklist.csv")
async def worklist_csv(request: Request, service: ServiceDep, chosen: WorklistFilters):
    """The whole filtered worklist as CSV, in the page's order (rows rendered once per run)."""
    need(request, Role.retention)
    snapshot = snapshot_for(service, "churn")
    lines, prefixes = await asyncio.shield(csv_lines(service, snapshot))
    whole = chosen.q is None and not any(chosen.api().values())
    built = memo(service, snapshot)
    body = built.get(f"csv:{chosen.sort}") if whole else None
    if body is None:
        positions = ranked_positions(service, snapshot, chosen)
        body = formatting.csv_join(lines, prefixes, positions).encode()
        if whole:  # the whole worklist in either order: the same bytes until the next run
            built[f"csv:{chosen.sort}"] = body
    headers = {"Content-Disposition": 'attachment; filename="worklist.csv"'}
    return Response(body, media_type="text/csv", headers=headers)


def csv_lines(service: ServiceState, snapshot) -> asyncio.Future:
    """Every account's CSV line (all columns but the rank), rendered once per snapshot in a
    thread; started by the worklist page so an export rarely waits for it."""
    built = memo(service, snapshot)
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
        item = item_view(row, "churn")
        item = formatting.worklist_row(item, item["change"], 0) | {"actions": row["actions"]}
        lines.append(formatting.csv_line(item))
    return np.array(lines, dtype=object), formatting.rank_prefixes(len(lines))


def failed(job: asyncio.Future) -> bool:
    return job.done() and (job.cancelled() or job.exception() is not None)
