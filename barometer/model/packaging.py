"""What a logged model carries so it runs without Barometer installed: its code and requirements.

`model_code` copies the whole `barometer.model` package, plus every `barometer` module it
imports (followed transitively), into a folder shaped like the `barometer` package; MLflow logs it
as `code_paths` and puts it on `sys.path` when the model loads, so `barometer.model.artefact`
imports from the model itself. `requirements` pins every third-party distribution that code
imports (found from its import statements, mapped to the installed distributions), so a fresh
environment built from the model (`mlflow models serve --env-manager virtualenv`,
`spark_udf(env_manager="virtualenv")`) has what it needs. A new module or model kind in
`barometer/model/` is covered without a change here.
"""

from __future__ import annotations

import ast
import shutil
import sys
from importlib import metadata
from pathlib import Path

import barometer

PACKAGE = Path(barometer.__file__).resolve().parent
ROOT = "barometer"
ALWAYS = ("mlflow",)  # the pyfunc runs inside MLflow even where nothing imports it by name


def imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in a file (lazy imports in functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _module_file(name: str) -> Path | None:
    """The source file of a `barometer...` module or package, if it exists."""
    parts = name.split(".")[1:]
    candidates = [
        PACKAGE.joinpath(*parts).with_suffix(".py"),
        PACKAGE.joinpath(*parts, "__init__.py"),
    ]
    return next((c for c in candidates if parts and c.is_file()), None)


def model_files() -> list[Path]:
    """`barometer/__init__.py`, every file of `barometer/model/`, and the `barometer` modules
    (and their packages' `__init__.py`) they import, transitively."""
    todo = [PACKAGE / "__init__.py", *sorted((PACKAGE / "model").rglob("*.py"))]
    done: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in done:
            continue
        done.add(path)
        for name in imports(path):
            if name == ROOT or name.startswith(ROOT + "."):
                found = _module_file(name)
                if found is not None:
                    todo.append(found)
                    todo += [p / "__init__.py" for p in found.parents if PACKAGE in p.parents]
    return sorted(done)


def model_code(dest: Path) -> Path:
    """Copy `model_files()` into `dest/barometer` (package layout kept); returns that folder."""
    out = Path(dest) / ROOT
    for path in model_files():
        target = out / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return out


def requirements() -> list[str]:
    """`name==version` for each installed distribution the model's code imports, and MLflow."""
    owners = metadata.packages_distributions()
    tops = {name.split(".")[0] for path in model_files() for name in imports(path)}
    tops = {t for t in tops if t != ROOT and t not in sys.stdlib_module_names} | set(ALWAYS)
    dists = {dist for top in tops for dist in owners.get(top, [])}
    return sorted(f"{dist}=={metadata.version(dist)}" for dist in dists)
