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


@app.command()
def version() -> None:
    """Print the Barometer version."""
    typer.echo(__version__)


def _register_rooms() -> None:
    """Attach each room's commands (data → features → training → serving)."""
    from data.cli import register as register_data
    from features.cli import register as register_features

    for register in (register_data, register_features):
        register(app)


_register_rooms()

if __name__ == "__main__":
    app()
