"""Faults: `kill -9` at random points during ingest, features, train, promote and score; two
commands at once on one workspace; disk full while writing `score --out`.

A small workspace (simulated export → ingest → features → a fast deal-win model → champion →
scores) is prepared once. Each kill runs on a fresh copy of it: after the kill every warehouse table
is either exactly as before or exactly as after a complete run, no scoring run is partial, the
champion alias is the old or the new version and loads, and re-running the command succeeds.
`BAROMETER_FAULT_KILLS` sets the kills per command (default 2); the seed is fixed.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from barometer.settings import Settings
from tests.reliability.helpers import REPO, tally_printer

pytestmark = pytest.mark.slow

BAROMETER = REPO / ".venv" / "bin" / "barometer"
KILLS = int(os.environ.get("BAROMETER_FAULT_KILLS", 2))
TARGET = "churn"
FAST_CONFIG = """
target: churn
split: {test_cutoffs: 3, holdout_cutoffs: 3, folds: 3}
lightgbm: {learning_rate: 0.05, num_leaves: 15, min_data_in_leaf: 50, max_rounds: 400,
           early_stopping_rounds: 30, num_threads: 1}
calibration: [platt]
guards: {min_positives: 20, min_negatives: 20, min_auc_margin: 0.0, leakage: warn}
heuristic: {recency: days_since_last_touch, recency_direction: 1,
            frequency: touches_per_week_90d, frequency_direction: -1}
bgnbd: {enabled: false}
report: {value_column: arr, segment_columns: [segment], bootstrap: 20}
promotion: {metric: roc_auc, margin: 0.0}
"""
TALLY = {"injected": 0, "survived": 0}
tally = tally_printer(
    lambda: f"faults injected: {TALLY['injected']}, survived: {TALLY['survived']}"
)
# Tables that record when they were written: checked by their own rules below, not by equality.
TIMESTAMPED = {"ingest_log", "rejects", "scores", "features_commit"}


def barometer(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "BAROMETER_HOME": str(home), "COLUMNS": "200"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen(
        [str(BAROMETER), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(home: Path, *args: str, timeout: float = 600) -> tuple[int, str, float]:
    """Run a command to the end: (exit code, output, seconds)."""
    start = time.perf_counter()
    child = barometer(home, *args)
    out, _ = child.communicate(timeout=timeout)
    return child.returncode, out, time.perf_counter() - start


def table_sums(home: Path) -> dict[str, tuple]:
    """Per warehouse table: (row count, order-free hash of all rows)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        return {
            n: con.execute(f'select count(*), sum(hash(t)::hugeint) from "{n}" t').fetchone()
            for n in names
        }
    finally:
        con.close()


def scoring_runs(home: Path) -> list[tuple]:
    """(target, as_of, scored_at, rows) per scoring run in the warehouse."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(
            "select target, as_of, scored_at, count(*) from scores group by all order by all"
        ).fetchall()
    finally:
        con.close()


def champion(home: Path) -> str | None:
    """The champion alias's version, after checking its artefact really loads."""
    from barometer.model.store import ChampionProvider, champion_version

    settings = Settings(home=home)
    info = champion_version(settings, TARGET)
    if info is None:
        return None
    assert ChampionProvider(settings).load(TARGET).version == info.version
    return info.version


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    """The prepared workspace, its export folders (v1 and a changed v2) and the fast config."""
    from data.simulator import simulate, write_export
    from features.build import build_all
    from features.ingest.run import ingest
    from training.lifecycle import promote
    from training.runs import resolve_config, train_target

    root = tmp_path_factory.mktemp("faults")
    settings = Settings(home=root / "workspace")
    settings.ensure_home()
    tables = simulate(300, seed=7)
    write_export(tables, root / "v1", fmt="csv")
    changed = {**tables, "accounts": tables["accounts"].assign(segment="enterprise")}
    write_export(changed, root / "v2", fmt="csv")
    (root / "fast.yaml").write_text(FAST_CONFIG)
    ingest(root / "v1", settings)
    build_all(settings)
    config = resolve_config(TARGET, root / "fast.yaml")
    for _ in range(2):  # a champion and a newer candidate, so promote has something to move
        assert not train_target(settings, config).refusals
    promote(settings, TARGET, metric="roc_auc", margin=0.0, version="1", force=True)
    from barometer.model.store import ChampionProvider
    from barometer.scoring import job
    from barometer.scoring.reasons import load_registry

    job.run(settings, ChampionProvider(settings).load(TARGET), None, None, load_registry())
    return {"root": root, "home": settings.home, "config": root / "fast.yaml"}


def commands(base: dict) -> dict[str, tuple[str, ...]]:
    root = base["root"]
    return {
        "ingest": ("ingest", str(root / "v2")),
        "features": ("features",),
        "train": ("train", "--target", TARGET, "--config", str(base["config"])),
        "promote": ("promote", "--target", TARGET, "--version", "2", "--force"),
        "score": ("score", "--target", TARGET),
    }


def copy_workspace(base: dict, dest: Path) -> Path:
    shutil.copytree(base["home"], dest)
    (dest / "warehouse.lock").unlink(missing_ok=True)
    return dest


def assert_consistent(before: dict, killed: dict, after: dict, stray_ok: set[str]) -> list[str]:
    """Every table is either its old or its new self; returns the tables that changed."""
    changed = []
    for name, value in killed.items():
        if name in stray_ok or name in TIMESTAMPED:
            continue
        assert value in (before.get(name), after.get(name)), f"table {name} is partial: {value}"
        changed += [name] if value != before.get(name) else []
    return changed


@pytest.mark.parametrize("command", ["ingest", "features", "train", "promote", "score"])
def test_kill_9_at_random_points_leaves_a_usable_workspace(base, command, tmp_path):
    rng = random.Random(f"kill-{command}")
    args = commands(base)[command]
    code, out, seconds = finish(copy_workspace(base, tmp_path / "timing"), *args)
    assert code == 0, out
    before, champion_before = table_sums(base["home"]), champion(base["home"])
    for trial in range(KILLS):
        home = copy_workspace(base, tmp_path / f"trial{trial}")
        child = barometer(home, *args)
        time.sleep(rng.uniform(0.2, 1.0) * seconds)
        child.send_signal(signal.SIGKILL)
        child.communicate()
        TALLY["injected"] += 1
        killed, champion_killed = table_sums(home), champion(home)
        runs_killed = scoring_runs(home)
        code, out, _ = finish(home, *args)
        assert code == 0, f"re-run of {command} after the kill failed:\n{out}"
        after, champion_after = table_sums(home), champion(home)
        assert_consistent(before, killed, after, stray_ok={"_ingest_stage"})
        assert "_ingest_stage" not in after
        assert champion_killed in (champion_before, champion_after)
        if command != "promote":
            assert champion_killed == champion_before == champion_after
        per_run = {rows for _, _, _, rows in runs_killed}
        assert len(per_run) <= 1, f"a partial scoring run: {runs_killed}"
        TALLY["survived"] += 1
    print(f"\n{command}: {KILLS} kill(s) survived (full run {seconds:.1f}s)")


def test_two_ingests_at_once_one_waits_or_refuses_clearly(base, tmp_path):
    home = copy_workspace(base, tmp_path / "two")
    code, out, _ = finish(
        copy_workspace(base, tmp_path / "ref"), "ingest", str(base["root"] / "v2")
    )
    assert code == 0, out
    expected = table_sums(tmp_path / "ref")
    first = barometer(home, "ingest", str(base["root"] / "v2"))
    second = barometer(home, "ingest", str(base["root"] / "v2"))
    outs = [c.communicate()[0] for c in (first, second)]
    codes = [first.returncode, second.returncode]
    assert 0 in codes, outs
    for code, out in zip(codes, outs, strict=True):
        assert code in (0, 2), out
        assert "Traceback" not in out
        if code == 2:
            assert "busy" in out or "in use" in out, out
    final = table_sums(home)
    for name in ("accounts", "activities", "opportunities"):
        assert final[name] == expected[name]


def test_score_while_train_runs_both_finish_or_one_refuses_clearly(base, tmp_path):
    home = copy_workspace(base, tmp_path / "busy")
    args = commands(base)
    train = barometer(home, *args["train"])
    time.sleep(5)
    score_code, score_out, _ = finish(home, *args["score"])
    train_out = train.communicate()[0]
    assert train.returncode == 0, train_out
    assert "Traceback" not in score_out
    assert score_code == 0 or "busy" in score_out or "in use" in score_out, score_out
    assert len({rows for *_, rows in scoring_runs(home)}) == 1
    assert champion(home) == champion(base["home"])


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 kB tmpfs, nearly full; skipped with the reason when mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("mount -t tmpfs is not permitted in this sandbox")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_while_writing_scores_fails_cleanly(base, tiny_disk, tmp_path):
    home = copy_workspace(base, tmp_path / "full")
    (tiny_disk / "filler").write_bytes(b"\0" * 56 * 1024)
    out = tiny_disk / "scores.csv"
    code, output, _ = finish(home, "score", "--target", TARGET, "--out", str(out))
    assert code != 0, output
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"], "half-written file left"
    assert "No space left" in output or "space" in output.lower(), output


def test_disk_full_error_is_a_message_not_a_traceback(base, tiny_disk, tmp_path):
    home = copy_workspace(base, tmp_path / "full2")
    (tiny_disk / "filler").write_bytes(b"\0" * 56 * 1024)
    code, output, _ = finish(home, "score", "--target", TARGET, "--out", str(tiny_disk / "s.csv"))
    assert code == 1 and "Traceback" not in output, output
