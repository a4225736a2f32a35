"""This room's `barometer` commands: `score` and `serve`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from barometer.settings import TARGETS


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command()(score)
    app.command()(serve)


def score(
    target: Annotated[str, typer.Option(help="churn or deal_win.")],
    as_of: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Score as of this date (default: latest cutoff)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write a .csv or .parquet file.")] = None,
) -> None:
    """Score every active account (open opportunity) as of a date; keeps history in `scores`."""
    from rich.console import Console

    from barometer.settings import get_settings
    from serving import job
    from serving.app import load_registry
    from serving.bundle import ChampionProvider

    if target not in TARGETS:
        raise typer.BadParameter(f"--target must be one of {', '.join(TARGETS)}, not {target!r}.")
    settings = get_settings()
    try:
        loaded = ChampionProvider(settings).load(target)
        result = job.run(settings, loaded, as_of, out, load_registry())
    except (LookupError, ValueError, OSError) as exc:  # OSError: e.g. disk full writing --out
        Console(stderr=True).print(f"[red]barometer score:[/red] {exc}")
        raise typer.Exit(1) from exc
    Console().print(
        f"Scored {result.rows:,} {'accounts' if target == 'churn' else 'open opportunities'} "
        f"as of {result.as_of:%Y-%m-%d} with {target} model v{result.model_version} "
        f"in {result.seconds:.1f}s" + (f"; wrote {result.out}" if result.out else "")
    )


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Allow this browser origin (repeatable; none by default)."),
    ] = None,
    poll_seconds: Annotated[
        float, typer.Option(help="How often to look for promotions and new scores.")
    ] = 30.0,
    access_log: Annotated[bool, typer.Option(help="One JSON log line per request.")] = True,
    demo_key: Annotated[
        bool, typer.Option("--demo-key", help="Print a fresh admin key for a demo and exit.")
    ] = False,
) -> None:
    """Serve the API (one worker; JSON logs on stderr)."""
    from serving.auth import Role, new_key

    if demo_key:
        typer.echo(new_key(Role.admin))
        return
    import uvicorn

    from barometer.settings import get_settings
    from serving.app import ServeOptions, create_app
    from serving.observability import configure_logging

    configure_logging()
    options = ServeOptions(
        poll_seconds=poll_seconds, cors_origins=tuple(cors_origin or ()), access_log=access_log
    )
    app = create_app(get_settings(), options=options)
    uvicorn.run(app, host=host, port=port, workers=1, access_log=False, log_config=None)
