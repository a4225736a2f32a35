"""The stored churn-risk fast path: the stored bytes are the routed answer, validated by the
schema, refreshed with each scoring run, and every other request falls through to the routes."""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import datetime

import pytest

from barometer.scoring.history import append_scores
from barometer.scoring.scores import previous_of, score_rows
from features.warehouse import connect
from serving.app import refresh_scores, route_of
from serving.fastpath import StoredScoreFastPath, entity_from_path
from serving.routers import accounts
from serving.routers.accounts import churn_risk
from serving.schemas.responses import ChurnRisk
from tests.serving.conftest import build_workspace, context_for, feature_rows, keyed_settings

ACCOUNT = "A007"
PATH = f"/v1/accounts/{ACCOUNT}/churn-risk"


def call(middleware, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""):
    """One request through `middleware` alone: (status, body, whether it reached the routes)."""
    reached, sent = [], {}

    async def routed(scope, receive, send) -> None:
        reached.append(scope["path"])

    async def send(message) -> None:
        sent.setdefault(message["type"], message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query}
    asyncio.run(middleware_with(middleware, routed)(scope | {"headers": headers}, None, send))
    start = sent.get("http.response.start", {})
    return start.get("status"), sent.get("http.response.body", {}).get("body"), bool(reached)


def middleware_with(middleware: StoredScoreFastPath, inner) -> StoredScoreFastPath:
    return StoredScoreFastPath(inner, middleware.state, middleware.route)


@pytest.fixture
def pair(new_client):
    """A client with the fast path and one without, on the same workspace."""
    with new_client() as fast, new_client(fast_path=False) as routed:
        yield fast, routed


def test_stored_bytes_equal_the_routed_answer_and_validate(pair, headers) -> None:
    fast, routed = pair
    first = fast.get(PATH, headers=headers["retention"])
    second = fast.get(PATH, headers=headers["retention"])
    uncached = routed.get(PATH, headers=headers["retention"])
    assert first.status_code == second.status_code == uncached.status_code == 200
    assert first.content == second.content == uncached.content
    assert second.headers["content-type"] == uncached.headers["content-type"]
    assert second.headers["content-length"] == str(len(uncached.content))
    assert second.headers["x-request-id"]
    parsed = ChurnRisk.model_validate_json(second.content)
    assert parsed.model_dump_json().encode() == second.content
    snapshot = fast.app.state.service.scores.current["churn"]
    assert snapshot.body(ACCOUNT).body == second.content
    assert snapshot.body(ACCOUNT).probability == parsed.probability


def test_only_keyed_plain_requests_for_scored_accounts_skip_the_routes(pair, headers) -> None:
    fast, _ = pair
    app = fast.app
    middleware = StoredScoreFastPath(None, app.state.service, route_of(accounts.router, churn_risk))
    key = [(b"x-api-key", headers["retention"]["X-API-Key"].encode())]
    status, body, reached = call(middleware, PATH, key)  # a first request: already stored
    assert (status, reached) == (200, False)
    assert body == fast.get(PATH, headers=headers["retention"]).content
    bearer = [(b"authorization", b"Bearer " + headers["manager"]["X-API-Key"].encode())]
    assert call(middleware, PATH, bearer)[2] is False  # a higher role is admitted too
    for headers_, path, query in (
        ([], PATH, b""),  # no key: the route answers 401
        ([(b"x-api-key", b"not-a-key-but-long-enough-0000")], PATH, b""),
        ([], PATH, b"live=true"),
        (key, PATH, b"live=1"),  # other spellings: the route parses them
        (key, PATH, b"live=maybe"),
        (key, "/v1/accounts/NOPE/churn-risk", b"live=true"),  # no feature row: the route's 404
        (key, "/v1/accounts/NOPE/churn-risk", b""),
        (key, f"/v1/accounts/{'A' * 201}/churn-risk", b""),
        (key, "/v1/accounts/a/b/churn-risk", b""),
    ):
        assert call(middleware, path, headers_, query)[2] is True, (headers_, path, query)


def test_live_answers_are_the_routes_scored_now(pair, headers, monkeypatch) -> None:
    fast, routed = pair
    middleware = StoredScoreFastPath(
        None, fast.app.state.service, route_of(accounts.router, churn_risk)
    )
    key = [(b"x-api-key", headers["retention"]["X-API-Key"].encode())]
    fast.get(f"{PATH}?live=true", headers=headers["retention"])  # rows prepared for the champion
    for account in (ACCOUNT, "A000", "A031"):
        path = f"/v1/accounts/{account}/churn-risk"
        status, body, reached = call(middleware, path, key, b"live=true")
        assert (status, reached) == (200, False)
        answer = ChurnRisk.model_validate_json(body)
        expected = ChurnRisk.model_validate_json(
            routed.get(f"{path}?live=true", headers=headers["retention"]).content
        )
        assert answer.live and answer.account_id == account
        assert answer.model_dump(exclude={"as_of"}) == expected.model_dump(exclude={"as_of"})
        stored = ChurnRisk.model_validate_json(
            fast.app.state.service.scores.current["churn"].body(account).body
        )
        assert answer.change.previous_probability == stored.probability
    monkeypatch.setattr(fast.app.state.service.live, "ready", lambda loaded, source: False)
    assert call(middleware, PATH, key, b"live=true")[2] is True  # the route prepares the rows


def test_errors_are_the_routes_answers(pair, headers) -> None:
    fast, routed = pair
    fast.get(PATH, headers=headers["retention"])
    for client in (fast, routed):
        assert client.get(PATH).status_code == 401
        assert (
            client.get(PATH, headers={"X-API-Key": "not-a-key-but-long-enough-0000"})
            .json()["detail"]
            .startswith("Missing or unknown API key")
        )
        assert client.get(f"{PATH}?live=maybe", headers=headers["retention"]).status_code == 422
        live = client.get(f"{PATH}?live=true", headers=headers["retention"]).json()
        assert live["live"] is True
        long_id = f"/v1/accounts/{'A' * 201}/churn-risk"
        assert client.get(long_id, headers=headers["retention"]).status_code == 422


def test_fast_answers_are_logged_and_counted_like_routed_ones(pair, headers) -> None:
    from serving.observability import configure_logging

    fast, _ = pair
    fast.get(PATH, headers=headers["retention"])
    stream = io.StringIO()
    configure_logging("INFO", stream)
    response = fast.get(PATH, headers={**headers["manager"], "X-Request-ID": "fast-1"})
    assert response.headers["x-request-id"] == "fast-1"
    line = next(json.loads(x) for x in stream.getvalue().splitlines() if "fast-1" in x)
    assert line["route"] == "/v1/accounts/{account_id}/churn-risk" and line["role"] == "manager"
    assert line["status"] == 200 and line["path"] == PATH and line["level"] == "info"
    assert headers["manager"]["X-API-Key"] not in stream.getvalue()
    text = fast.get("/metrics", headers=headers["retention"]).text
    route = 'method="GET",route="/v1/accounts/{account_id}/churn-risk",status="200"'
    assert f"barometer_http_requests_total{{{route}}} 2.0" in text  # one routed, one fast
    assert 'barometer_score_probability_count{source="stored",target="churn"} 2.0' in text


def test_entity_from_path() -> None:
    assert entity_from_path("/v1/accounts/A1/churn-risk") == "A1"
    assert entity_from_path("/v1/accounts//churn-risk") is None
    assert entity_from_path("/v1/accounts/A1/churn-risk/x") is None
    assert entity_from_path("/v1/opportunities/O1/win-probability") is None


@pytest.fixture
def own_workspace(tmp_path, models):
    home = tmp_path / "workspace"
    build_workspace(home, models)
    return keyed_settings(home)


def test_a_new_scoring_run_replaces_the_stored_bodies(own_workspace, models, headers) -> None:
    from tests.serving.conftest import make_client

    with make_client(own_workspace, models) as fast:
        before = fast.get(PATH, headers=headers["retention"]).content
        assert fast.get(PATH, headers=headers["retention"]).content == before
        model = models["churn"].model
        october = feature_rows("account_id", 40, seed=11, prefix="A")  # the stored run's rows
        context = context_for(october, seed=20, deals=False)
        _, explained, _ = score_rows(
            model, "3", october, context, as_of=datetime(2026, 10, 1), scored_at=datetime.now()
        )
        features = feature_rows("account_id", 40, seed=99, prefix="A")
        scored, _, _ = score_rows(
            model,
            "3",
            features,
            context_for(features, seed=20, deals=False),
            as_of=datetime(2026, 11, 1),
            scored_at=datetime(2026, 11, 1),
            previous=previous_of(model, explained, october),
        )
        for _ in range(600):  # the manager views read the warehouse in the background
            if fast.get("/readyz").json()["insights"] != "computing":
                break
            time.sleep(0.05)
        with connect(own_workspace.warehouse_path) as con:
            append_scores(con, scored)
        assert refresh_scores(fast.app)
        after = fast.get(PATH, headers=headers["retention"]).content
        again = fast.get(PATH, headers=headers["retention"]).content
    with make_client(own_workspace, models, fast_path=False) as routed:
        uncached = routed.get(PATH, headers=headers["retention"]).content
    assert after != before and after == again == uncached
    assert json.loads(after)["as_of"].startswith("2026-11-01")
    assert json.loads(after)["change"]["previous_as_of"].startswith("2026-10-01")


def test_a_reload_keeps_serving_the_runs_stored_bodies(new_client, models, headers) -> None:
    from barometer.model.store import LoadedModel

    with new_client(dict(models)) as fast, new_client(fast_path=False) as routed:
        before = fast.get(PATH, headers=headers["retention"]).content
        provider = fast.app.state.service.models.provider
        provider.publish(LoadedModel("churn", models["churn"].model, "4", {"roc_auc": 0.81}))
        assert fast.post("/v1/models/reload", headers=headers["admin"]).status_code == 200
        after = fast.get(PATH, headers=headers["retention"])
        live = fast.get(f"{PATH}?live=true", headers=headers["retention"]).json()
        uncached = routed.get(PATH, headers=headers["retention"]).content
    # A stored score carries the version of the run that wrote it; only live answers move on.
    assert after.content == before == uncached and after.json()["model_version"] == "3"
    assert live["model_version"] == "4"
