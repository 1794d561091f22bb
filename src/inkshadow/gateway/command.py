"""`inkshadow gateway`: the CLI entry point (registered by the CLI; also `python -m
inkshadow.gateway`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inkshadow.errors import InkshadowError
from inkshadow.gateway.logs import configure_logging


def gateway_command(
    upstream: Annotated[
        list[str] | None,
        typer.Option("--upstream", help="Upstream base URL (repeatable): http://HOST:PORT."),
    ] = None,
    upstream_dns: Annotated[
        str | None,
        typer.Option("--upstream-dns", help="NAME:PORT re-resolved for upstreams."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(help="least_outstanding | round_robin | session | media."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML or TOML settings file.")
    ] = None,
) -> None:
    """Route requests across inkshadow API replicas or vLLM servers."""
    from inkshadow.gateway.server import run
    from inkshadow.settings import load_settings

    try:
        settings = load_settings(
            config,
            gateway_upstreams=upstream or None,
            gateway_upstream_dns=upstream_dns,
            gateway_policy=policy,
            host=host,
            gateway_port=port,
        )
    except InkshadowError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:  # pydantic's ValidationError: names fields, never secrets
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not settings.gateway_upstreams and not settings.gateway_upstream_dns:
        typer.echo("error: give --upstream URL (repeatable) or --upstream-dns NAME:PORT", err=True)
        raise typer.Exit(2)
    configure_logging(settings.log_level)
    try:
        run(settings, host=settings.host, port=settings.gateway_port)
    except InkshadowError as exc:  # e.g. an upstream URL that is not http://HOST:PORT
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
