"""data/README.md documents exactly the contract in code and the simulator's true effects."""

from __future__ import annotations

from pathlib import Path

from data.contract import TABLES, markdown_table
from data.simulator.effects import effects_markdown

README = Path(__file__).resolve().parents[2] / "data" / "README.md"


def test_readme_contains_every_contract_table_as_rendered():
    text = README.read_text()
    for table in TABLES.values():
        assert markdown_table(table) in text, f"data/README.md is out of date for {table.name}"


def test_readme_documents_no_other_table():
    text = README.read_text()
    documented = {line.split("`")[1] for line in text.splitlines() if line.startswith("### `")}
    assert documented == set(TABLES)


def test_readme_contains_the_true_effects_table():
    assert effects_markdown() in README.read_text()
