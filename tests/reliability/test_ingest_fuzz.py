"""Bad input for ingestion: a corpus of real-world-shaped mistakes plus hypothesis properties.

Every case ends in a clear `IngestError` naming the file, or in quarantined rows naming row, field
and reason; never another exception. Accounting holds every time: rows read = loaded + updated +
unchanged + rejected, and `rejects` / the target table hold exactly those counts.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from barometer.cli import app
from features.ingest.run import ingest
from features.ingest.sources import IngestError
from tests.reliability.helpers import (
    CORPUS,
    assert_accounting,
    budget,
    copy_home,
    query,
    seeded_home,
    tally_printer,
)

BAD_DATE = "bad date"
# case -> ("error", words the message must hold) | ("rows", (read, loaded, rejected), reasons)
EXPECTED: dict[str, tuple] = {
    "accounts__bom": ("rows", (2, 0, 0), set()),  # same rows as the seed: unchanged
    "accounts__empty_file": ("error", "the file is empty"),
    "accounts__latin1_bytes": ("rows", (2, 0, 0), set()),  # read as cp1252: a2 updated
    "accounts__utf16": ("rows", (2, 0, 0), set()),  # same rows as the seed: unchanged
    "accounts__nul_bytes": ("rows", (2, 0, 0), set()),  # a1 unchanged, a2 updated
    "activities__blank_lines": ("rows", (2, 2, 0), set()),
    "activities__crlf_line_endings": ("rows", (2, 2, 0), set()),
    "activities__duplicate_conflicting_ids": ("rows", (3, 2, 1), {"duplicated id in file"}),
    "activities__duplicate_header": ("error", "more than once"),
    "activities__header_only": ("rows", (0, 0, 0), set()),
    "activities__impossible_dates": ("rows", (5, 1, 4), {BAD_DATE, "implausible date"}),
    "activities__mixed_timezones": ("rows", (4, 4, 0), set()),
    "activities__nan_amounts": ("rows", (5, 1, 4), {"wrong type (expected a number)"}),
    "activities__negative_duration": ("rows", (2, 1, 1), {"out of range"}),
    "activities__no_header_row": ("error", "missing required column"),
    "activities__orphans": ("rows", (2, 1, 1), {"orphan: no accounts.account_id"}),
    "activities__quoted_newline": ("rows", (2, 2, 0), set()),
    "activities__ragged_long_row": ("rows", (2, 1, 1), {"malformed row"}),
    "activities__ragged_short_row": ("rows", (2, 1, 1), {"malformed row"}),
    "activities__semicolon_delimiter": ("rows", (1, 1, 0), set()),
    "activities__sql_and_formula_text": ("rows", (2, 2, 0), set()),
    "activities__tab_delimiter": ("rows", (1, 1, 0), set()),
    "activities__unterminated_quote": ("rows", (2, 1, 1), {"malformed row: unbalanced quote"}),
    "activities__wrong_types": (
        "rows",
        (3, 0, 3),
        {"wrong type", "unknown enum value", "missing required field"},
    ),
    "opportunities__nan_amount": ("rows", (2, 1, 1), {"wrong type (expected a number)"}),
}
TRIED = {"corpus": 0, "generated": 0}
tally = tally_printer(
    lambda: f"fuzz cases tried: {TRIED['corpus']} corpus + {TRIED['generated']} generated"
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seeded_home(tmp_path_factory.mktemp("fuzz"))


def one_file(root: Path, table: str, data: bytes) -> Path:
    """A folder holding one file named after its table."""
    folder = root / "in"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{table}.csv").write_bytes(data)
    return folder


def ingest_outcome(seeded, root: Path, table: str, data: bytes):
    """(`IngestError` message | None, report | None, workspace) for one file on a seeded copy."""
    work = copy_home(seeded, root / "home")
    try:
        return None, ingest(one_file(root, table, data), work), work
    except IngestError as exc:
        return str(exc), None, work


def test_corpus_has_every_expected_case():
    assert sorted(p.stem for p in CORPUS.glob("*.csv")) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_corpus_case_gives_a_clear_error_or_quarantined_rows(case, seeded, tmp_path):
    table = case.split("__")[0]
    data = (CORPUS / f"{case}.csv").read_bytes()
    error, report, work = ingest_outcome(seeded, tmp_path, table, data)
    TRIED["corpus"] += 1
    kind, *expect = EXPECTED[case]
    if kind == "error":
        assert report is None, f"{case} loaded instead of failing"
        assert f"{table}.csv" in error and expect[0] in error, error
        return
    assert error is None, error
    assert_accounting(report)
    (result,) = [r for r in report.results if r.table == table]
    assert (result.rows_read, result.loaded, result.rejected) == expect[0]
    rejects = query(
        work, f"select row_number, field, reason from rejects where file like '%{table}.csv'"
    )
    assert len(rejects) == result.rejected
    assert all(row > 0 and field for row, field, _ in rejects)
    for reason in expect[1]:
        assert any(reason in r for *_, r in rejects), (reason, rejects)


def test_mixed_timezones_are_stored_as_the_same_utc_instant(seeded, tmp_path):
    data = (CORPUS / "activities__mixed_timezones.csv").read_bytes()
    _, _, work = ingest_outcome(seeded, tmp_path, "activities", data)
    stamps = query(
        work, "select strftime(occurred_at, '%H:%M') from activities where activity_id <> 'x0'"
    )
    assert sorted(stamps) == [("10:00",)] * 4


def test_formula_and_sql_text_is_stored_verbatim_and_tables_survive(seeded, tmp_path):
    data = (CORPUS / "activities__sql_and_formula_text.csv").read_bytes()
    _, _, work = ingest_outcome(seeded, tmp_path, "activities", data)
    outcomes = dict(query(work, "select activity_id, outcome from activities"))
    assert outcomes["x1"] == "'); drop table accounts; --"
    assert outcomes["x2"] == '=HYPERLINK("http://x")'
    assert query(work, "select count(*) from accounts") == [(2,)]


def test_one_megabyte_field_loads_whole(seeded, tmp_path):
    big = "y" * (1 << 20)
    data = f"activity_id,account_id,occurred_at,type,outcome\nx1,a1,2024-02-01,call,{big}\n"
    error, report, work = ingest_outcome(seeded, tmp_path, "activities", data.encode())
    assert error is None
    assert query(work, "select length(outcome) from activities where activity_id='x1'") == [
        (1 << 20,)
    ]


def test_latin1_deep_in_a_file_is_read_as_cp1252_and_said(seeded, tmp_path):
    rows = "".join(f"x{i},a1,2024-02-01T10:00:00Z,call,ok\n" for i in range(1, 3001))
    data = ("activity_id,account_id,occurred_at,type,outcome\n" + rows).encode()
    data += "x9999,a1,2024-02-01,call,caf\xe9 \u20ac\n".encode("cp1252")
    error, report, work = ingest_outcome(seeded, tmp_path, "activities", data)
    assert error is None, error
    (result,) = report.results
    assert (result.rows_read, result.loaded, result.rejected) == (3001, 3001, 0)
    assert any("read as Windows-1252" in n for n in result.notes), result.notes
    assert query(work, "select outcome from activities where activity_id = 'x9999'") == [
        ("caf\xe9 \u20ac",)
    ]


def test_utf8_mixed_with_latin1_rejects_the_latin1_rows_only(seeded, tmp_path):
    head = "activity_id,account_id,occurred_at,type,outcome\n"
    data = (head + "x1,a1,2024-02-01,call,Zürich\n").encode()
    data += "x2,a1,2024-02-01,call,Z\xfcrich\n".encode("latin-1")
    data += "x3,a2,2024-02-01,call,Genève\n".encode()
    error, report, work = ingest_outcome(seeded, tmp_path, "activities", data)
    assert error is None, error
    (result,) = report.results
    assert (result.rows_read, result.loaded, result.rejected) == (3, 2, 1)
    assert query(work, "select row_number, field, reason from rejects") == [
        (2, "(row)", "malformed row: not valid UTF-8 text")
    ]
    assert query(work, "select outcome from activities where activity_id <> 'x0' order by 1") == [
        ("Genève",),
        ("Zürich",),
    ]


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("activities__duplicate_header", "more than once"),
        ("accounts__empty_file", "the file is empty"),
    ],
)
def test_cli_prints_the_error_and_exits_2_without_a_traceback(case, words, seeded, tmp_path):
    table = case.split("__")[0]
    folder = one_file(tmp_path, table, (CORPUS / f"{case}.csv").read_bytes())
    work = copy_home(seeded, tmp_path / "home")
    result = CliRunner().invoke(
        app, ["ingest", str(folder)], env={"BAROMETER_HOME": str(work.home), "COLUMNS": "300"}
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Ingest failed" in result.output and words in result.output
    assert "Traceback" not in result.output


# --- hypothesis: well-formed CSV with a known answer per row -------------------------------------

VALID_DATES = ["2024-02-01T10:00:00Z", "2024-02-01 10:00:00", "2024-02-01T12:00:00+02:00"]
BAD_DATES = ["2024-02-30", "0001-01-01", "9999-12-31", "yesterday", "2024-13-01", "1e5"]
TYPES = ["call", "EMAIL", " meeting "]
DURATIONS = ["", "0", "12.5", "1e3"]
BAD_DURATIONS = ["-1", "NaN", "inf", "sixty", "--3"]
TEXT = st.text(alphabet=st.sampled_from(list("ab ,;\"'\n\r\t|\\é漢😀=<>/.")), max_size=30)


@st.composite
def activity_rows(draw):
    """Rows with an oracle: (cells, field_ok) where field_ok says every field check passes."""
    n = draw(st.integers(0, 12))
    rows = []
    for _ in range(n):
        ok = True
        activity_id = draw(st.sampled_from(["x1", "x2", "x3", "é1", "", "  "]))
        ok &= bool(activity_id.strip())
        account = draw(st.sampled_from(["a1", "a2", " a1 ", "zz", ""]))
        ok &= bool(account.strip())
        good_date = draw(st.booleans())
        occurred = draw(st.sampled_from(VALID_DATES if good_date else BAD_DATES))
        ok &= good_date
        good_type = draw(st.booleans())
        kind = draw(st.sampled_from(TYPES)) if good_type else draw(st.sampled_from(["fax", ""]))
        ok &= good_type
        good_duration = draw(st.booleans())
        duration = draw(st.sampled_from(DURATIONS if good_duration else BAD_DURATIONS))
        ok &= good_duration
        rows.append(([activity_id, account, occurred, kind, duration, draw(TEXT)], ok))
    return rows


def expected_rejects(rows) -> int:
    """Field failures, then later duplicates among field-clean rows, then orphans (`zz`)."""
    seen: set[str] = set()
    rejected = 0
    for cells, ok in rows:
        if not ok:
            rejected += 1
            continue
        key = cells[0].strip()
        if key in seen:
            rejected += 1
            continue
        seen.add(key)
        rejected += cells[1].strip() == "zz"
    return rejected


def to_csv(rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # Excel: quotes a bare CR
    writer.writerow(["activity_id", "account_id", "occurred_at", "type", "duration_s", "outcome"])
    writer.writerows(cells for cells, _ in rows)
    return buffer.getvalue().encode()


@given(rows=activity_rows())
@settings(
    max_examples=budget(30),
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_generated_rows_are_counted_exactly(rows, seeded):
    with tempfile.TemporaryDirectory() as tmp:
        error, report, work = ingest_outcome(seeded, Path(tmp), "activities", to_csv(rows))
        TRIED["generated"] += 1
        assert error is None, error
        assert_accounting(report)
        (result,) = report.results
        assert result.rows_read == len(rows)
        assert result.rejected == expected_rejects(rows)
        assert query(work, "select count(*) from rejects where table_name='activities'") == [
            (result.rejected,)
        ]
        new = {c[0].strip() for c, _ in rows} - {"x0"}
        count = query(work, "select count(*) from activities")[0][0]
        assert count == 1 + result.loaded and result.loaded <= len(new)


# --- hypothesis: arbitrary byte damage to a valid file ------------------------------------------

VALID = (CORPUS / "activities__quoted_newline.csv").read_bytes()


@given(
    cuts=st.lists(
        st.tuples(st.integers(0, len(VALID)), st.integers(0, 3), st.binary(max_size=4)),
        min_size=1,
        max_size=4,
    )
)
@settings(
    max_examples=budget(30),
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_damaged_bytes_give_an_error_or_exact_accounting(cuts, seeded):
    data = VALID
    for at, drop, insert in cuts:
        data = data[:at] + insert + data[at + drop :]
    with tempfile.TemporaryDirectory() as tmp:
        error, report, work = ingest_outcome(seeded, Path(tmp), "activities", data)
        TRIED["generated"] += 1
        if error is not None:
            assert "activities.csv" in error
            assert query(work, "select count(*) from activities") == [(1,)]
            return
        assert_accounting(report)
        (result,) = report.results
        assert query(work, "select count(*) from rejects where table_name='activities'") == [
            (result.rejected,)
        ]
