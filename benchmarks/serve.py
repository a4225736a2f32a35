"""`make bench-serve`: loopback load on one uvicorn worker against a bare FastAPI baseline.

    python -m benchmarks.serve --accounts 50000 [--seconds 5] [--connections 8]

The workspace (a temporary folder, removed at the end) is built fast rather than simulated:
N accounts get random values for every account feature of the registry; a small calibrated
LightGBM churn model (300 trees of 15 leaves, as `experiments/churn.yaml` sets) is trained on up to
20k of them against a synthetic label; the real scoring job's pure part
(`barometer.scoring.scores.score_frame`, TreeSHAP reasons) scores all N twice (two monthly runs, so
responses carry the change since the previous scoring), stored
with `barometer.scoring.history.append_scores`. The features are synthetic; the model's size, the
feature count, the response shapes and every code path of the service are the real ones.

Two servers are measured in the same run, each one uvicorn worker on 127.0.0.1 started exactly as
`barometer serve` starts it (uvicorn's defaults pick uvloop and httptools when installed), each in
its own process:
- the service (`serving.app.create_app`, JSON access log to a file, keys, metrics);
- the baseline: a bare FastAPI app with one `GET /hello`.
Both stay up; the baseline is measured again just before each scenario and each scenario's
"vs bare" uses that adjacent figure (on a shared machine the load drifts between scenarios).
`--workspace DIR` keeps the workspace for later runs; `--only TEXT` runs matching scenarios.

The service builds every scored account's churn-risk body when it loads the scoring run
(`serving.bodies`), so any stored answer is bytes in memory (`serving.fastpath` sends them before
routing). The stored churn-risk scenario asks for 2,000 accounts drawn at random; "each account
once" walks all the accounts in a random order (no account asked twice, as when most accounts are
looked at once per scoring run): both are checked against the goals. On-demand scoring
(`live=true`) runs TreeSHAP on the account's latest feature row for every request (also answered
before routing when the champion's rows are prepared). The report gives the service's time from
process start to ready (scores read, bodies built, manager views computed) and its resident
memory (RSS) after startup and at the end.
The load generator is a third process: asyncio with `--connections` keep-alive connections, each
sending its next request when the previous answer arrived (closed loop), for `--seconds` per
scenario after a one-second warm-up, at most `--max-requests` requests. Latency is measured per
request by the generator (so it includes the loopback and the client). Everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

KEY = "bench-retention-key-0123456789"
SEGMENTS = ["smb", "mid_market", "enterprise"]
CATEGORY_VALUES = {
    "segment": SEGMENTS,
    "industry": ["software", "retail", "health", "finance", "manufacturing"],
    "region": ["emea", "amer", "apac", "latam"],
}
AS_OF = (datetime(2026, 9, 1), datetime(2026, 10, 1))
GOALS = {"churn_p99_ms": 10.0, "churn_rps": 1000.0, "live_p99_ms": 30.0, "vs_bare": 0.5}


# ------------------------------------------------------------------ the workspace


def account_features(n: int, seed: int) -> pd.DataFrame:
    """Every registry account feature with plausible random values."""
    from features.registry import features_for

    rng = np.random.default_rng(seed)
    columns = {"account_id": [f"ACC{i:06d}" for i in range(n)]}
    for feature in features_for("account"):
        if feature.kind == "categorical":
            columns[feature.name] = rng.choice(CATEGORY_VALUES.get(feature.name, ["a", "b"]), n)
        elif feature.kind == "bool":
            columns[feature.name] = (rng.random(n) < 0.3).astype(float)
        elif feature.unit == "share" or feature.name.endswith("_share_90d"):
            columns[feature.name] = rng.random(n).round(3)
        else:
            values = rng.exponential(20, n).round(1)
            columns[feature.name] = np.where(rng.random(n) < 0.05, np.nan, values)
    return pd.DataFrame(columns)


def train_model(frame: pd.DataFrame, seed: int = 0):
    """A small calibrated LightGBM churn model on a synthetic label (silence and cases raise it)."""
    import lightgbm as lgb

    from barometer.model.artefact import Calibrator, ScoringModel
    from barometer.model.encoder import FeatureEncoder
    from features.registry import BY_NAME

    names = [c for c in frame.columns if c != "account_id"]
    encoder = FeatureEncoder({n: BY_NAME[n].kind for n in names}).fit(frame)
    sample = frame.sample(min(len(frame), 20_000), random_state=seed)
    rng = np.random.default_rng(seed)
    logit = (
        -2.0
        + 0.03 * sample["days_since_last_touch"].fillna(20)
        + 0.15 * sample["open_cases"].fillna(0).clip(upper=10)
        - 0.5 * sample["is_nps_promoter"].fillna(0)
    )
    label = (rng.random(len(sample)) < 1 / (1 + np.exp(-logit))).astype(int)
    cat_index = [names.index(c) for c in encoder.categories_]
    data = lgb.Dataset(encoder.transform(sample), label, categorical_feature=cat_index)
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": 15,
        "min_data_in_leaf": 50,
        "learning_rate": 0.05,
        "seed": seed,
    }
    booster = lgb.train(params, data, 300)
    return ScoringModel("churn", encoder, booster, Calibrator("platt", 1.0, 0.0))


def build_workspace(home: Path, n: int) -> dict:
    """Features, a model and two scoring runs of `n` accounts in a fresh warehouse."""
    from barometer.scoring.history import append_scores
    from barometer.scoring.reasons import load_registry
    from barometer.scoring.scores import score_frame
    from features.warehouse import connect, replace_table

    started = time.perf_counter()
    frames = [account_features(n, seed) for seed in (1, 2)]
    model = train_model(frames[1])
    model.save(home / "model")
    model.num_threads = 0  # the batch job uses every core (as `barometer score` does)
    built = time.perf_counter()
    registry = load_registry()
    rng = np.random.default_rng(3)
    context = pd.DataFrame(
        {
            "segment": frames[1]["segment"],
            "owner_rep_id": rng.choice([f"REP{i:03d}" for i in range(40)], n),
            "team": rng.choice(["sales", "account_management"], n),
            "stage": None,
            "value": rng.integers(5, 500, n) * 1000.0,
        }
    )
    timings = []
    with connect(home / "warehouse.duckdb") as con:
        for features, as_of in zip(frames, AS_OF, strict=True):
            t0 = time.perf_counter()
            scored = score_frame(
                model,
                features,
                context.assign(segment=features["segment"]),
                as_of=as_of,
                model_version="1",
                scored_at=datetime.now(UTC).replace(tzinfo=None),
                registry=registry,
            )
            append_scores(con, scored)
            timings.append(time.perf_counter() - t0)
        replace_table(con, "features_account", frames[1].assign(cutoff=AS_OF[1]))
    return {
        "features_and_model_s": built - started,
        "score_and_store_s": timings,
        "ids": frames[1]["account_id"].tolist(),
        "rows": frames[1].drop(columns="account_id"),
    }


def reuse_workspace(home: Path) -> dict:
    """A workspace `build_workspace` left in `home` earlier (`--workspace`): its ids and rows."""
    from features.warehouse import connect

    with connect(home / "warehouse.duckdb", read_only=True) as con:
        frame = con.execute("select * exclude (cutoff) from features_account").df()
    return {
        "features_and_model_s": float("nan"),
        "score_and_store_s": [],
        "ids": frame["account_id"].tolist(),
        "rows": frame.drop(columns="account_id"),
    }


def workspace(folder: Path | None, n: int):
    """A temporary workspace, or `folder` (built there the first time, reused after)."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="bench-serve-") as temporary:
            home = Path(temporary)
            print(f"building a workspace of {n:,} scored accounts ...", flush=True)
            yield home, build_workspace(home, n)
        return
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "warehouse.duckdb").exists():
        print(f"reusing the workspace in {folder}", flush=True)
        yield folder, reuse_workspace(folder)
        return
    print(f"building a workspace of {n:,} scored accounts in {folder} ...", flush=True)
    yield folder, build_workspace(folder, n)


# ------------------------------------------------------------------ the two servers


def serve(kind: str, home: Path, port: int) -> None:
    """Run one server in this process until SIGINT (`--serve app|bare`)."""
    import uvicorn
    from fastapi import FastAPI

    if kind == "bare":
        app = FastAPI()

        @app.get("/hello")
        async def hello() -> dict:
            return {"message": "hello"}

    else:
        from barometer.model.artefact import ScoringModel
        from barometer.model.store import LoadedModel, StaticProvider
        from barometer.settings import Settings
        from serving.app import ServeOptions, create_app
        from serving.observability import configure_logging

        configure_logging(stream=open(home / "service.log", "a"))  # noqa: SIM115 - process-long
        model = ScoringModel.load(home / "model")
        provider = StaticProvider({"churn": LoadedModel("churn", model, "1")})
        settings = Settings(home=home, api_keys=f"retention:{KEY}")
        options = ServeOptions(targets=("churn",), poll_seconds=3600)
        app = create_app(settings, provider=provider, options=options)
    # Exactly as `barometer serve`: one worker, uvicorn's default loop and HTTP implementation.
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, access_log=False, log_config=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(kind: str, home: Path, timeout: float = 180) -> tuple[subprocess.Popen, int]:
    """Start one server; returns once it answers (the service: once its manager views are
    computed). Its time to ready is kept on the process as `ready_s`."""
    port = free_port()
    started = time.perf_counter()
    command = [sys.executable, "-m", "benchmarks.serve", "--serve", kind, "--home", str(home)]
    process = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    path = "/hello" if kind == "bare" else "/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {kind} server exited with {process.returncode}")
        status, body = http_get(port, path)
        # The service is measured once its manager views are no longer being computed.
        if status == 200 and (kind == "bare" or json.loads(body)["insights"] != "computing"):
            process.ready_s = time.perf_counter() - started
            return process, port
        time.sleep(0.3)
    stop(process)
    raise RuntimeError(f"the {kind} server did not start within {timeout:.0f}s")


def http_get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return 0, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]) if head else 0, body


def rss_mb(pid: int) -> float:
    """A process's resident memory (Linux; NaN elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), None)
    return int(line.split()[1]) / 1024 if line else float("nan")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ------------------------------------------------------------------ the load generator


def request(method: str, path: str, body: bytes = b"", key: str | None = KEY) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    if key:
        lines.append(f"X-API-Key: {key}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response off a keep-alive connection: its status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, (await reader.readexactly(length)) if length else b""


async def connection(port, requests, until, budget, latencies, statuses, offset):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < until and budget[0] > 0:
            budget[0] -= 1
            payload = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            writer.write(payload)
            status, _ = await read_response(reader)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def load(port, requests, seconds, connections, max_requests) -> dict:
    """A one-second warm-up (discarded), then `seconds` of closed-loop load."""
    phases = ((1.0, max_requests // 10), (seconds, max_requests))
    for phase, (phase_seconds, budget) in enumerate(phases):
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        started = time.perf_counter()
        until, left = started + phase_seconds, [budget]
        # Each connection walks the list from its own offset; the measured phase starts elsewhere
        # than the warm-up, so a list of distinct requests is not answered from warm-up caches.
        await asyncio.gather(
            *(
                connection(port, requests, until, left, latencies, statuses, offset)
                for offset in (c * 7919 + phase * 4729 for c in range(connections))
            )
        )
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "rps": len(ms) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def load_process(port, requests, seconds, connections, max_requests, queue) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    queue.put(asyncio.run(load(port, requests, seconds, connections, max_requests)))


def measure(port: int, requests: list[bytes], args) -> dict:
    """Run the load generator in its own process and return its figures."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=load_process,
        args=(port, requests, args.seconds, args.connections, args.max_requests, queue),
    )
    process.start()
    result = queue.get(timeout=args.seconds + 120)
    process.join(timeout=30)
    return result


# ------------------------------------------------------------------ the scenarios


def scenarios(ids: list[str], rows: pd.DataFrame) -> dict[str, list[bytes]]:
    rng = np.random.default_rng(11)
    picks = rng.choice(ids, 2000)

    def score_body(k: int, start: int) -> bytes:
        chunk = rows.iloc[start : start + k]
        records = [
            {c: (None if isinstance(v, float) and np.isnan(v) else v) for c, v in r.items()}
            for r in chunk.to_dict("records")
        ]
        return json.dumps({"rows": records}).encode()

    worklists = [
        "/v1/accounts?limit=50",
        "/v1/accounts?limit=50&sort=arr_at_risk",
        "/v1/accounts?limit=50&segment=smb&band=high",
        "/v1/accounts?limit=50&team=sales&sort=arr_at_risk",
    ]
    return {
        "GET churn-risk (stored)": [request("GET", f"/v1/accounts/{a}/churn-risk") for a in picks],
        "GET churn-risk (stored, each account once)": [
            request("GET", f"/v1/accounts/{a}/churn-risk") for a in rng.permutation(ids)
        ],
        "on-demand churn-risk (live=true)": [
            request("GET", f"/v1/accounts/{a}/churn-risk?live=true") for a in picks
        ],
        "POST /v1/score/churn, 1 row": [
            request("POST", "/v1/score/churn", score_body(1, i)) for i in range(200)
        ],
        "POST /v1/score/churn, 100 rows": [
            request("POST", "/v1/score/churn", score_body(100, 100 * i))
            for i in range(min(20, max(1, len(rows) // 100)))
        ],
        "GET worklist (50 per page)": [request("GET", path) for path in worklists],
    }


def report(results: dict, bare: dict, args, build: dict) -> bool:
    print(
        f"\nbench-serve: {args.accounts:,} scored accounts, 1 uvicorn worker, 127.0.0.1, "
        f"{args.connections} connections, {args.seconds:.0f}s per scenario, {os.cpu_count()} CPUs"
    )
    if build["score_and_store_s"]:
        runs = ", ".join(f"{t:.1f}s" for t in build["score_and_store_s"])
        print(
            f"workspace: features + model {build['features_and_model_s']:.1f}s; scoring job "
            f"(TreeSHAP reasons + store) {runs} per run of {args.accounts:,}"
        )
    rows = [("bare FastAPI GET /hello (mean)", bare), *results.items()]
    width = max(len(name) for name, _ in rows)
    header = (
        f"{'scenario':{width}} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} "
        f"{'bare req/s':>10}  statuses"
    )
    print(header + "\n" + "-" * len(header))
    for name, r in rows:
        adjacent = r.get("bare_rps", bare["rps"])  # the baseline measured just before
        print(
            f"{name:{width}} {r['rps']:9,.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['rps'] / adjacent:8.0%} {adjacent:10,.0f}  {r['statuses']}"
        )
    checks = {}
    for name, label in (
        ("GET churn-risk (stored)", "churn-risk"),
        ("GET churn-risk (stored, each account once)", "churn-risk each once"),
    ):
        if churn := results.get(name):
            checks |= {
                f"{label} p99 <= {GOALS['churn_p99_ms']:.0f} ms": churn["p99_ms"]
                <= GOALS["churn_p99_ms"],
                f"{label} >= {GOALS['churn_rps']:.0f} req/s": churn["rps"] >= GOALS["churn_rps"],
                f"{label} >= 50% of bare": churn["rps"] >= GOALS["vs_bare"] * churn["bare_rps"],
            }
    if live := results.get("on-demand churn-risk (live=true)"):
        checks[f"on-demand p99 <= {GOALS['live_p99_ms']:.0f} ms"] = (
            live["p99_ms"] <= GOALS["live_p99_ms"]
        )
    if service := build.get("service"):
        print(
            f"service: ready {service['ready_s']:.1f}s after its process started; RSS "
            f"{service['rss_ready_mb']:,.0f} MB once ready, "
            f"{service['rss_end_mb']:,.0f} MB at the end"
        )
    print("\ngoals: " + "; ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in checks.items()))
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    errors = {n: r["statuses"] for n, r in results.items() if set(r["statuses"]) != {"200"}}
    if errors:
        print(f"non-200 answers: {errors}")
    return not errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="Per scenario.")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=200_000, help="Per scenario.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument(
        "--workspace", type=Path, help="Keep the workspace here and reuse it on later runs."
    )
    parser.add_argument("--only", help="Run only the scenarios whose name contains this text.")
    parser.add_argument("--serve", choices=["app", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.home, args.port)
        return 0
    with contextlib.contextmanager(workspace)(args.workspace, args.accounts) as (home, build):
        args.accounts = len(build["ids"])
        # Both servers stay up (an idle one costs nothing); each scenario is compared with a
        # baseline measured just before it, so a machine whose load drifts skews both alike.
        bare_process, bare_port = start_server("bare", home)
        process, port = start_server("app", home)
        service = {"ready_s": process.ready_s, "rss_ready_mb": rss_mb(process.pid)}
        results, bares = {}, []
        try:
            for name, requests in scenarios(build["ids"], build["rows"]).items():
                if args.only and args.only not in name:
                    continue
                print(f"  {name} ...", flush=True)
                bares.append(measure(bare_port, [request("GET", "/hello", key=None)], args))
                results[name] = measure(port, requests, args) | {"bare_rps": bares[-1]["rps"]}
            service["rss_end_mb"] = rss_mb(process.pid)
        finally:
            stop(process)
            stop(bare_process)
        build = build | {"service": service}
        bare = {
            "rps": float(np.mean([b["rps"] for b in bares])),
            "p50_ms": float(np.mean([b["p50_ms"] for b in bares])),
            "p99_ms": float(np.mean([b["p99_ms"] for b in bares])),
            "statuses": {"200": sum(b["statuses"].get("200", 0) for b in bares)},
        }
        ok = report(results, bare, args, build)
        if args.json:
            figures = {"accounts": args.accounts, "bare": bare, "results": results}
            args.json.write_text(
                json.dumps(
                    figures
                    | {"build": {k: v for k, v in build.items() if k.endswith("_s")}}
                    | {"service": build["service"]},
                    indent=2,
                )
            )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
