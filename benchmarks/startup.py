"""`make bench-startup`: what each `barometer` command spends before and around its work.

Every command of the demo runs as its own process, in order, under `python -X importtime`, on a
small simulated workspace (`--accounts` accounts over `--months` months, in a temporary folder;
enough history that both models register, so promote, explain and score have a champion).
For each command the table shows its wall time, the seconds it spent importing (the sum of the
top-level imports `-X importtime` reports: the libraries the command loads, needed or not) and
which heavy libraries it loaded. Start-up overhead is the interpreter's start plus the imports;
the goal is at most 3 s per command on 2 cores.

The baseline, measured in the same run, is a bare interpreter (`python -c pass`) and `barometer
version` (the CLI's floor: Typer, Rich and the command table); each command's overhead is also
shown as a multiple of that floor. Commands that may run together stay in one process, so the
figures are per process, the way `make` runs them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

HEAVY = ("mlflow", "shap", "lightgbm", "sklearn", "ibis", "pyspark", "duckdb", "fastapi")
GOAL_SECONDS = 3.0


@dataclass
class Run:
    """One command's process: wall seconds, import seconds and the heavy libraries it loaded."""

    label: str
    wall: float
    imports: float
    heavy: tuple[str, ...]
    ok: bool


def import_seconds(report: str) -> tuple[float, tuple[str, ...]]:
    """Total import seconds and the heavy top-level packages from `-X importtime`'s report.

    Lines look like `import time: self | cumulative | <indent>name`; a top-level import has no
    indent, so summing their cumulative times counts every import once."""
    total, seen = 0, set()
    for line in report.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue  # the header line
        package = name.strip().split(".")[0]
        if package in HEAVY:
            seen.add(package)
        if not name.startswith("  "):  # one space follows the bar; top level has no indent
            total += int(cumulative)
    return total / 1e6, tuple(p for p in HEAVY if p in seen)


def run(label: str, args: list[str], env: dict[str, str], console: Console) -> Run:
    """Run `python -X importtime <args>` and measure it."""
    console.print(f"[dim]… {label}[/dim]")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    imports, heavy = import_seconds(proc.stderr)
    if proc.returncode != 0:
        tail = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
        console.print(f"[red]{label} failed ({proc.returncode})[/red]: " + "\n".join(tail[-8:]))
    return Run(label, wall, imports, heavy, proc.returncode == 0)


def commands(data: Path) -> list[tuple[str, list[str]]]:
    """The demo's commands in order (`make demo` without the server), then `--help`s."""
    cli = ["-m", "barometer.cli"]
    steps = [
        ("simulate", ["simulate", "--out", str(data)]),
        ("ingest", ["ingest", str(data)]),
        ("features", ["features"]),
        ("train churn", ["train", "--target", "churn"]),
        ("train deal_win", ["train", "--target", "deal_win"]),
        ("evaluate churn", ["evaluate", "--target", "churn"]),
        ("promote churn", ["promote", "--target", "churn"]),
        ("promote deal_win", ["promote", "--target", "deal_win"]),
        ("explain churn", ["explain", "--target", "churn"]),
        ("score churn", ["score", "--target", "churn"]),
        ("score deal_win", ["score", "--target", "deal_win"]),
        ("monitor churn", ["monitor", "--target", "churn"]),
        ("serve --demo-key", ["serve", "--demo-key"]),
        ("--help", ["--help"]),
        ("score --help", ["score", "--help"]),
    ]
    return [(label, cli + args) for label, args in steps]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--months", type=int, default=30)
    args = parser.parse_args()
    console = Console()
    console.print(f"Load average at start: {load()} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = {**os.environ, "BAROMETER_HOME": str(Path(tmp) / "home")}
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            env.pop(name, None)
        data = Path(tmp) / "export"
        bare = run("python -c pass", ["-c", "pass"], env, console)
        floor = run("barometer version", ["-m", "barometer.cli", "version"], env, console)
        steps = commands(data)
        steps[0] = (
            steps[0][0],
            steps[0][1] + ["--accounts", str(args.accounts), "--months", str(args.months)],
        )
        runs = [run(label, argv, env, console) for label, argv in steps]
    floor_overhead = floor.wall
    table = Table(title=f"barometer start-up ({args.accounts} accounts, {args.months} months)")
    for column in ("command", "wall s", "imports s", "overhead s", "× floor", "heavy imports"):
        left = column in ("command", "heavy imports")
        table.add_column(column, justify="left" if left else "right")
    for r in [bare, floor, *runs]:
        overhead = bare.wall + r.imports if r is not bare else bare.wall
        mark = "" if overhead <= GOAL_SECONDS else " [red]>3[/red]"
        table.add_row(
            r.label + ("" if r.ok else " [red](failed)[/red]"),
            f"{r.wall:.2f}",
            f"{r.imports:.2f}",
            f"{overhead:.2f}{mark}",
            f"{overhead / floor_overhead:.1f}",
            ", ".join(r.heavy),
        )
    console.print(table)
    console.print(
        "overhead = bare interpreter start + the command's imports (every library it loads, also "
        f"the ones its work needs); goal ≤ {GOAL_SECONDS:.0f} s. × floor: against `barometer "
        "version`'s wall time in this run."
    )
    console.print(f"Load average at end: {load()}")
    if not all(r.ok for r in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
