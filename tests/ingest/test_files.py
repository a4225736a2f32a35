"""Files as people export them: line endings, encodings, delimiters, quoting, Excel dates, stages.

Each case loads its good rows; a malformed row is a reject with its row number; a file is refused
whole only when it cannot be parsed at all, with a message in words.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from barometer.settings import DEFAULT_STAGE_ORDER
from features.ingest.sources import IngestError
from tests.ingest.helpers import ACCOUNTS, assert_accounting, by_table, rows, run, write

HEADER = "activity_id,account_id,occurred_at,type,outcome"
GOOD = ["x1,a1,2024-02-01T10:00:00Z,call,connected", "x2,a2,2024-02-02,email,replied"]


def ingest_bytes(settings, tmp_path, data: bytes, **options):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "accounts.csv").write_text(ACCOUNTS)
    (folder / "activities.csv").write_bytes(data)
    report = run(settings, folder, **options) if options else run(settings, folder)
    assert_accounting(report)
    return report


def activity_rows(settings):
    return rows(
        settings, "select activity_id, account_id, type, outcome from activities order by 1"
    )


@pytest.mark.parametrize(
    "data",
    [
        ("\n".join([HEADER, *GOOD]) + "\n").encode(),
        ("\r\n".join([HEADER, *GOOD]) + "\r\n").encode(),
        # rows appended with Windows line endings after LF ones, and the other way round
        (f"{HEADER}\n{GOOD[0]}\n{GOOD[1]}\r\n").encode(),
        (f"{HEADER}\r\n{GOOD[0]}\r\n{GOOD[1]}\n").encode(),
        (f"{HEADER}\r{GOOD[0]}\r{GOOD[1]}\r").encode(),
    ],
    ids=["lf", "crlf", "lf-then-crlf", "crlf-then-lf", "cr"],
)
def test_every_line_ending_and_a_mix_of_them_loads_every_row(settings, tmp_path, data):
    report = ingest_bytes(settings, tmp_path, data)
    assert by_table(report)["activities"] == (2, 2, 0, 0, 0)
    assert activity_rows(settings) == [
        ("x1", "a1", "call", "connected"),
        ("x2", "a2", "email", "replied"),
    ]


def test_mixed_line_endings_keep_quoted_newlines_and_row_numbers(settings, tmp_path):
    data = (
        f'{HEADER}\r\nx1,a1,2024-02-01,call,"left a message,\nthen called back"\r\n'
        "x2,a1,2024-02-01,fax,\n"  # row 2 (bad type), appended with LF
        "x3,a2,2024-02-03,email,replied\n"
    ).encode()
    report = ingest_bytes(settings, tmp_path, data)
    assert by_table(report)["activities"] == (3, 2, 0, 0, 1)
    assert rows(settings, "select row_number, field, value from rejects") == [(2, "type", "fax")]
    assert rows(settings, "select outcome from activities where activity_id = 'x1'") == [
        ("left a message,\nthen called back",)
    ]
    assert any("mixed line endings" in n for n in report.results[-1].notes)


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (("\ufeff" + HEADER + "\nx1,a1,2024-02-01,call,Zürich €\n").encode(), None),
        ((HEADER + "\nx1,a1,2024-02-01,call,Zürich €\n").encode(), None),
        ((HEADER + "\nx1,a1,2024-02-01,call,Zürich €\n").encode("cp1252"), "Windows-1252"),
        ((HEADER + "\nx1,a1,2024-02-01,call,Zürich €\n").encode("utf-16"), "UTF-16"),
    ],
    ids=["utf8-bom", "utf8", "cp1252", "utf16-bom"],
)
def test_encodings_are_detected_and_said(settings, tmp_path, data, note):
    report = ingest_bytes(settings, tmp_path, data)
    assert rows(settings, "select outcome from activities") == [("Zürich €",)]
    notes = " ".join(report.results[-1].notes)
    assert (note in notes) if note else "read as" not in notes


def test_an_explicit_encoding_wins_over_the_guess(settings, tmp_path):
    # 0x80 is the euro sign in Windows-1252 and a control character in Latin-1.
    data = (HEADER + "\nx1,a1,2024-02-01,call,\x80 caf\xe9\n").encode("latin-1")
    report = ingest_bytes(settings, tmp_path, data, encoding="latin-1")
    assert rows(settings, "select outcome from activities") == [("\x80 café",)]
    assert "read as Latin-1 text" in report.results[-1].notes
    with pytest.raises(IngestError, match="unknown text encoding"):
        run(settings, tmp_path / "in", encoding="klingon")


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_delimiters_are_detected(settings, tmp_path, delimiter):
    lines = [
        HEADER.replace(",", delimiter),
        delimiter.join(["x1", "a1", "2024-02-01", "call", '"held; at 10, then 11"']),
    ]
    ingest_bytes(settings, tmp_path, ("\n".join(lines) + "\n").encode())
    assert rows(settings, "select activity_id, outcome from activities") == [
        ("x1", "held; at 10, then 11")
    ]


def test_a_stray_quote_costs_its_row_only(settings, tmp_path):
    data = (
        f"{HEADER}\n"
        'x1,a1,2024-02-01,call,"never closed\n'  # row 1: opens a quote it never closes
        'x2,a1,2024-02-01,call,5" screen\n'  # row 2: a quote inside a value is text
        "x3,a2,2024-02-03,email,replied\n"
    ).encode()
    report = ingest_bytes(settings, tmp_path, data)
    assert by_table(report)["activities"] == (3, 2, 0, 0, 1)
    assert rows(settings, "select row_number, field, value, reason from rejects") == [
        (1, "(row)", "line 2", "malformed row: unbalanced quote")
    ]
    assert rows(settings, "select activity_id, outcome from activities order by 1") == [
        ("x2", '5" screen'),
        ("x3", "replied"),
    ]


def test_ragged_rows_are_rejected_with_their_row_numbers(settings, tmp_path):
    data = (
        f"{HEADER}\n{GOOD[0]}\nx2,a2\nx3,a2,2024-02-03,email,replied,extra,fields\n{GOOD[1]}\n"
    ).encode()
    report = ingest_bytes(settings, tmp_path, data)
    assert by_table(report)["activities"] == (4, 2, 0, 0, 2)
    assert rows(settings, "select row_number, value from rejects order by 1") == [
        (2, "2 fields where the header has 5 (line 3)"),
        (3, "7 fields where the header has 5 (line 4)"),
    ]
    (result,) = [r for r in report.results if r.table == "activities"]
    assert [(t.field, t.rows, t.first_row) for t in result.top_rejects] == [("(row)", 2, 2)]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00binary", "does not look like a header"),
        (b"SECRET=sk-live-123\x00HOME=/root\x00", "does not look like a header row"),
        (b'"activity_id,account_id\nx1,a1\n', "the header row cannot be read"),
        (b"", "the file is empty"),
    ],
    ids=["zip", "nul-separated", "quote-in-header", "empty"],
)
def test_a_file_that_cannot_be_parsed_is_refused_in_words(settings, tmp_path, data, words):
    with pytest.raises(IngestError) as caught:
        ingest_bytes(settings, tmp_path, data)
    message = str(caught.value)
    assert "activities.csv" in message and words in message, message
    assert "sk-live-123" not in message and "Error:" not in message


def mapping_folder(tmp_path, stamps: str, fmt: str):
    folder = write(
        tmp_path / "in",
        {"log.csv": "customer,day,hour\n" + stamps},
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "derive_accounts: true\nsources:\n  - file: log.csv\n    entity: customer\n"
        f"    type: purchase\n    columns: {{occurred_at: [day, hour]}}\n"
        f"    formats: {{occurred_at: {fmt}}}\n"
    )
    return folder, mapping


def test_excel_dates_with_the_mapping_format(settings, tmp_path):
    folder, mapping = mapping_folder(
        tmp_path,
        "c1,03/04/2025,14:05\nc1,13/04/2025,\nc2,04/13/2025,09:00\nc2,2025-04-20,\n",
        "['%d/%m/%Y %H:%M', '%d/%m/%Y']",
    )
    report = run(settings, folder, "mapping", mapping)
    assert_accounting(report)
    assert rows(settings, "select occurred_at from activities order by 1") == [
        (datetime(2025, 4, 3, 14, 5),),
        (datetime(2025, 4, 13),),
        (datetime(2025, 4, 20),),
    ]
    assert rows(settings, "select row_number, value, reason from rejects") == [
        (3, "04/13/2025 09:00", "bad date (expected %d/%m/%Y %H:%M or %d/%m/%Y or ISO 8601)")
    ]


def stage_files(stages: list[str]) -> dict[str, str]:
    lines = "".join(f"o1,{s},2024-02-{i + 1:02d}\n" for i, s in enumerate(stages))
    return {
        "accounts.csv": ACCOUNTS,
        "activities.csv": HEADER + "\n" + GOOD[0] + "\n",
        "opportunities.csv": "opportunity_id,account_id,created_at,outcome\n"
        "o1,a1,2024-02-01,open\n",
        "opportunity_stages.csv": "opportunity_id,stage,entered_at\n" + lines,
    }


def test_salesforce_standard_stages_are_ordered_by_default():
    standard = [
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
    ]
    simulator = ["Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation"]
    for names in (standard, simulator):
        positions = [DEFAULT_STAGE_ORDER.index(s) for s in names]
        assert positions == sorted(positions), names


def test_standard_stages_load_quietly_and_an_unknown_stage_is_a_counted_warning(settings, tmp_path):
    known = ["Prospecting", "Id. Decision Makers", "Proposal/Price Quote", "Closed Won"]
    report = run(settings, write(tmp_path / "a", stage_files(known)))
    (stages,) = [r for r in report.results if r.table == "opportunity_stages"]
    assert stages.loaded == 4 and stages.warnings == ()
    unknown = ["Prospecting", "Engaging", "Engaging", "Contract Sent"]
    report = run(settings, write(tmp_path / "b", stage_files(unknown)))
    (stages,) = [r for r in report.results if r.table == "opportunity_stages"]
    assert (stages.rows_read, stages.rejected) == (4, 0)  # loaded, not dropped
    assert [(w.field, w.rows, w.first_row) for w in stages.warnings] == [
        ("stage", 2, 2),
        ("stage", 1, 4),
    ]
    assert "'Engaging'" in stages.warnings[0].reason
    assert "'Contract Sent'" in stages.warnings[1].reason
    assert rows(settings, "select field, rows from ingest_warnings order by rows desc") == [
        ("stage", 2),
        ("stage", 1),
    ]


def test_the_tolerant_readers_copies_are_removed_and_stale_ones_too(settings, tmp_path):
    stale = settings.home / "ingest-tmp-killed"  # left by a killed ingest
    stale.mkdir(parents=True)
    (stale / "_file_1.csv").write_text("_problem,c0\n,x\n")
    data = (f"{HEADER}\n{GOOD[0]}\n{GOOD[1]}\r\n").encode()  # mixed: read by the tolerant reader
    report = ingest_bytes(settings, tmp_path, data)
    assert by_table(report)["activities"] == (2, 2, 0, 0, 0)
    assert list(settings.home.glob("ingest-tmp-*")) == []
