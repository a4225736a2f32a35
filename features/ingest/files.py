"""The files of one ingest: which may be read, how they are decoded and parsed, what is said.

- **Confined.** Every file is inside the input folder: a mapping's `file:` is a relative path that
  stays inside it, and a symbolic link may only point to another file inside it.
- **Regular files only,** opened without blocking (a named pipe is refused, never waited on) and
  read with a stall timeout (`BAROMETER_INGEST_READ_TIMEOUT_S`).
- **Errors name the file, never its content** beyond the header's column names.
- **Encoding:** UTF-8 with or without a BOM, UTF-16 with a BOM, or `--encoding`. A file that is not
  UTF-8 and holds no UTF-8 sequence at all is read as Windows-1252 (Latin-1 for the five bytes
  cp1252 leaves undefined), and the summary says so. A file mixing UTF-8 with other bytes keeps
  UTF-8, and the rows holding the other bytes are rejected: no row is ever stored as mojibake.
- **Delimiter:** comma, semicolon, tab or pipe, whichever the header line holds most of.

Each CSV file becomes a DuckDB temp view with `_problem` (NULL, or why the row is malformed) and
the header's columns as text, one row per data row in file order. DuckDB's strict reader serves
the view while it can; when it refuses the file (mixed line endings, a row with the wrong number of
fields, an unbalanced quote, bytes that are not UTF-8), the view is rebuilt from the tolerant
reader's clean copy (`features/ingest/tolerant.py`), in which each malformed row is a row with only
`_problem` set, so the loader rejects it with its row number and the rest loads. Clean copies live
in a scratch folder of the workspace for the length of the ingest.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from features.ingest.sources import IngestError, ident, sql_str
from features.ingest.tolerant import (
    MIXED,
    SURROGATE,
    bom_encoding,
    check_encoding,
    detect_encoding,
    encoding_name,
    normalise,
)

TABULAR_SUFFIXES = (".csv", ".parquet", ".tsv")
PROBLEM = "_problem"
DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
HEAD_BYTES = 1 << 16
MAX_HEAD_BYTES = 1 << 22
CHUNK = 1 << 20
SCRATCH_PREFIX = "ingest-tmp-"

T = TypeVar("T")


# --- reading bytes safely ----------------------------------------------------------------------


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def require_regular(shown: str, path: Path) -> os.stat_result:
    """The file's status; refuses anything but a regular file (pipes, devices, folders)."""
    try:
        status = os.stat(path)
    except OSError as exc:
        raise IngestError(f"{shown}: cannot open the file ({exc.strerror})") from exc
    if not stat.S_ISREG(status.st_mode):
        raise IngestError(
            f"{shown}: {_kind(status.st_mode)}, not a regular file; Barometer reads regular "
            "files only (copy the export into a file first)"
        )
    return status


def with_stall_timeout(shown: str, seconds: float, work: Callable[[Callable[[], None]], T]) -> T:
    """Run `work(progress)` in a daemon thread; give up when it makes no progress for `seconds`.

    `work` calls `progress()` after each read. A stalled read (a hung network drive) cannot be
    interrupted, but the ingest stops waiting for it, says so, and releases the workspace.
    """
    state: dict[str, object] = {"last": time.monotonic()}

    def progress() -> None:
        state["last"] = time.monotonic()

    def run() -> None:
        try:
            state["result"] = work(progress)
        except BaseException as exc:  # handed to the waiting thread
            state["error"] = exc

    thread = threading.Thread(target=run, name=f"read {shown}", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(min(1.0, seconds))
        if thread.is_alive() and time.monotonic() - float(state["last"]) > seconds:  # type: ignore[arg-type]
            raise IngestError(
                f"{shown}: reading stalled for more than {seconds:g} s; is the file on a drive "
                "that stopped answering? (BAROMETER_INGEST_READ_TIMEOUT_S)"
            )
    if "error" in state:
        error = state["error"]
        if isinstance(error, OSError):
            raise IngestError(f"{shown}: cannot read the file ({error.strerror})") from error
        raise error  # type: ignore[misc]
    return state["result"]  # type: ignore[return-value]


def read_bytes(shown: str, path: Path, seconds: float, limit: int | None = None) -> bytes:
    """The file's bytes (the first `limit` when given), opened without blocking, stall-guarded."""

    def work(progress: Callable[[], None]) -> bytes:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for a pipe since the check
                raise IngestError(
                    f"{shown}: not a regular file; Barometer reads regular files only"
                )
            parts: list[bytes] = []
            size = 0
            while limit is None or size < limit:
                block = os.read(fd, CHUNK if limit is None else min(CHUNK, limit - size))
                progress()
                if not block:
                    break
                parts.append(block)
                size += len(block)
            return b"".join(parts)
        finally:
            os.close(fd)

    return with_stall_timeout(shown, seconds, work)


# --- text: encoding, delimiter, header -----------------------------------------------------------


def first_line(text: str) -> str:
    """The text up to the first line break."""
    match = re.search(r"\r|\n", text)
    return text[: match.start()] if match else text


def sniff_delimiter(line: str, default: str = ",") -> str:
    """The delimiter the header line holds most of (outside quotes); `default` when none."""
    counts: Counter[str] = Counter()
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in DELIMITERS:
            counts[ch] += 1
    if not counts:
        return default
    best = max(counts.values())
    return default if counts[default] == best else max(counts, key=lambda d: counts[d])


def check_unique(shown: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse a header that names a column twice (case-insensitively): which one would count?"""
    counts = Counter(c.strip().lower() for c in columns)
    twice = sorted(name for name, n in counts.items() if n > 1)
    if twice:
        raise IngestError(
            f"{shown}: the header names column(s) {', '.join(shown_names(tuple(twice)))} "
            "more than once"
        )
    return columns


def looks_like_header(columns: tuple[str, ...]) -> bool:
    """Column names are short printable words; anything else is content, never to be echoed."""
    return all(len(c) <= 200 and c.isprintable() for c in columns) and len(columns) <= 10_000


def shown_names(columns: tuple[str, ...], most: int = 40) -> list[str]:
    """Column names as an error message may show them: printable, short, and not too many."""
    names = [c if len(c) <= 60 else c[:57] + "..." for c in columns[:most]]
    if len(columns) > most:
        names.append(f"... ({len(columns) - most} more)")
    return names


def describe_header(columns: tuple[str, ...]) -> str:
    """`found: a, b, c` for a real header; otherwise a description that holds none of the text."""
    if not looks_like_header(columns):
        return "the first line does not look like a header row"
    return "found: " + ", ".join(shown_names(columns))


# --- the files of one ingest ---------------------------------------------------------------------


@dataclass
class InputFile:
    """One opened input file and how it is read."""

    shown: str
    real: Path
    columns: tuple[str, ...]
    mtime: datetime
    view: str
    parquet: bool = False
    delimiter: str = ","
    encoding: str = "utf-8"
    tolerant: bool = False
    notes: list[str] = field(default_factory=list)


class Inputs:
    """The files of one ingest, read through DuckDB views on one connection (see module doc)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        root: Path,
        *,
        encoding: str | None = None,
        timeout: float = 30.0,
        scratch: Path | None = None,
    ) -> None:
        self.con = con
        self.scratch_parent = Path(scratch) if scratch else Path(tempfile.gettempdir())
        self._scratch: Path | None = None
        self.root = Path(root)
        if not self.root.exists():
            raise IngestError(f"{root}: no such file or folder")
        self.folder = self.root if self.root.is_dir() else self.root.parent
        self.folder_real = self.folder.resolve()
        self.encoding = check_encoding(encoding) if encoding else None
        self.timeout = timeout
        self.files: dict[Path, InputFile] = {}

    # where files may come from

    def listing(self) -> list[Path]:
        """The tabular files of the input (or the one file given), sorted by name; not opened."""
        if self.root.is_file() or not self.root.is_dir():
            return [self.root]
        return sorted(p for p in self.folder.iterdir() if p.suffix.lower() in TABULAR_SUFFIXES)

    def resolve(self, name: str | Path, what: str = "file") -> Path:
        """A path named by a mapping, confined to the input folder."""
        relative = Path(name)
        if relative.is_absolute() or Path(os.path.normpath(relative)).parts[:1] == ("..",):
            raise IngestError(
                f"{what} {str(name)!r}: a mapping names files by their path inside the input "
                f"folder {self.folder}; absolute paths and paths leading out of it are refused"
            )
        return self.folder / relative

    def confined(self, path: Path) -> Path:
        """The real path of an input file, refused when it (or a link in its path) leaves the
        input folder."""
        real = path.resolve()
        if not real.is_relative_to(self.folder_real):
            raise IngestError(
                f"{path}: a symbolic link to a file outside the input folder; Barometer reads "
                "only files inside the folder it is given (copy the file in instead)"
            )
        return real

    # opening

    def open(self, path: Path) -> InputFile:
        """Check, sniff and register one file (once); `.view` names its DuckDB view."""
        real = self.confined(Path(path))
        if real in self.files:
            return self.files[real]
        shown = str(path)
        status = require_regular(shown, real)
        mtime = datetime.fromtimestamp(status.st_mtime, UTC).replace(tzinfo=None)
        view = f"_file_{len(self.files) + 1}"
        if real.suffix.lower() == ".parquet":
            entry = self._open_parquet(shown, real, mtime, view)
        else:
            entry = self._open_csv(shown, real, mtime, view)
        self.files[real] = entry
        return entry

    def _open_parquet(self, shown: str, real: Path, mtime: datetime, view: str) -> InputFile:
        read_bytes(shown, real, self.timeout, limit=4)
        source = f"read_parquet({sql_str(str(real))}, file_row_number=true)"
        try:
            rows = self.con.execute(
                f"describe select * from read_parquet({sql_str(str(real))})"
            ).fetchall()
        except duckdb.Error as exc:
            raise IngestError(f"{shown}: cannot read the file as Parquet") from exc
        columns = tuple(r[0] for r in rows)
        self.con.execute(
            f"create or replace temp view {view} as select null::varchar as {PROBLEM}, * "
            f"from {source}"
        )
        return InputFile(shown, real, check_unique(shown, columns), mtime, view, parquet=True)

    def _open_csv(self, shown: str, real: Path, mtime: datetime, view: str) -> InputFile:
        head = read_bytes(shown, real, self.timeout, limit=HEAD_BYTES)
        if not head:
            raise IngestError(f"{shown}: the file is empty (no header row)")
        encoding = self.encoding or bom_encoding(head)
        text = None
        if encoding in (None, "utf-8", "utf-8-sig"):
            text = self._utf8_head(shown, real, head)
        if text is None:  # another encoding: the tolerant reader decodes the whole file
            entry = InputFile(shown, real, (), mtime, view)
            self.tolerate(entry, first=True)
            return entry
        line = first_line(text.removeprefix("\ufeff"))
        default = "\t" if real.suffix.lower() == ".tsv" else ","
        delimiter = sniff_delimiter(line, default)
        try:
            columns = tuple(next(csv.reader([line], delimiter=delimiter, strict=True), []))
        except csv.Error as exc:
            raise IngestError(
                f"{shown}: the header row cannot be read: it opens a quote it never closes"
            ) from exc
        if not columns:
            raise IngestError(f"{shown}: the first line is empty (no header row)")
        if not looks_like_header(columns):
            raise IngestError(f"{shown}: {describe_header(columns)}; a CSV file starts with one")
        entry = InputFile(shown, real, check_unique(shown, columns), mtime, view)
        entry.delimiter = delimiter
        if delimiter != default:
            entry.notes.append(f"separated by {DELIMITERS[delimiter]}")
        self._fast_view(entry)
        return entry

    def _utf8_head(self, shown: str, real: Path, head: bytes) -> str | None:
        """The head as text when its first line is UTF-8 (None otherwise); reads more of the file
        while the header line is longer than what was read."""
        limit = HEAD_BYTES
        while b"\n" not in head and b"\r" not in head and len(head) == limit:
            if limit >= MAX_HEAD_BYTES:
                raise IngestError(f"{shown}: the first line is longer than {limit:,} bytes")
            limit *= 4
            head = read_bytes(shown, real, self.timeout, limit=limit)
        end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=len(head))
        try:
            return head[:end].decode("utf-8")
        except UnicodeDecodeError:
            return None

    def _fast_view(self, entry: InputFile) -> None:
        columns = ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in entry.columns)
        reader = (
            f"read_csv({sql_str(str(entry.real))}, auto_detect=false, header=true, "
            f"delim={sql_str(entry.delimiter)}, quote='\"', escape='\"', columns={{{columns}}}, "
            "allow_quoted_nulls=true, strict_mode=true)"
        )
        self.con.execute(
            f"create or replace temp view {entry.view} as select null::varchar as {PROBLEM}, * "
            f"from {reader}"
        )

    def tolerate(self, entry: InputFile, first: bool = False) -> None:
        """Rebuild a CSV file's view from the tolerant reader's clean copy (see module doc)."""
        shown, real = entry.shown, entry.real
        if self.encoding:
            encoding, note = self.encoding, None
        else:
            encoding, note = with_stall_timeout(
                shown, self.timeout, lambda progress: detect_encoding(real, progress)
            )
        default = "\t" if real.suffix.lower() == ".tsv" else ","
        out = self.scratch() / f"{entry.view}.csv"
        try:
            found, delimiter = with_stall_timeout(
                shown,
                self.timeout,
                lambda progress: normalise(
                    real,
                    encoding,
                    (lambda line: sniff_delimiter(line, default))
                    if first
                    else (lambda _: entry.delimiter),
                    out,
                    progress,
                    check_bytes=bool(self.encoding) or note == MIXED,
                ),
            )
        except IngestError as exc:
            raise IngestError(f"{shown}: {exc}") from exc
        header = found.header
        if SURROGATE.search("".join(header)):
            raise IngestError(
                f"{shown}: the header row is not valid {encoding_name(encoding)} text; "
                "export the file as UTF-8 or pass --encoding"
            )
        if not looks_like_header(header):
            raise IngestError(f"{shown}: {describe_header(header)}")
        if first:
            entry.columns = check_unique(shown, header)
            entry.delimiter = delimiter
            if delimiter != default:
                entry.notes.append(f"separated by {DELIMITERS[delimiter]}")
        elif header != entry.columns:
            raise IngestError(f"{shown}: the header reads differently on a second look")
        entry.encoding, entry.tolerant = encoding, True
        if note:
            entry.notes.append(note)
        elif encoding not in ("utf-8", "utf-8-sig"):
            entry.notes.append(f"read as {encoding_name(encoding)} text")
        if len(found.line_endings) > 1:
            entry.notes.append(f"mixed line endings ({' and '.join(sorted(found.line_endings))})")
        names = {PROBLEM: "VARCHAR", **{f"c{i}": "VARCHAR" for i in range(len(header))}}
        columns = ", ".join(f"{sql_str(n)}: {sql_str(t)}" for n, t in names.items())
        renamed = ", ".join(f"c{i} as {ident(c)}" for i, c in enumerate(header))
        self.con.execute(
            f"create or replace temp view {entry.view} as select {PROBLEM}, {renamed} "
            f"from read_csv({sql_str(str(out))}, auto_detect=false, header=true, delim=',', "
            f"quote='\"', escape='\"', columns={{{columns}}}, strict_mode=true)"
        )

    def scratch(self) -> Path:
        """This ingest's scratch folder (created on first use, removed by `close`)."""
        if self._scratch is None:
            self.scratch_parent.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self.scratch_parent))
        return self._scratch

    def close(self) -> None:
        """Remove the scratch folder."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # using files

    def export_date(self, paths: tuple[Path, ...]) -> datetime | None:
        """The latest modification time of the files: the export was written by then."""
        times = [self.open(p).mtime for p in paths]
        return max(times) if times else None

    def notes(self, paths: tuple[Path, ...]) -> tuple[str, ...]:
        """What the reader found out about these files (encoding, delimiter, line endings); notes
        on files other than the first name them."""
        out = []
        for i, p in enumerate(paths):
            entry = self.open(p)
            out += [n if i == 0 else f"{Path(entry.shown).name}: {n}" for n in entry.notes]
        return tuple(out)

    def tolerate_all(self, paths: tuple[Path, ...]) -> bool:
        """Switch these files to the tolerant reader; False when all of them already use it."""
        switched = False
        for p in paths:
            entry = self.open(p)
            if not entry.parquet and not entry.tolerant:
                self.tolerate(entry)
                switched = True
        return switched

    def query(self, sql: str, paths: tuple[Path, ...]) -> list[tuple]:
        """Run a query over these files' views, retrying once with the tolerant reader."""
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as exc:
            if not self.tolerate_all(paths):
                raise IngestError(f"{paths[0]}: cannot read the file: {safe_error(exc)}") from exc
            return self.con.execute(sql).fetchall()


def safe_error(exc: BaseException) -> str:
    """A DuckDB error's first line with quoted text removed, so no file content is echoed."""
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = re.sub(r"'[^']*'", "'…'", line)
    return re.sub(r'"[^"]*"', '"…"', line)
