"""The tolerant CSV reader: for files DuckDB's strict reader refuses, one streaming pass in Python.

It decodes the file (detecting the encoding when none is given), splits records with Python's csv
state machine (LF, CRLF and CR all end a line, so a mix is fine), and writes a clean copy: UTF-8,
LF, commas, a first column `_problem` and the file's columns. A malformed row is kept in its place
as a row with only `_problem` set (`reason|detail`), so row numbers do not move and the loader
rejects it with its number. Memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from features.ingest.sources import IngestError

CHUNK = 1 << 20
MALFORMED_WIDTH = "malformed row: its fields do not line up with the header"
MALFORMED_QUOTE = "malformed row: unbalanced quote"
MALFORMED_BYTES = "malformed row: not valid {encoding} text"
# UTF-8 multi-byte sequences: their presence in an otherwise undecodable file means mixed encodings.
UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
SURROGATE = re.compile("[\udc80-\udcff]")
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
    "iso8859-1": "Latin-1",
    "utf-16": "UTF-16",
    "utf-32": "UTF-32",
}
MIXED = "mixes UTF-8 with other bytes: rows that are not UTF-8 are rejected"

csv.field_size_limit(2**31 - 1)  # a cell may hold a long note; the row is still one row

Progress = Callable[[], None]


def encoding_name(encoding: str) -> str:
    return ENCODING_NAMES.get(encoding, encoding)


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark announces, if any."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    return None


def check_encoding(name: str) -> str:
    """A Python codec name for `--encoding`, or a clear error."""
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise IngestError(
            f"--encoding {name!r}: unknown text encoding (try utf-8 or cp1252)"
        ) from exc


def detect_encoding(path: Path, progress: Progress) -> tuple[str, str | None]:
    """(encoding, note) from one pass over the bytes: BOM, then UTF-8, then Windows-1252 (or
    Latin-1 when a byte cp1252 leaves undefined occurs).

    A file holding UTF-8 sequences next to undecodable bytes is mixed: it stays UTF-8 and its bad
    rows are rejected rather than the whole file turned into mojibake.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, multibyte, cp1252 = True, False, True
    with path.open("rb") as handle:
        first = True
        for block in iter(lambda: handle.read(CHUNK), b""):
            progress()
            if first:
                bom = bom_encoding(block)
                if bom:
                    return bom, None
                first = False
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            multibyte = multibyte or UTF8_MULTIBYTE.search(block) is not None
            cp1252 = cp1252 and CP1252_UNDEFINED.search(block) is None
    if utf8:
        try:
            decoder.decode(b"", final=True)
            return "utf-8", None
        except UnicodeDecodeError:
            pass
    if multibyte:
        return "utf-8", MIXED
    legacy = "cp1252" if cp1252 else "latin-1"
    return (
        legacy,
        f"not UTF-8: read as {encoding_name(legacy)} text (pass --encoding if it is another)",
    )


def line_ending(line: str) -> str:
    """CRLF, LF, CR, or "" for a last line without one."""
    if line.endswith("\r\n"):
        return "CRLF"
    return {"\n": "LF", "\r": "CR"}.get(line[-1:], "")


class LineFeed:
    """Physical lines for `csv.reader`, with push-back: when a record turns out malformed, its
    first line is given up as one bad row and the lines after it are read again."""

    def __init__(self, lines: Iterator[str], progress: Progress) -> None:
        self.lines = lines
        self.progress = progress
        self.pending: deque[str] = deque()
        self.taken: list[str] = []
        self.consumed = 0  # physical lines settled (in good records or given up)
        self.read = 0
        self.endings: set[str] = set()

    def __iter__(self) -> LineFeed:
        return self

    def __next__(self) -> str:
        if self.pending:
            line = self.pending.popleft()
        else:
            line = next(self.lines)
            self.endings.add(line_ending(line))
            self.read += 1
            if self.read % 65536 == 0:
                self.progress()
        self.taken.append(line)
        return line

    def accept(self) -> int:
        """The record read since the last call is good: returns how many lines it took."""
        used = len(self.taken)
        self.consumed += used
        self.taken = []
        return used

    def give_up_first(self) -> None:
        """The record read since the last call is malformed: its first line is one bad row."""
        self.consumed += 1
        self.pending.extendleft(reversed(self.taken[1:]))
        self.taken = []


def records(feed: LineFeed, delimiter: str) -> Iterator[tuple[int, int, list[str] | None, str]]:
    """(first line index, lines used, fields | None, problem) for every record; blank lines are
    not records.

    Python's csv state machine decides what a record is (a quote opens a quoted value only at the
    start of a field). When a record cannot be closed (an unbalanced quote runs to the end of the
    file, or its quote closes in the middle of a later value), its first line is one malformed
    row and reading resumes on the next line, so one stray quote costs one row.
    """
    while True:
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        while True:
            start = feed.consumed
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error:
                feed.give_up_first()
                yield start, 1, None, MALFORMED_QUOTE
                break
            used = feed.accept()
            if fields:
                yield start, used, fields, ""


@dataclass
class Normalised:
    """What the tolerant pass found."""

    header: tuple[str, ...]
    rows: int = 0
    malformed: int = 0
    line_endings: set[str] = field(default_factory=set)


def first_record(feed: LineFeed, delimiter: str) -> tuple[str, ...]:
    for _, _, fields, _ in records(feed, delimiter):
        if fields is None:
            raise IngestError("the header row cannot be read: it opens a quote it never closes")
        return tuple(fields)
    raise IngestError("the file is empty (no header row)")


def normalise(
    path: Path,
    encoding: str,
    sniff: Callable[[str], str],
    out: Path,
    progress: Progress,
    check_bytes: bool,
) -> tuple[Normalised, str]:
    """Write the clean copy of `path` to `out`; returns what was found and the delimiter.

    `sniff(first line)` picks the delimiter; `check_bytes` looks for undecodable bytes (only
    possible for a mixed file or an explicit encoding).
    """
    with path.open(encoding=encoding, errors="surrogateescape", newline="") as text:
        lines = iter(text)
        peek, skipped = next(lines, ""), 0
        while peek and not peek.strip("\r\n"):
            peek, skipped = next(lines, ""), skipped + 1
        delimiter = sniff(peek.removeprefix("\ufeff").rstrip("\r\n"))
        feed = LineFeed(_chain(peek.removeprefix("\ufeff"), lines), progress)
        feed.consumed = skipped
        header = first_record(feed, delimiter)
        found = Normalised(header)
        width = len(header)
        with out.open("w", encoding="utf-8", newline="") as sink:
            writer = csv.writer(sink, lineterminator="\n")
            writer.writerow(["_problem", *(f"c{i}" for i in range(width))])
            blank = [""] * width
            bad = MALFORMED_BYTES.format(encoding=encoding_name(encoding))
            for start, used, fields, problem in records(feed, delimiter):
                found.rows += 1
                where = f"line {start + 1}" if used <= 1 else f"lines {start + 1}-{start + used}"
                if fields is not None and len(fields) != width:
                    problem = f"{MALFORMED_WIDTH}|{len(fields)} fields where the header has "
                    problem += f"{width} ({where})"
                elif fields is not None and check_bytes and SURROGATE.search("".join(fields)):
                    problem = f"{bad}|{where}"
                elif problem:
                    problem = f"{problem}|{where}"
                if problem:
                    found.malformed += 1
                    writer.writerow([problem, *blank])
                else:
                    writer.writerow(["", *(fields or ())])
        found.line_endings = feed.endings - {""}
    return found, delimiter


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest
