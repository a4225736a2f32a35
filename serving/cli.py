"""This room's `barometer` command: `serve`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command()(serve)


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
