"""The `barometer` command. Each room registers its own commands; they mirror the make targets."""

from __future__ import annotations

import atexit
import os
import sys
import threading

import typer

from barometer import __version__, startup

app = typer.Typer(
    name="barometer",
    help="Learn which sales and service behaviours drive deal wins and churn.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Barometer: behavioural features, calibrated deal-win and churn models, and their reasons."""


@app.command()
def version() -> None:
    """Print the Barometer version."""
    typer.echo(__version__)


# Each room's `cli.py` exposes `register(app)`; heavy imports stay inside its commands.
ROOM_CLIS = (
    "data.cli",  # simulate
    "features.ingest.cli",  # ingest
    "features.cli",  # features
    "training.cli",  # train, evaluate, promote
    "explain.cli",  # explain
    "barometer.scoring.cli",  # score
    "serving.cli",  # serve
)


def _register_rooms() -> None:
    """Attach each room's commands (data → features → training → serving)."""
    from importlib import import_module

    for module in ROOM_CLIS:
        import_module(module).register(app)


_register_rooms()


def run() -> None:
    """The `barometer` executable: the app, then a prompt exit.

    Python's own shutdown tears down every imported module, and with MLflow, SQLAlchemy and
    scikit-learn loaded that takes 0.6-1 s on 2 cores, after the command has finished. Once the
    command has returned, `finish` runs the atexit handlers (MLflow's and logging's flushes),
    flushes standard output and leaves without the teardown. An error still leaves through
    Python's normal path, with its traceback.
    """
    startup.pause_collection_while_importing()  # the commands' heavy imports; see its docstring
    try:
        app()
    except SystemExit as exit_:
        finish(exit_.code)
    finish(0)


def finish(code: int | str | None) -> None:
    """Exit with `code` as `sys.exit` would, skipping the interpreter's module teardown.

    A thread still running (a worker pool, a background upload) is left to Python's normal
    shutdown, which stops pools and waits for threads in the right order.
    """
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if any(not thread.daemon for thread in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    run()
