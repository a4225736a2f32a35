"""`make bench-dashboard`: server time of every dashboard page on a 50k-account workspace.

    python -m benchmarks.dashboard --accounts 50000 [--requests 30] [--keep DIR]

The workspace (a temporary folder, removed at the end unless `--keep`) is built fast rather than
simulated, but every step after the data is the project's own:
- contract tables sized for N accounts: 52 reps in two teams, N accounts, N/2 closed and N/10 open
  deals with their stage history, 3 cases, 1 NPS answer and 12 activities per account;
- feature tables at two monthly cutoffs with 13 registry account features and 10 registry deal
  features (random values; closed deals carry their last features for the rep views);
- two champions trained by `training.pipeline.run_training` on synthetic panels with a known
  signal (backtest, baselines, reliability table, MLflow run and registration in the workspace's
  SQLite store), promoted by `training.lifecycle.promote`;
- two scoring runs per target by the scoring job (`barometer.scoring.job.run`) with the champions
  loaded the way `barometer score` loads them (`ChampionProvider`).
The app is built exactly as `barometer serve` builds it (`create_app` with MLflow champions and
the dashboard mounted; the models page reads reliability tables and backtest metrics from the
MLflow store), and driven in-process by Starlette's TestClient.

Server time is measured inside the process by a wrapper around the ASGI app: from the moment the
app receives the request to the last byte of the response body. It includes the middleware,
routing, the page's work and template rendering; it excludes the client and any network. Each
page is requested once to warm it (per-run caches fill there: the account index, the manager
views), then `--requests` times per role that may see it. The goal is < 100 ms per page.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

GOAL_MS = 100.0
AS_OF = (datetime(2026, 9, 1), datetime(2026, 10, 1))
SEGMENTS = ["smb", "mid_market", "enterprise"]
REGIONS = ["emea", "amer", "apac"]
STAGES = ["Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation"]
SALES_REPS = [f"r{i:02d}" for i in range(1, 41)]
SERVICE_REPS = [f"s{i:02d}" for i in range(1, 13)]
ROLES = ("retention", "manager", "admin")
# Read from the MLflow store: both champions' reliability curves and their backtest metrics.
MODELS_PAGE = ("Reliability of churn v", "Reliability of deal_win v", "backtest_roc_auc_mean")
WHAT_IF = "change:open_cases=0&change:days_since_last_touch=3"
KEYS = {role: f"bench-{role}-key-0123456789abcdef" for role in ROLES}


# ------------------------------------------------------------------ synthetic behaviours


def account_features(ids: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Registry account features with plausible random values."""
    n = len(ids)
    return pd.DataFrame(
        {
            "account_id": ids,
            "days_since_last_touch": rng.exponential(20, n).round(1),
            "touches_per_week_90d": rng.gamma(2.0, 0.8, n).round(2),
            "meetings_90d": rng.poisson(2, n).astype(float),
            "connect_rate_90d": rng.beta(2, 3, n).round(3),
            "usage_events_30d": rng.poisson(40, n).astype(float),
            "open_cases": rng.poisson(1.2, n).astype(float),
            "first_contact_resolution_rate_180d": rng.beta(5, 2, n).round(3),
            "escalation_rate_180d": rng.beta(1, 8, n).round(3),
            "latest_nps": rng.integers(0, 11, n).astype(float),
            "tenure_days": rng.integers(30, 1500, n).astype(float),
            "arr": rng.lognormal(9.5, 1.0, n).round(0),
            "segment": rng.choice(SEGMENTS, n),
            "region": rng.choice(REGIONS, n),
        }
    )


def churn_logit(f: pd.DataFrame) -> np.ndarray:
    """Thresholds and an interaction (what trees capture and a linear model only approximates):
    a long silence, open cases, escalations and detractors raise churn; touches lower it."""
    return (
        -1.8
        + 2.0 * (f["days_since_last_touch"] > 45)
        - 1.2 * (f["touches_per_week_90d"] > 1.5)
        + 0.8 * (f["open_cases"] >= 3)
        + 1.2 * (f["escalation_rate_180d"] > 0.2)
        + 1.0 * (f["latest_nps"] <= 6)
        + 1.5 * ((f["segment"] == "smb") & (f["first_contact_resolution_rate_180d"] < 0.6))
    ).to_numpy(float)


def deal_features(ids: np.ndarray, rng: np.random.Generator, touches=None) -> pd.DataFrame:
    """Registry deal features; `touches` (mean touches per deal) varies by owner when given."""
    n = len(ids)
    position = rng.integers(1, 5, n)
    mean_touches = 6.0 if touches is None else touches
    return pd.DataFrame(
        {
            "opportunity_id": ids,
            "current_stage": np.array(STAGES)[position - 1],
            "stage_position": position.astype(float),
            "days_in_current_stage": rng.exponential(15, n).round(1),
            "deal_amount": (rng.integers(5, 200, n) * 1000).astype(float),
            "deal_type": rng.choice(["new_business", "upsell"], n, p=[0.7, 0.3]),
            "deal_touches_30d": rng.poisson(mean_touches, n).astype(float),
            "days_since_last_deal_touch": rng.exponential(8, n).round(1),
            "deal_meetings": rng.poisson(1.5, n).astype(float),
            "deal_connect_rate": rng.beta(2, 3, n).round(3),
            "deal_reached_decision_maker": rng.random(n) < 0.4,
            "deal_distinct_contacts": rng.poisson(3, n).astype(float),
        }
    )


def deal_logit(f: pd.DataFrame) -> np.ndarray:
    """Touches saturate, silence past two weeks hurts, the decision maker matters more late."""
    return (
        -1.5
        + 0.3 * f["deal_touches_30d"].clip(upper=8)
        - 1.5 * (f["days_since_last_deal_touch"] > 14)
        + 0.3 * f["deal_meetings"].clip(upper=3)
        + 1.5 * (f["deal_reached_decision_maker"] & (f["stage_position"] >= 3))
        - 0.8 * (f["days_in_current_stage"] > 30)
    ).to_numpy(float)


def draw(logit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(int)


# ------------------------------------------------------------------ champions (the real lifecycle)


def panel(target: str, n_entities: int, seed: int) -> pd.DataFrame:
    """Entities × 18 monthly cutoffs with a label drawn from the known logit."""
    rng = np.random.default_rng(seed)
    cutoffs = pd.date_range("2024-07-01", periods=18, freq="MS")
    prefix, make, logit = ("P", account_features, churn_logit)
    if target == "deal_win":
        prefix, make, logit = ("Q", deal_features, deal_logit)
    ids = np.repeat([f"{prefix}{i:06d}" for i in range(n_entities)], len(cutoffs))
    if target == "deal_win":  # a deal is one group: each is seen at one cutoff only
        ids = np.array([f"{prefix}{i:07d}" for i in range(len(ids))])
    frame = make(ids, rng).assign(cutoff=np.tile(cutoffs, n_entities))
    return frame.assign(
        label=draw(logit(frame), rng), label_time=frame["cutoff"] + pd.Timedelta(days=90)
    )


def bench_config(target: str):
    """The project's experiment config, made quick: fewer rounds and bootstrap draws, no tuning."""
    from training.config import ExperimentConfig, default_config_path, load_config

    base = load_config(default_config_path(target)).model_dump()
    base["split"] |= {"test_cutoffs": 2, "holdout_cutoffs": 2, "folds": 3}
    base["lightgbm"] |= {"max_rounds": 200, "learning_rate": 0.1, "num_threads": 2}
    base["tuning"]["enabled"] = False
    base["bgnbd"]["enabled"] = False
    base["report"] |= {"bootstrap": 50}
    if target == "deal_win":
        base["report"] |= {"segment_columns": ["deal_type"]}
    return ExperimentConfig.model_validate(base)


def train_champions(settings, n_entities: int) -> dict[str, str]:
    """Train, register and promote both targets (unless a champion exists already);
    returns {target: champion version}."""
    from barometer.model.store import champion_version
    from training.data import TARGETS, feature_kinds
    from training.lifecycle import promote
    from training.pipeline import run_training

    versions = {}
    for seed, target in enumerate(("churn", "deal_win"), start=1):
        if (found := champion_version(settings, target)) is not None:
            versions[target] = found.version
            continue
        config = bench_config(target)
        frame = panel(target, n_entities, seed)
        kinds = feature_kinds(config, list(frame.columns))
        result = run_training(frame, kinds, config, settings, group=TARGETS[target].group)
        if result.version is None:
            raise RuntimeError(f"{target} was not registered: {result.refusals}")
        outcome = promote(settings, target, metric="roc_auc", margin=0.0)
        versions[target] = outcome.candidate
    return versions


# ------------------------------------------------------------------ the workspace's tables


def contract_tables(n: int, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """reps, accounts, opportunities (closed C*, open O*), stages, cases, NPS and activities."""
    reps = pd.DataFrame(
        {
            "rep_id": ["m1", *SALES_REPS, "m2", *SERVICE_REPS],
            "team": ["sales"] * (1 + len(SALES_REPS)) + ["service"] * (1 + len(SERVICE_REPS)),
            "manager_id": [None, *["m1"] * len(SALES_REPS), None, *["m2"] * len(SERVICE_REPS)],
        }
    )
    account_ids = np.array([f"A{i:06d}" for i in range(n)])
    churned = rng.random(n) < 0.04
    accounts = pd.DataFrame(
        {
            "account_id": account_ids,
            "created_at": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 600, n), unit="D"),
            "segment": rng.choice(SEGMENTS, n),
            "owner_rep_id": rng.choice(SALES_REPS, n),
            "arr": rng.lognormal(9.5, 1.0, n).round(0),
            "churned_at": pd.to_datetime(np.where(churned, "2026-05-01", None)),
        }
    )
    return {
        "reps": reps,
        "accounts": accounts,
        **deal_tables(n, account_ids, rng),
        **service_tables(account_ids, rng),
    }


def deal_tables(n: int, account_ids: np.ndarray, rng: np.random.Generator) -> dict:
    """N/2 closed deals (2025 to mid 2026) and N/10 open ones (opened July-August 2026)."""
    n_closed, n_open = n // 2, n // 10
    created = np.concatenate(
        [
            pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 480, n_closed), unit="D"),
            pd.Timestamp("2026-07-01") + pd.to_timedelta(rng.integers(0, 55, n_open), unit="D"),
        ]
    )
    closed = np.arange(n_closed + n_open) < n_closed
    ids = np.concatenate(
        [[f"C{i:06d}" for i in range(n_closed)], [f"O{i:06d}" for i in range(n_open)]]
    )
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ids,
            "account_id": rng.choice(account_ids, len(ids)),
            "owner_rep_id": rng.choice(SALES_REPS, len(ids)),
            "source_rep_id": np.where(
                rng.random(len(ids)) < 0.25, rng.choice(SERVICE_REPS, len(ids)), None
            ),
            "type": rng.choice(["new_business", "upsell"], len(ids), p=[0.7, 0.3]),
            "amount": (rng.integers(5, 200, len(ids)) * 1000).astype(float),
            "outcome": np.where(closed, "lost", "open"),  # closed: drawn with their features
            "created_at": pd.to_datetime(created),
            "closed_at": pd.NaT,
        }
    )
    closed_at = opportunities["created_at"] + pd.to_timedelta(rng.integers(20, 120, len(ids)), "D")
    opportunities["closed_at"] = closed_at.where(closed)
    return {"opportunities": opportunities, "opportunity_stages": stage_rows(opportunities, rng)}


def stage_rows(opportunities: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Every deal enters 1-5 stages in order, 4-30 days apart."""
    reached = rng.integers(1, len(STAGES) + 1, len(opportunities))
    index = np.repeat(np.arange(len(opportunities)), reached)
    step = np.concatenate([np.arange(k) for k in reached])
    gaps = rng.integers(4, 30, len(index))
    entered = opportunities["created_at"].to_numpy()[index] + pd.to_timedelta(step * gaps, "D")
    return pd.DataFrame(
        {
            "opportunity_id": opportunities["opportunity_id"].to_numpy()[index],
            "stage": np.array(STAGES)[step],
            "entered_at": entered,
        }
    )


def service_tables(account_ids: np.ndarray, rng: np.random.Generator) -> dict:
    """3 cases, 1 NPS answer and 12 activities per account on average, over the last year."""
    n = len(account_ids)

    def when(count: int) -> pd.Series:
        seconds = rng.integers(0, 365 * 86400, count)
        return pd.Timestamp("2025-09-01") + pd.to_timedelta(seconds, unit="s")

    n_cases, n_activities = 3 * n, 12 * n
    opened = when(n_cases)
    cases = pd.DataFrame(
        {
            "account_id": rng.choice(account_ids, n_cases),
            "rep_id": rng.choice(SERVICE_REPS, n_cases),
            "opened_at": opened,
            "priority": rng.choice(["low", "normal", "urgent"], n_cases, p=[0.3, 0.6, 0.1]),
            "channel": rng.choice(["email", "phone", "chat"], n_cases),
            "closed_at": opened + pd.to_timedelta(rng.integers(1, 240, n_cases), unit="h"),
            "first_contact_resolved": rng.random(n_cases) < 0.7,
        }
    )
    nps = pd.DataFrame(
        {"account_id": account_ids, "score": rng.integers(0, 11, n), "responded_at": when(n)}
    )
    activities = pd.DataFrame(
        {
            "account_id": rng.choice(account_ids, n_activities),
            "rep_id": rng.choice(SALES_REPS + SERVICE_REPS, n_activities),
            "occurred_at": when(n_activities),
            "type": rng.choice(["call", "email", "meeting"], n_activities),
            "direction": rng.choice(["outbound", "inbound"], n_activities),
        }
    )
    return {"cases": cases, "nps": nps, "activities": activities}


def feature_tables(tables: dict, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Accounts and open deals at both cutoffs; closed deals at their last cutoff before closing.
    Closed deals' outcomes follow the deal logit (the returned `opportunities` carry them), and
    owners differ in how often they touch."""
    accounts = tables["accounts"]["account_id"].to_numpy()
    churn = [account_features(accounts, rng).assign(cutoff=c) for c in AS_OF]
    opps = tables["opportunities"]
    is_open = opps["closed_at"].isna()
    open_ids = opps.loc[is_open, "opportunity_id"].to_numpy()
    deals = [deal_features(open_ids, rng).assign(cutoff=c) for c in AS_OF]
    closed = opps[~is_open]
    touches = 3.0 + 6.0 * closed["owner_rep_id"].str[1:].astype(int).to_numpy() / len(SALES_REPS)
    last = deal_features(closed["opportunity_id"].to_numpy(), rng, touches)
    last = last.assign(cutoff=(closed["closed_at"] - pd.Timedelta(days=10)).to_numpy())
    outcome = opps["outcome"].copy()
    outcome[~is_open] = np.where(draw(deal_logit(last), rng).astype(bool), "won", "lost")
    opportunity = pd.concat([*deals, last], ignore_index=True).assign(snapshot="cutoff")
    accounts_of = opps.set_index("opportunity_id")["account_id"]
    opportunity["account_id"] = accounts_of.loc[opportunity["opportunity_id"]].to_numpy()
    return {
        "opportunities": opps.assign(outcome=outcome),
        "features_account": pd.concat(churn, ignore_index=True),
        "features_opportunity": opportunity,
    }


def build_workspace(settings, n: int, train_entities: int, seed: int = 7) -> dict[str, str]:
    """Write the tables, train and promote the champions, run the scoring job twice per target."""
    from barometer.model.store import ChampionProvider
    from barometer.scoring import job
    from barometer.scoring.reasons import load_registry
    from features.warehouse import connect, replace_table

    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    tables = contract_tables(n, rng)
    tables |= feature_tables(tables, rng)
    settings.home.mkdir(parents=True, exist_ok=True)
    with connect(settings.warehouse_path) as con:
        for name, frame in tables.items():
            replace_table(con, name, frame)
    rows = sum(len(t) for t in tables.values())
    print(f"tables: {rows:,} rows in {time.perf_counter() - started:.1f}s", flush=True)
    started = time.perf_counter()
    versions = train_champions(settings, train_entities)
    print(f"champions {versions} trained and promoted in {time.perf_counter() - started:.1f}s")
    provider, registry = ChampionProvider(settings), load_registry()
    for target in ("churn", "deal_win"):
        loaded = provider.load(target)
        for as_of in AS_OF:
            result = job.run(settings, loaded, as_of, registry=registry)
            seconds = result.seconds
            print(f"scored {result.rows:,} {target} as of {as_of:%Y-%m-%d} in {seconds:.1f}s")
    return versions


# ------------------------------------------------------------------ measuring


class ServerTimer:
    """ASGI wrapper: milliseconds from the request's arrival to its last response byte."""

    def __init__(self, app) -> None:
        self.app, self.last_ms = app, None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def timed_send(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.last_ms = (time.perf_counter() - started) * 1000

        await self.app(scope, receive, timed_send)


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    minimum: str  # the lowest role that may see it
    form: str | None = None  # posted (urlencoded) instead of a GET
    expect: tuple[str, ...] = ()  # text the page must show (checked once, when warming)

    def request(self, client, account: str, deal: str):
        path = self.path.format(account=account, deal=deal)
        if self.form is None:
            return path, client.get(path)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN}
        return path, client.post(path, content=f"{self.form}&csrf={client.csrf}", headers=headers)


def pages(client) -> list[Page]:
    """Every page and variant; ids and next-page links are taken from the app's own answers."""
    worst = first_link(client, "/dashboard/worklist", r"/dashboard/accounts/[^\"?]+")
    deal = first_link(client, "/dashboard/opportunities", r"/dashboard/opportunities/[^\"?]+")
    deals, account = "/dashboard/opportunities", "/dashboard/accounts/{account}"
    filtered = "/dashboard/worklist?sort=arr_at_risk&segment=smb&band=high"
    owner = f"/dashboard/worklist?owner={SALES_REPS[0]}&band=medium"
    search = "/dashboard/worklist?q=A0012"
    return [
        Page("sign-in form", "/dashboard/login", "retention"),
        Page("worklist", "/dashboard/worklist", "retention"),
        Page("worklist page 2", next_link(client, "/dashboard/worklist"), "retention"),
        Page("worklist sorted+filtered", filtered, "retention"),
        Page("worklist owner+band", owner, "retention"),
        Page("worklist search", search, "retention"),
        Page("worklist search page 2", next_link(client, search), "retention"),
        Page("worklist filtered page 2", next_link(client, filtered), "retention"),
        Page("CSV filtered", "/dashboard/worklist.csv?segment=smb&band=high", "retention"),
        Page("CSV search", "/dashboard/worklist.csv?q=A0012", "retention"),
        Page("CSV whole worklist", "/dashboard/worklist.csv", "retention"),
        Page("account (top)", worst, "retention"),
        Page("account (rotating)", account, "retention"),
        Page("account what-if (live)", f"{account}/what-if", "retention", WHAT_IF, ("data-after",)),
        Page("opportunity list", "/dashboard/opportunities", "retention"),
        Page("opportunity list by value", f"{deals}?sort=expected_value", "retention"),
        Page("opportunity (top)", deal, "retention"),
        Page("opportunity (rotating)", "/dashboard/opportunities/{deal}", "retention"),
        Page("models", "/dashboard/models", "retention", expect=MODELS_PAGE),
        Page("drivers churn", "/dashboard/drivers", "manager"),
        Page("drivers churn by segment", "/dashboard/drivers?by=segment", "manager"),
        Page("drivers deal_win by stage", "/dashboard/drivers?target=deal_win&by=stage", "manager"),
        Page("teams", "/dashboard/teams", "manager"),
        Page("team sales", "/dashboard/teams/sales", "manager"),
        Page("rep profile", f"/dashboard/reps/{SALES_REPS[5]}", "manager"),
        Page("contribution", "/dashboard/contribution", "manager"),
    ]


def first_link(client, path: str, pattern: str) -> str:
    found = re.search(pattern, client.get(path).text)
    if found is None:
        raise RuntimeError(f"{path} links to nothing matching {pattern}")
    return html.unescape(found.group(0))


def next_link(client, path: str) -> str:
    return first_link(client, path, r'(?<=rel="next" href=")[^"]+')


ORIGIN = "http://testserver"  # TestClient's base URL: what a browser sends as `Origin`


def form_token(client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    if found is None:
        raise RuntimeError(f"{path} has no form token")
    return found.group(1)


def sign_in(client, role: str) -> None:
    """Sign in through the form, as a browser would; keeps the session's form token on `client`."""
    client.cookies.clear()
    response = client.post(
        "/dashboard/login",
        data={
            "key": KEYS[role],
            "next": "/dashboard/worklist",
            "csrf": form_token(client, "/dashboard/login"),
        },
        headers={"Origin": ORIGIN},
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in as {role} failed: {response.status_code}")
    client.csrf = form_token(client, "/dashboard/worklist")


def warm(client, listed: list[Page], ids: dict) -> None:
    """Request every page once, so per-run work (the account index, the CSV lines, the manager
    views) is done before anything is timed; each must answer 200 and show its `expect` texts."""
    sign_in(client, "admin")
    for page in listed:
        path, response = page.request(client, ids["account"][0], ids["deal"][0])
        missing = [text for text in page.expect if text not in response.text]
        if response.status_code != 200 or missing:
            raise RuntimeError(f"{path}: {response.status_code}, lacks {missing}")


def measure(client, timer: ServerTimer, page: Page, requests: int, ids: dict) -> list[float]:
    """Server ms per request; the rotating pages cycle through the sampled ids."""
    times = []
    for i in range(requests):
        account, deal = (ids[k][(i + 1) % len(ids[k])] for k in ("account", "deal"))
        path, response = page.request(client, account, deal)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        times.append(timer.last_ms)
    return times


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def run_pages(client, timer: ServerTimer, requests: int, ids: dict, only: str) -> list[tuple]:
    """One row per (page, role that may see it): name, role, server ms per request. Lower roles
    must be refused the pages above them (403)."""
    sign_in(client, "manager")
    listed = [p for p in pages(client) if only.lower() in p.name.lower()]
    warm(client, listed, ids)
    rows = []
    for role in ROLES:
        sign_in(client, role)
        for page in listed:
            if ROLES.index(role) < ROLES.index(page.minimum):
                refused = page.request(client, "-", "-")[1].status_code
                if refused != 403:
                    raise RuntimeError(f"{role} was not refused {page.path} ({refused})")
                continue
            rows.append((page.name, role, measure(client, timer, page, requests, ids)))
            print(row_text(rows[-1]), flush=True)
    return rows


def row_text(row: tuple) -> str:
    name, role, times = row
    median, high, worst = statistics.median(times), p95(times), max(times)
    verdict = "ok" if high < GOAL_MS else "OVER"
    return f"{name:30s} {role:9s} {median:8.1f} {high:8.1f} {worst:8.1f}  {verdict}"


def sample_ids(settings, count: int = 200) -> dict[str, list[str]]:
    """Random account and deal ids that were scored (the rotating pages cycle through them)."""
    from features.warehouse import connect

    sql = "select distinct entity_id from scores where target = ? order by hash(entity_id) limit ?"
    with connect(settings.warehouse_path, read_only=True) as con:
        accounts = [r[0] for r in con.execute(sql, ["churn", count]).fetchall()]
        deals = [r[0] for r in con.execute(sql, ["deal_win", count]).fetchall()]
    return {"account": accounts, "deal": deals}


def wait_ready(client, seconds: float = 600) -> None:
    """Until the manager views (computed in the background at start-up) are ready."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.get("/readyz").json().get("insights") == "ready":
            return
        time.sleep(0.2)
    raise RuntimeError("the manager views did not become ready")


def summary(rows: list[tuple]) -> None:
    over = [r for r in rows if p95(r[2]) >= GOAL_MS]
    worst = max(rows, key=lambda r: p95(r[2]))
    print(f"\ngoal: every page's server time < {GOAL_MS:.0f} ms (p95 of each page and role)")
    print(f"worst p95: {worst[0]} as {worst[1]}: {p95(worst[2]):.1f} ms")
    if over:
        print("over the goal: " + ", ".join(f"{r[0]} ({r[1]})" for r in over))
    else:
        print("every page met the goal")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def serve_and_measure(settings, requests: int, only: str = "") -> list[tuple]:
    from fastapi.testclient import TestClient

    from serving.app import ServeOptions, create_app

    app = create_app(settings, options=ServeOptions(poll_seconds=3600))
    timer = ServerTimer(app)
    with TestClient(timer, follow_redirects=False) as client:
        started = time.perf_counter()
        wait_ready(client)
        print(f"service ready (manager views computed) in {time.perf_counter() - started:.1f}s")
        ids = sample_ids(settings)
        print(f"\n{'page':30s} {'role':9s} {'median':>8s} {'p95':>8s} {'max':>8s}")
        print(f"{'':40s}(server ms, {requests} requests each)")
        return run_pages(client, timer, requests, ids, only)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30, help="Timed requests per page, role.")
    parser.add_argument("--train-entities", type=int, default=1_500, help="Per training panel.")
    parser.add_argument("--pages", default="", help="Only pages whose name contains this.")
    parser.add_argument("--keep", type=Path, help="Build (or reuse) the workspace here; keep it.")
    args = parser.parse_args(argv)
    from barometer.settings import Settings

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    keys = ",".join(f"{role}:{key}" for role, key in KEYS.items())
    settings = Settings(home=root / "workspace", api_keys=keys, mlflow_tracking_uri=None)
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        done = settings.home / ".bench-built"
        if done.exists():
            print(f"reusing the workspace in {settings.home}")
        else:
            build_workspace(settings, args.accounts, args.train_entities)
            done.touch()
        summary(serve_and_measure(settings, args.requests, args.pages))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
