"""This room's `barometer` command: `serve`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Attach this room's commands to the `barometer` app."""
    app.command()(serve)


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
    port: Annotated[
        int | None, typer.Option(help="Port (default: BAROMETER_PORT, else 8000).")
    ] = None,
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

    from barometer.settings import get_settings
    from serving.app import ServeOptions, create_app
    from serving.auth import NoKeysError, load_keyring
    from serving.observability import configure_logging

    settings = get_settings()
    port = settings.port if port is None else port
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
    if not port_free(host, port):
        typer.secho(
            f"barometer serve: port {port} on {host} is already in use (another `barometer "
            "serve`?). Stop it, or pick another port: --port, BAROMETER_PORT or "
            "`make serve PORT=...`.",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)
    run_server(app, host, port)


BANNER = (
    "Serving the dashboard at http://{host}:{port}/dashboard (API docs: /dashboard/docs, signed "
    "in); Ctrl-C stops it."
)


def port_free(host: str, port: int) -> bool:
    """Whether `port` on `host` can be listened on (checked before the models load, so a taken
    port is a clear error at once rather than after the start-up)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def run_server(app, host: str, port: int) -> None:
    """Serve `app` with one uvicorn worker; the banner is printed once the socket is listening
    (uvicorn runs the app's start-up first, so a banner printed earlier would point at a closed
    port for as long as the models take to load)."""
    import contextlib

    import uvicorn

    class Announced(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started:
                typer.echo(BANNER.format(host=host, port=port))

    config = uvicorn.Config(app, host=host, port=port, workers=1, access_log=False, log_config=None)
    server = Announced(config)
    with contextlib.suppress(KeyboardInterrupt):  # as `uvicorn.run`: Ctrl-C ends it cleanly
        server.run()
    if not server.started:  # a failed start-up exits non-zero
        raise typer.Exit(3)
