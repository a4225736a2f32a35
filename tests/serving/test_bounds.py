"""Memory stays bounded under load: lazily built snapshot caches and metric label sets."""

from __future__ import annotations

import json

import pandas as pd

from serving import snapshot as snapshot_module
from serving.snapshot import BoundedCache, ScoreSnapshot


def scores(n: int) -> pd.DataFrame:
    reason = {"feature": "open_cases", "points": 0.1, "sentence": "Open cases: +10 pts"}
    return pd.DataFrame(
        {
            "entity_id": [f"A{i:03d}" for i in range(n)],
            "probability": [i / n for i in range(n)],
            "band": ["low"] * n,
            "segment": ["smb", "enterprise"] * (n // 2),
            "value_at_risk": [1000.0 * i for i in range(n)],
            "as_of": pd.Timestamp("2026-10-01"),
            "model_version": "3",
            "reasons": json.dumps([reason]),
        }
    )


def test_bounded_cache_forgets_the_oldest_entries() -> None:
    cache = BoundedCache(3)
    for i in range(10):
        cache.put(i, str(i))
    assert len(cache) == 3
    assert [cache.get(i) for i in (6, 7, 8, 9)] == [None, "7", "8", "9"]


def test_snapshot_rows_and_pages_stay_bounded_and_correct(monkeypatch) -> None:
    monkeypatch.setattr(snapshot_module, "CACHED_ROWS", 8)
    monkeypatch.setattr(snapshot_module, "CACHED_PAGES", 5)
    snapshot = ScoreSnapshot("churn", scores(60))
    for i in range(60):
        entity = f"A{i:03d}"
        row = snapshot.row(entity)
        assert row["entity_id"] == entity and row["probability"] == i / 60
        assert row["reasons"][0]["feature"] == "open_cases"
        assert snapshot.cached(("page", entity), lambda e=entity: e.encode()) == entity.encode()
        assert json.loads(snapshot.body(entity).body)["account_id"] == entity  # every run's body
    assert len(snapshot._records) == 8 and len(snapshot._cache) == 5
    page = snapshot.page("risk", {"segment": "smb"}, 3, None)
    assert [r["entity_id"] for r in page.rows] == ["A058", "A056", "A054"]


def test_metric_labels_use_templates_and_known_methods(client, headers) -> None:
    for i in range(3):
        client.get(f"/v1/accounts/ZZ{i}/churn-risk", headers=headers["retention"])
        client.request(f"BREW{i}", f"/nowhere/{i}")
    text = client.get("/metrics", headers=headers["retention"]).text
    assert "ZZ0" not in text and "/nowhere" not in text and "BREW" not in text
    assert 'method="other",route="unmatched"' in text
    assert 'route="/v1/accounts/{account_id}/churn-risk",status="404"' in text
