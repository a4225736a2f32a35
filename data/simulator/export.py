"""Write an export: one CSV or Parquet file per contract table, plus `true_effects.json` and
`planted_reps.json` (the planted sales reps, see `data/simulator/staffing.py`).

Files are first written whole into a temporary folder inside `out_dir`, then each is moved into
place with an atomic rename, so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from data.contract import TABLES, Table
from data.simulator.effects import true_effects_records

ARROW_TYPES = {
    "string": pa.string(),
    "enum": pa.string(),
    "timestamp": pa.timestamp("us"),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}
FORMATS = ("csv", "parquet")
EFFECTS_FILE = "true_effects.json"
PLANTED_FILE = "planted_reps.json"
PLANTED_KEY = "planted_reps"
Chunk = Mapping[str, pd.DataFrame]


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([(c.name, ARROW_TYPES[c.kind]) for c in table.columns])


def to_arrow(df: pd.DataFrame, table: Table) -> pa.Table:
    """The frame as an Arrow table with the contract's columns and types."""
    return pa.Table.from_pandas(
        df[list(table.names)], schema=arrow_schema(table), preserve_index=False
    )


def iso_timestamps(t: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 text without offset (`2024-03-04T10:00:00`, read as UTC)."""
    for i, f in enumerate(t.schema):
        if pa.types.is_timestamp(f.type):
            text = pc.cast(t.column(i).cast(pa.timestamp("s")), pa.string())  # "... 10:00:00"
            text = pc.replace_substring(text, " ", "T", max_replacements=1)
            t = t.set_column(i, f.name, text)
    return t


class _Writers:
    """One open writer per table, created on first write."""

    def __init__(self, folder: Path, fmt: str) -> None:
        self.folder, self.fmt, self.open = folder, fmt, {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, t: pa.Table) -> None:
        if name not in self.open:
            path = self.folder / f"{name}.{self.fmt}"
            self.open[name] = (
                pcsv.CSVWriter(
                    path,
                    iso_timestamps(t).schema,
                    write_options=pcsv.WriteOptions(quoting_style="needed"),
                )
                if self.fmt == "csv"
                else pq.ParquetWriter(path, t.schema, compression="zstd")
            )
        self.open[name].write_table(iso_timestamps(t) if self.fmt == "csv" else t)
        self.rows[name] = self.rows.get(name, 0) + t.num_rows

    def close(self) -> None:
        for w in self.open.values():
            w.close()


def _chunks(tables: Chunk | Iterable[Chunk]) -> Iterable[Chunk]:
    return [tables] if isinstance(tables, Mapping) else tables


def _write_all(chunks: Iterable[Chunk], folder: Path, fmt: str) -> dict[str, int]:
    writers = _Writers(folder, fmt)
    planted: list[dict] = []
    try:
        for chunk in chunks:
            for name, df in chunk.items():
                if name == PLANTED_KEY:
                    planted += df.to_dict("records")
                    continue
                writers.write(name, to_arrow(df, TABLES[name]))
        for name, table in TABLES.items():  # every table gets a file, even if empty
            if name not in writers.rows:
                writers.write(name, arrow_schema(table).empty_table())
    finally:
        writers.close()
    (folder / EFFECTS_FILE).write_text(json.dumps(true_effects_records(), indent=2) + "\n")
    (folder / PLANTED_FILE).write_text(json.dumps(planted, indent=2) + "\n")
    return writers.rows


def write_export(
    tables: Chunk | Iterable[Chunk], out_dir: str | Path, fmt: str = "csv"
) -> dict[str, int]:
    """Write the tables (one dict, or an iterable of chunks of rows) to `out_dir`.

    Returns rows written per table. Files of the other format left by an earlier export are
    removed so the folder holds exactly one export.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".simulate-", dir=out))
    try:
        rows = _write_all(_chunks(tables), staging, fmt)
        for name in TABLES:
            for other in FORMATS:
                (out / f"{name}.{other}").unlink(missing_ok=True) if other != fmt else None
            os.replace(staging / f"{name}.{fmt}", out / f"{name}.{fmt}")
        os.replace(staging / EFFECTS_FILE, out / EFFECTS_FILE)
        os.replace(staging / PLANTED_FILE, out / PLANTED_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return rows
