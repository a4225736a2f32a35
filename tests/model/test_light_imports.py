"""The `barometer` command table loads without the heavy libraries: each command imports what its
own work needs (MLflow, LightGBM, SHAP, Ibis, Spark) when it runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("mlflow", "lightgbm", "shap", "sklearn", "ibis", "pyspark", "pandas", "duckdb")


def loaded_after(statement: str) -> list[str]:
    """The heavy top-level packages in `sys.modules` after `statement`, in a fresh interpreter."""
    script = f"import sys\n{statement}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_command_table_imports_no_heavy_library():
    assert loaded_after("import barometer.cli") == []


def test_help_of_every_command_imports_no_heavy_library():
    statement = (
        "from typer.testing import CliRunner\n"
        "from barometer.cli import app\n"
        "names = [c.name or c.callback.__name__ for c in app.registered_commands]\n"
        "for name in names:\n"
        "    result = CliRunner().invoke(app, [name, '--help'])\n"
        "    assert result.exit_code == 0, (name, result.output)\n"
        "assert len(names) >= 10, names"
    )
    assert loaded_after(statement) == []
