"""Every route, role and error case through TestClient on a seeded workspace with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

ACCOUNT = "A007"


def test_health_needs_no_key_and_readiness_reports_models(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["models"] == {"churn": "3", "deal_win": "5"}
    assert ready.json()["scores"] == {"churn": 40, "deal_win": 30}


def test_not_ready_until_every_model_is_loaded(new_client, models) -> None:
    with new_client({"churn": models["churn"]}) as partial:
        ready = partial.get("/readyz")
        assert ready.status_code == 503
        assert "deal_win" in ready.json()["missing"]
        key = {"X-API-Key": "retention-key-0123456789"}
        response = partial.post("/v1/score/deal_win", json={"rows": [{}]}, headers=key)
        assert response.status_code == 503


@pytest.mark.parametrize(
    "send, code",
    [
        ({}, 401),
        ({"X-API-Key": "not-a-key-at-all-000000"}, 401),
        ({"Authorization": "Bearer not-a-key-at-all-000"}, 401),
        ({"Authorization": "Basic retention-key-0123456789"}, 401),
        ({"X-API-Key": "retention-key-0123456789"}, 200),
        ({"Authorization": "Bearer retention-key-0123456789"}, 200),
    ],
)
def test_keys_by_header_or_bearer(client, send, code) -> None:
    response = client.get(f"/v1/accounts/{ACCOUNT}/churn-risk", headers=send)
    assert response.status_code == code
    if code == 401:
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "method, path, minimum",
    [
        ("get", f"/v1/accounts/{ACCOUNT}/churn-risk", "retention"),
        ("get", "/v1/accounts", "retention"),
        ("get", "/v1/opportunities/O001/win-probability", "retention"),
        ("get", "/v1/opportunities", "retention"),
        ("get", "/v1/models", "retention"),
        ("get", "/v1/drivers/churn", "manager"),
        ("post", "/v1/models/reload", "admin"),
    ],
)
def test_roles(client, headers, method, path, minimum) -> None:
    order = ["retention", "manager", "admin"]
    for role in order:
        response = getattr(client, method)(path, headers=headers[role])
        allowed = order.index(role) >= order.index(minimum)
        assert response.status_code == (200 if allowed else 403), (role, response.text)


def test_churn_risk_is_the_stored_score_with_reasons_and_change(client, headers, workspace):
    settings, _ = workspace
    body = client.get(f"/v1/accounts/{ACCOUNT}/churn-risk", headers=headers["retention"]).json()
    from features.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        history = con.execute(
            "select as_of, probability from scores where target='churn' and entity_id=? "
            "order by as_of",
            [ACCOUNT],
        ).fetchall()
    assert len(history) == 2
    assert body["probability"] == pytest.approx(history[1][1])
    assert body["as_of"].startswith("2026-10-01") and body["model_version"] == "3"
    assert body["change"]["previous_probability"] == pytest.approx(history[0][1])
    assert body["change"]["change"] == pytest.approx(history[1][1] - history[0][1])
    assert body["reasons"] == [c["sentence"] for c in body["contributions"]]
    assert all("pts churn risk" in s for s in body["reasons"])
    assert {c["feature"] for c in body["contributions"]} <= {
        "days_since_last_touch",
        "open_cases",
        "segment",
        "other",
    }
    assert body["contributions"][-1]["feature"] == "other"
    assert 0 < body["percentile"] <= 100 and body["band"] in {"low", "medium", "high"}
    assert body["data_through"].startswith("2026-09-30T21:00")


def adds_up(body: dict) -> None:
    """Base + every reason = the probability; the change lines = the change; every number has
    at most the stored number of decimals (no float noise)."""
    total = body["base_probability"] + sum(c["points"] for c in body["contributions"])
    assert total == pytest.approx(body["probability"], abs=2e-6)
    assert body["contributions"][-1]["feature"] == "other"
    change = body["change"]
    if change is not None:
        lines = sum(r["points_change"] for r in change["reasons"])
        assert change["change"] == round(body["probability"] - change["previous_probability"], 6)
        assert lines == pytest.approx(change["change"], abs=2e-6)
        if change["reasons"]:
            assert change["reasons"][-1]["feature"] == "other"
    numbers = [
        body["probability"],
        body["base_probability"],
        *(c["points"] for c in body["contributions"]),
    ]
    assert all(len(repr(float(x)).split(".")[-1]) <= 6 or "e" in repr(x) for x in numbers)


@pytest.mark.parametrize(
    ("target", "path", "prefix", "count"),
    [("churn", "accounts", "A", 40), ("deal_win", "opportunities", "O", 30)],
)
def test_every_served_score_adds_up(client, headers, workspace, target, path, prefix, count):
    """Stored and on-demand answers of both targets: reasons add up to the probability, change
    lines to the change, and a mover's feature changed value between the two runs."""
    settings, latest = workspace
    from features.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        table = "scoring_features_account" if target == "churn" else "scoring_features_opportunity"
        before = con.execute(f"select * from {table} where as_of = '2026-09-01'").df()
    before = before.set_index(before.columns[0])
    after = latest[target].set_index(latest[target].columns[0])
    suffix = "churn-risk" if target == "churn" else "win-probability"
    movers = 0
    for i in range(count):
        entity = f"{prefix}{i:03d}"
        for live in (False, True):
            body = client.get(
                f"/v1/{path}/{entity}/{suffix}",
                params={"live": live} if live else None,
                headers=headers["retention"],
            ).json()
            adds_up(body)
            for line in (body["change"] or {}).get("reasons", []):
                if line["feature"] in ("other", "model"):
                    continue
                movers += 1
                assert before.at[entity, line["feature"]] != after.at[entity, line["feature"]]
    assert movers > 0


@pytest.mark.parametrize(
    ("path", "prefix", "suffix"),
    [("accounts", "A", "churn-risk"), ("opportunities", "O", "win-probability")],
)
def test_actions_are_the_stored_suggestions_labelled_as_associations(
    client, headers, path, prefix, suffix
) -> None:
    """`/actions` answers what the score carries: up to three actionable behaviours, each with
    its expected change in points, under the associations caveat; none for a low score."""
    from barometer.scoring.reasons import load_registry
    from explain.wording import CAVEAT

    registry = load_registry()
    seen = 0
    for i in range(30):
        entity = f"{prefix}{i:03d}"
        score = client.get(f"/v1/{path}/{entity}/{suffix}", headers=headers["retention"]).json()
        response = client.get(f"/v1/{path}/{entity}/actions", headers=headers["retention"])
        body = response.json()
        assert response.status_code == 200 and body["caveat"] == CAVEAT
        assert body["actions"] == score["actions"] and len(body["actions"]) <= 3
        assert body["as_of"] == score["as_of"] and body["data_through"] == score["data_through"]
        if score["band"] == "low" and path == "accounts":
            assert body["actions"] == []
        for action in body["actions"]:
            assert registry[action["feature"]].actionable
            assert (action["points"] < 0) == (path == "accounts")  # less risk, more wins
            assert "not promised" in action["sentence"]
        seen += len(body["actions"])
    assert seen > 0
    missing = client.get(f"/v1/{path}/NOPE/actions", headers=headers["retention"])
    assert missing.status_code == 404


def test_live_score_matches_the_model_on_the_latest_row(client, headers, models, workspace):
    latest = workspace[1]["churn"]
    row = latest[latest["account_id"] == ACCOUNT]
    expected = models["churn"].model.predict_proba(row)[0]
    response = client.get(
        f"/v1/accounts/{ACCOUNT}/churn-risk", params={"live": True}, headers=headers["retention"]
    )
    body = response.json()
    assert response.status_code == 200 and body["live"] is True
    assert body["probability"] == pytest.approx(expected, abs=1e-6)
    points = sum(c["points"] for c in body["contributions"])
    assert body["base_probability"] + points == pytest.approx(expected, abs=2e-6)


def test_unknown_ids_are_404(client, headers) -> None:
    for path in (
        "/v1/accounts/NOPE/churn-risk",
        "/v1/accounts/NOPE/churn-risk?live=true",
        "/v1/opportunities/NOPE/win-probability",
    ):
        assert client.get(path, headers=headers["retention"]).status_code == 404, path


def test_worklist_is_ranked_filtered_and_pages_with_a_cursor(client, headers) -> None:
    seen, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/accounts", params=params, headers=headers["retention"]).json()
        assert page["total"] == 40
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 40 and len({i["account_id"] for i in seen}) == 40
    risk = [i["probability"] for i in seen]
    assert risk == sorted(risk, reverse=True)
    smb = client.get(
        "/v1/accounts",
        params={"segment": "smb", "sort": "arr_at_risk", "limit": 500},
        headers=headers["retention"],
    ).json()["items"]
    assert smb and {i["segment"] for i in smb} == {"smb"}
    at_risk = [i["arr_at_risk"] for i in smb]
    assert at_risk == sorted(at_risk, reverse=True)
    assert all(i["arr_at_risk"] == pytest.approx(i["arr"] * i["probability"]) for i in smb)


def test_worklist_filters_combine(client, headers) -> None:
    params = {"team": "sales", "owner": "r1", "band": "low", "limit": 500}
    items = client.get("/v1/accounts", params=params, headers=headers["retention"]).json()["items"]
    assert all((i["team"], i["owner_rep_id"], i["band"]) == ("sales", "r1", "low") for i in items)
    everything = client.get(
        "/v1/accounts", params={"limit": 500}, headers=headers["retention"]
    ).json()["items"]
    expected = [
        i for i in everything if (i["team"], i["owner_rep_id"], i["band"]) == ("sales", "r1", "low")
    ]
    assert items == expected


@pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoiYXJyX2F0X3Jpc2siLCJrIjoxLCJpIjoiQSJ9"])
def test_bad_cursor_is_a_field_error(client, headers, cursor) -> None:
    response = client.get("/v1/accounts", params={"cursor": cursor}, headers=headers["retention"])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_opportunities(client, headers) -> None:
    body = client.get("/v1/opportunities/O003/win-probability", headers=headers["retention"]).json()
    assert body["opportunity_id"] == "O003" and body["model_version"] == "5"
    assert body["stage"] in {"Discovery", "Proposal"} and body["account_id"] == "A003"
    assert all("pts win chance" in s for s in body["reasons"])
    page = client.get(
        "/v1/opportunities",
        params={"stage": "Proposal", "sort": "expected_value"},
        headers=headers["retention"],
    ).json()
    assert page["items"] and {i["stage"] for i in page["items"]} == {"Proposal"}


def test_batch_scoring_matches_the_model(client, headers, models) -> None:
    rows = [
        {"id": "x", "days_since_last_touch": 60.0, "open_cases": 4, "segment": "smb"},
        {"days_since_last_touch": 1.0, "segment": None},  # null: a missing value
    ]
    response = client.post("/v1/score/churn", json={"rows": rows}, headers=headers["retention"])
    body = response.json()
    frame = pd.DataFrame(rows).drop(columns="id")
    expected = models["churn"].model.predict_proba(frame)
    assert response.status_code == 200 and body["model_version"] == "3"
    probability = [r["probability"] for r in body["results"]]
    np.testing.assert_allclose(probability, np.round(expected, 6), atol=1e-12)  # as stored
    assert body["results"][0]["id"] == "x" and body["results"][1]["id"] is None
    for result in body["results"]:
        total = result["base_probability"] + sum(c["points"] for c in result["contributions"])
        assert total == pytest.approx(result["probability"], abs=2e-6)
    assert body["results"][0]["probability"] > body["results"][1]["probability"]
    assert "days_since_last_touch" in {c["feature"] for c in body["results"][0]["contributions"]}


@pytest.mark.parametrize(
    "payload, loc",
    [
        ({"rows": [{"calls_made_up": 1}]}, ["body", "rows", 0, "calls_made_up"]),
        ({"rows": [{"open_cases": "many"}]}, ["body", "rows", 0, "open_cases"]),
        ({"rows": []}, ["body", "rows"]),
        ({"rows": [{}] * 1001}, ["body", "rows"]),
        ({"rows": [{}], "extra": 1}, ["body", "extra"]),
        ({"rows": [{"open_cases": [1, 2]}]}, ["body", "rows", 0, "open_cases"]),
    ],
)
def test_bad_batches_are_field_level_422(client, headers, payload, loc) -> None:
    response = client.post("/v1/score/churn", json=payload, headers=headers["retention"])
    assert response.status_code == 422
    assert any(e["loc"][: len(loc)] == loc for e in response.json()["detail"]), response.json()


def test_bad_target_and_malformed_json_are_422(client, headers) -> None:
    assert (
        client.post("/v1/score/nope", json={"rows": [{}]}, headers=headers["retention"]).status_code
        == 422
    )
    broken = client.post(
        "/v1/score/churn",
        content=b"{not json",
        headers={**headers["retention"], "content-type": "application/json"},
    )
    assert broken.status_code == 422


def test_body_size_limit_is_413(new_client, headers) -> None:
    with new_client(max_body_bytes=2000) as small:
        rows = [{"open_cases": 1.0}] * 200
        response = small.post("/v1/score/churn", json={"rows": rows}, headers=headers["retention"])
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        ok = small.post("/v1/score/churn", json={"rows": rows[:2]}, headers=headers["retention"])
        assert ok.status_code == 200


def test_what_if_changes_the_probability_with_a_caveat(client, headers, models, workspace):
    latest = workspace[1]["churn"]
    row = latest[latest["account_id"] == ACCOUNT].reset_index(drop=True)
    changed = row.assign(days_since_last_touch=0.0)
    before, after = models["churn"].model.predict_proba(pd.concat([row, changed]))
    payload = {"target": "churn", "entity_id": ACCOUNT, "changes": {"days_since_last_touch": 0}}
    body = client.post("/v1/what-if", json=payload, headers=headers["retention"]).json()
    assert body["probability_before"] == pytest.approx(before)
    assert body["probability_after"] == pytest.approx(after)
    assert body["change"] == pytest.approx(after - before, abs=2e-6)
    assert "not" in body["caveat"] and "causal" in body["caveat"]
    assert body["as_of"].startswith("2026-10-01") and body["data_through"].startswith("2026-09-30")
    assert body["changed"] == [
        {
            "feature": "days_since_last_touch",
            "before": row.loc[0, "days_since_last_touch"],
            "after": 0,
        }
    ]


def test_what_if_starts_from_the_live_score_and_encodes_categories(
    client, headers, models, workspace
):
    latest = workspace[1]["churn"]
    row = latest[latest["account_id"] == ACCOUNT].reset_index(drop=True)
    other = next(
        s for s in models["churn"].model.categories["segment"] if s != row.loc[0, "segment"]
    )
    changes = {"segment": other, "open_cases": 9}
    expected = models["churn"].model.predict_proba(row.assign(segment=other, open_cases=9.0))[0]
    payload = {"target": "churn", "entity_id": ACCOUNT, "changes": changes}
    body = client.post("/v1/what-if", json=payload, headers=headers["retention"]).json()
    live = client.get(
        f"/v1/accounts/{ACCOUNT}/churn-risk?live=true", headers=headers["retention"]
    ).json()
    assert body["probability_before"] == live["probability"]  # both as served: 6 decimals
    assert body["probability_after"] == pytest.approx(expected, abs=5e-7)
    assert [c["before"] for c in body["changed"]] == [
        row.loc[0, "segment"],
        row.loc[0, "open_cases"],
    ]
    missing = models["churn"].model.predict_proba(row.assign(segment=None))[0]
    to_missing = {**payload, "changes": {"segment": None}}
    body = client.post("/v1/what-if", json=to_missing, headers=headers["retention"]).json()
    assert body["probability_after"] == pytest.approx(missing, abs=5e-7)
    unknown_level = {**payload, "changes": {"segment": "no_such_segment"}}
    response = client.post("/v1/what-if", json=unknown_level, headers=headers["retention"])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "changes", "segment"]
    assert "Unknown category" in response.json()["detail"][0]["msg"]
    mistyped = {**payload, "changes": {"open_cases": "soon"}}
    response = client.post("/v1/what-if", json=mistyped, headers=headers["retention"])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "changes", "open_cases"]


def test_what_if_errors(client, headers) -> None:
    unknown = {"target": "churn", "entity_id": "NOPE", "changes": {"open_cases": 1}}
    assert client.post("/v1/what-if", json=unknown, headers=headers["retention"]).status_code == 404
    bad = {"target": "churn", "entity_id": ACCOUNT, "changes": {"made_up": 1}}
    response = client.post("/v1/what-if", json=bad, headers=headers["retention"])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "changes", "made_up"]


def test_drivers_overall_and_by_segment(client, headers) -> None:
    body = client.get("/v1/drivers/churn", headers=headers["manager"]).json()
    top = body["drivers"][0]
    assert top["feature"] in {"days_since_last_touch", "open_cases"} and top["direction"] == 1
    assert sum(d["share"] for d in body["drivers"]) == pytest.approx(1.0)
    assert body["dependence"] and body["rows"] == 40
    by = client.get(
        "/v1/drivers/churn", params={"by": "segment"}, headers=headers["manager"]
    ).json()
    assert {d["group"] for d in by["drivers"]} == {"smb", "mid_market", "enterprise"}


def test_models_and_reload_swap_versions(new_client, headers, models) -> None:
    provider_models = dict(models)
    with new_client(provider_models) as fresh:
        provider = fresh.app.state.service.models.provider
        listed = fresh.get("/v1/models", headers=headers["retention"]).json()
        assert {m["target"]: m["version"] for m in listed["models"]} == {
            "churn": "3",
            "deal_win": "5",
        }
        from barometer.model.store import LoadedModel

        provider.publish(LoadedModel("churn", models["churn"].model, "4", {"roc_auc": 0.81}))
        reloaded = fresh.post("/v1/models/reload", headers=headers["admin"]).json()
        assert {m["target"]: m["version"] for m in reloaded["models"]}["churn"] == "4"
        live = fresh.get(
            f"/v1/accounts/{ACCOUNT}/churn-risk?live=true", headers=headers["retention"]
        ).json()
        assert live["model_version"] == "4"
        assert (
            'barometer_model_info{target="churn",version="4"} 1.0'
            in fresh.get("/metrics", headers=headers["retention"]).text
        )


def test_metrics_count_requests_by_route(client, headers) -> None:
    client.get(f"/v1/accounts/{ACCOUNT}/churn-risk", headers=headers["retention"])
    text = client.get("/metrics", headers=headers["retention"]).text
    assert (
        'barometer_http_requests_total{method="GET",route="/v1/accounts/{account_id}/churn-risk",'
        'status="200"}' in text
    )
    assert "barometer_http_request_duration_seconds_bucket" in text
    assert 'barometer_score_probability_count{source="stored",target="churn"}' in text
    assert 'barometer_scored_entities{target="churn"} 40.0' in text


def test_cors_is_closed_by_default(client, headers) -> None:
    response = client.get(
        f"/v1/accounts/{ACCOUNT}/churn-risk",
        headers={**headers["retention"], "Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/v1/accounts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_logs_are_json_with_request_ids_and_never_keys(client, headers) -> None:
    import io
    import json

    from serving.observability import configure_logging

    stream = io.StringIO()
    configure_logging("INFO", stream)
    response = client.get(
        "/v1/accounts?band=high", headers={**headers["admin"], "X-Request-ID": "req-42"}
    )
    client.get("/v1/accounts", headers={"X-API-Key": "wrong-key-but-secret-123"})
    assert response.headers["x-request-id"] == "req-42"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = next(line for line in lines if line.get("request_id") == "req-42")
    assert mine["status"] == 200 and mine["role"] == "admin" and mine["route"] == "/v1/accounts"
    assert "admin-key" not in stream.getvalue() and "wrong-key" not in stream.getvalue()


def test_a_target_training_registered_no_model_for_does_not_hold_readiness(workspace, models):
    """A churn-only export never gets a deal-win model: the service is ready with churn, says
    why deal win has none, and answers deal-win requests with that verdict."""
    from barometer.model.store import NoModelTrained, StaticProvider
    from serving.app import ServeOptions, create_app

    verdict = "The data has no opportunities table, so there is no deal win model to train."

    class ChurnOnly(StaticProvider):
        def load(self, target):
            if target == "deal_win":
                raise NoModelTrained(verdict)
            return super().load(target)

    provider = ChurnOnly({"churn": models["churn"]})
    app = create_app(workspace[0], provider=provider, options=ServeOptions(poll_seconds=3600))
    key = {"X-API-Key": "retention-key-0123456789"}
    with TestClient(app) as churn_only:
        ready = churn_only.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["missing"] == {}
        assert ready.json()["without_model"] == {"deal_win": "training registered no model"}
        assert verdict not in ready.text  # no key: no reasons
        assert churn_only.get("/v1/models", headers=key).json()["without_model"] == {
            "deal_win": verdict
        }
        refused = churn_only.post("/v1/score/deal_win", json={"rows": [{}]}, headers=key)
        assert refused.status_code == 503
        assert refused.json()["detail"] == f"No deal_win model was trained: {verdict}"
        risk = churn_only.get(f"/v1/accounts/{ACCOUNT}/churn-risk", headers=key)
        assert risk.status_code == 200


def test_a_verdict_written_after_the_service_started_is_picked_up_by_the_poll(models):
    """Training can refuse while the service runs: the poll re-reads why a target has no model,
    and a later verdict replaces an earlier one."""
    from barometer.model.store import NoModelTrained, StaticProvider
    from serving.bundle import BundleHolder

    class Verdicts(StaticProvider):
        said: str | None = None

        def load(self, target):
            if target == "deal_win" and self.said:
                raise NoModelTrained(self.said)
            return super().load(target)

    provider = Verdicts({"churn": models["churn"]})
    holder = BundleHolder(provider)
    holder.reload()
    assert set(holder.current.errors) == {"deal_win"} and dict(holder.current.absent) == {}
    provider.said = "Not enough won deals to learn from (12; need 20)."
    assert holder.refresh_if_promoted() is False  # no new champion: the models stay
    assert dict(holder.current.absent) == {"deal_win": provider.said}
    assert dict(holder.current.errors) == {}
    provider.said = "The data has no opportunities table, so there is no deal win model to train."
    holder.refresh_if_promoted()
    assert dict(holder.current.absent) == {"deal_win": provider.said}
    assert holder.current.get("churn") is models["churn"]


def test_a_service_with_no_model_at_all_is_not_ready(workspace):
    from barometer.model.store import NoModelTrained, StaticProvider
    from serving.app import ServeOptions, create_app

    class NoneTrained(StaticProvider):
        def load(self, target):
            raise NoModelTrained("Not enough churned accounts to learn from (3; need 20).")

    app = create_app(
        workspace[0], provider=NoneTrained({}), options=ServeOptions(poll_seconds=3600)
    )
    with TestClient(app) as empty:
        ready = empty.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert ready.json()["missing"] == {} and set(ready.json()["without_model"]) == {
            "churn",
            "deal_win",
        }
