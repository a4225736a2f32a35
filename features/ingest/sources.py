"""What every adapter hands to the loader: a `Source`, a SQL select of one file as contract columns.

Adapters never touch the warehouse tables. They describe, per file, a DuckDB select that yields
`_problem` (why a row is malformed, or NULL), optionally `_row` (the 1-based data row number), and
VARCHAR columns named after contract columns; the loader types, validates and loads them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


class IngestError(ValueError):
    """A file (or the whole ingest) cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class Source:
    """One file's rows for one contract table, as a SQL select of VARCHAR contract columns.

    `has_row` says the select already yields `_row` (the 1-based data row number in the file);
    otherwise the select preserves the file's row order and the loader numbers rows itself.
    `inputs` are the files the select reads (their views switch to the tolerant reader when
    DuckDB's strict one refuses them). `formats` names the date format of mapped columns, for the
    reject reasons; `origins` the file's own column(s) behind each mapped contract column, so a
    summary can say `created_at (engage_date)`.
    """

    table: str
    file: Path
    select: str
    columns: tuple[str, ...]
    has_row: bool = False
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    label: str = ""
    inputs: tuple[Path, ...] = ()
    formats: tuple[tuple[str, str], ...] = ()
    origins: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """How summaries and rejects name this source (the file, plus what was derived)."""
        return self.label or str(self.file)


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def file_sha256(path: Path) -> str:
    """The file's SHA-256, recorded in `ingest_log`."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Plan:
    """What an adapter found: sources per table plus notes for the summary."""

    sources: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> set[str]:
        return {s.table for s in self.sources}
