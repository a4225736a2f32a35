"""The `barometer` command. Each room registers its own commands; they mirror the make targets."""

from __future__ import annotations

import typer

from barometer import __version__

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

if __name__ == "__main__":
    app()
