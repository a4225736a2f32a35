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
    from features.warehouse import WarehouseBusyError
    from serving import job
    from serving.app import load_registry
    from serving.bundle import ChampionProvider

    if target not in TARGETS:
        raise typer.BadParameter(f"--target must be one of {', '.join(TARGETS)}, not {target!r}.")
    settings = get_settings()
    try:
        loaded = ChampionProvider(settings).load(target)
        result = job.run(settings, loaded, as_of, out, load_registry())
    # OSError: e.g. disk full writing --out; WarehouseBusyError: another writer held it too long
    except (LookupError, ValueError, OSError, WarehouseBusyError) as exc:
        Console(stderr=True).print(f"[red]barometer score:[/red] {exc}")
        raise typer.Exit(1) from exc
    Console().print(
        f"Scored {result.rows:,} {'accounts' if target == 'churn' else 'open opportunities'} "
        f"as of {result.as_of:%Y-%m-%d} with {target} model v{result.model_version} "
        f"in {result.seconds:.1f}s" + (f"; wrote {result.out}" if result.out else "")
    )


LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEMO_BANNER = """
{bar}
  INSECURE DEMO: not for real data.
  No API keys were configured, so this run made a throwaway admin key:
      {key}
  It is printed here, held by nobody else, and dies with this process. The service listens on
  {host} only. To serve for real, set BAROMETER_API_KEYS or BAROMETER_API_KEYS_FILE.
{bar}
"""


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1 or localhost)."""
    return host in LOOPBACK or host.startswith("127.")


def secure_cookies_for(host: str, setting: bool | None) -> bool:
    """`BAROMETER_SECURE_COOKIES` when set; otherwise on unless the service is bound to loopback
    (a browser sends a `Secure` cookie over HTTPS only, so a TLS proxy must front the service)."""
    return not is_loopback(host) if setting is None else setting


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Allow this browser origin (repeatable; none by default)."),
    ] = None,
    poll_seconds: Annotated[
        float, typer.Option(help="How often to look for promotions, new scores and key changes.")
    ] = 30.0,
    access_log: Annotated[bool, typer.Option(help="One JSON log line per request.")] = True,
    demo_key: Annotated[
        bool, typer.Option("--demo-key", help="Print a fresh admin key for a demo and exit.")
    ] = False,
    insecure_demo: Annotated[
        bool,
        typer.Option(
            "--insecure-demo",
            help="Demo only: without configured keys, serve on 127.0.0.1 with a throwaway admin "
            "key printed in a banner.",
        ),
    ] = False,
) -> None:
    """Serve the API and dashboard (one worker; JSON logs on stderr). Refuses to start without
    API keys (BAROMETER_API_KEYS or BAROMETER_API_KEYS_FILE) unless `--insecure-demo`."""
    from serving.auth import Role, new_key

    if demo_key:
        typer.echo(new_key(Role.admin))
        return
    import uvicorn

    from barometer.settings import get_settings
    from serving.app import ServeOptions, create_app
    from serving.auth import NoKeysError, load_keyring
    from serving.observability import configure_logging

    settings = get_settings()
    err = typer.get_text_stream("stderr")
    if insecure_demo:
        if not is_loopback(host):
            raise typer.BadParameter("--insecure-demo binds 127.0.0.1 only.", param_hint="--host")
        if not len(load_keyring(settings.api_keys, settings.api_keys_file)):
            key = new_key(Role.admin)
            settings = settings.model_copy(update={"api_keys": key, "api_keys_file": None})
            err.write(DEMO_BANNER.format(bar="!" * 78, key=key, host=host))
            err.flush()
    options = ServeOptions(
        poll_seconds=poll_seconds,
        cors_origins=tuple(cors_origin or ()),
        access_log=access_log,
        secure_cookies=secure_cookies_for(host, settings.secure_cookies),
    )
    configure_logging()
    try:
        app = create_app(settings, options=options)
    except (NoKeysError, FileNotFoundError, PermissionError, ValueError) as exc:
        typer.secho(f"barometer serve: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    uvicorn.run(app, host=host, port=port, workers=1, access_log=False, log_config=None)
