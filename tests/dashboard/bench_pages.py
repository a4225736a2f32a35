"""Server time per dashboard page on a 50k-account workspace (not a test: run it by hand).

    .venv/bin/python tests/dashboard/bench_pages.py [n_accounts]

Two scoring runs of N accounts and 5k deals with the serving tests' synthetic champions; each page
is requested 30 times in-process (TestClient) after one warm-up; prints the median and p95 in ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from barometer.settings import Settings  # noqa: E402
from features.warehouse import connect, replace_table  # noqa: E402
from serving.bundle import LoadedModel  # noqa: E402
from serving.scoring import score_frame  # noqa: E402
from serving.store import append_scores  # noqa: E402
from tests.dashboard.conftest import make_app, sign_in  # noqa: E402
from tests.serving.conftest import AS_OF, KEYS, context_for, feature_rows, train  # noqa: E402
from tests.serving.helpers import closed_deal_features, contract_tables  # noqa: E402

PAGES = (
    "/dashboard/worklist",
    "/dashboard/worklist?sort=arr_at_risk&segment=smb&band=high",
    "/dashboard/worklist?q=A0123",
    "/dashboard/accounts/A00042",
    "/dashboard/opportunities",
    "/dashboard/opportunities/O00042",
    "/dashboard/drivers",
    "/dashboard/teams",
    "/dashboard/reps/r1",
    "/dashboard/contribution",
    "/dashboard/models",
)


def build(home: Path, models: dict, n: int) -> None:
    with connect(home / "warehouse.duckdb") as con:
        for target, id_column, count, prefix in (
            ("churn", "account_id", n, "A"),
            ("deal_win", "opportunity_id", 5000, "O"),
        ):
            for run, as_of in enumerate(AS_OF):
                features = feature_rows(id_column, count, 10 + run, prefix)
                features[id_column] = [f"{prefix}{i:05d}" for i in range(count)]
                context = context_for(features, 20, deals=target == "deal_win")
                scored = score_frame(
                    models[target].model,
                    features,
                    context,
                    as_of=as_of,
                    model_version=models[target].version,
                    scored_at=as_of,
                )
                append_scores(con, scored)
            table = "features_account" if target == "churn" else "features_opportunity"
            rows = features.assign(cutoff=AS_OF[1])
            if target == "deal_win":
                rows = rows.assign(
                    snapshot="cutoff",
                    account_id=context["account_id"],
                    deal_touches_30d=6.0,
                    days_since_last_deal_touch=5.0,
                )
                rows = pd.concat([rows, closed_deal_features()], ignore_index=True)
            replace_table(con, table, rows)
        for name, frame in contract_tables().items():
            replace_table(con, name, frame)


def main(n: int) -> None:
    models = {
        "churn": LoadedModel("churn", train("churn", 1), "3", {"roc_auc": 0.8}),
        "deal_win": LoadedModel("deal_win", train("deal_win", 2), "5", {"roc_auc": 0.7}),
    }
    home = Path(tempfile.mkdtemp()) / "workspace"
    build(home, models, n)
    settings = Settings(home=home, api_keys=",".join(f"{r}:{k}" for r, k in KEYS.items()))
    with TestClient(make_app(settings, models), follow_redirects=False) as client:
        sign_in(client, "manager")
        print(f"{n:,} scored accounts, 2 runs; ms per page (median / p95 of 30)")
        for path in PAGES:
            status = client.get(path).status_code  # warm-up: per-run caches and index fill here
            times = []
            for _ in range(30):
                start = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            print(f"{path:60s} {status}  {statistics.median(times):6.1f}  {times[28]:6.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
