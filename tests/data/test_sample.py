"""data/sample is the committed tiny export: exactly what the documented command produces."""

from __future__ import annotations

from pathlib import Path

from data.contract import TABLES
from data.simulator import EFFECTS_FILE, PLANTED_FILE, simulate_chunks, write_export

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
REGENERATE = "barometer simulate --out data/sample --accounts 25 --seed 7"


def test_sample_is_small_and_complete():
    files = {p.name for p in SAMPLE.iterdir()}
    assert files == {f"{n}.csv" for n in TABLES} | {EFFECTS_FILE, PLANTED_FILE}
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 1_000_000


def test_sample_matches_the_simulator(tmp_path):
    write_export(simulate_chunks(25, seed=7), tmp_path)
    for name in sorted(p.name for p in SAMPLE.iterdir()):
        same = (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes()
        assert same, f"data/sample/{name} is stale; regenerate with `{REGENERATE}`"
