"""`inkshadow ui`: the CLI entry point of the web UI (registered by the CLI; also
`python -m inkshadow.ui`)."""

from __future__ import annotations

from typing import Annotated

import typer


def ui_command(
    api: Annotated[
        str, typer.Option("--api", help="Base URL of the inkshadow API the UI talks to.")
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="API key sent as a Bearer token.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 7860,
    lang: Annotated[str, typer.Option(help="Language a new visitor sees first: zh or en.")] = "zh",
    log_level: Annotated[str, typer.Option(help="Log level.")] = "INFO",
) -> None:
    """Serve the web UI: chat with videos and images, analyses with timeline and boxes, jobs
    and server status. It calls the API over HTTP like any other client."""
    if not api.startswith(("http://", "https://")):
        typer.echo("error: --api must be an http:// or https:// URL", err=True)
        raise typer.Exit(2)
    if lang not in ("zh", "en"):
        typer.echo("error: --lang must be zh or en", err=True)
        raise typer.Exit(2)
    try:
        import gradio  # noqa: F401
    except ImportError as exc:
        typer.echo("error: the UI needs Gradio: pip install 'inkshadow[ui]'", err=True)
        raise typer.Exit(2) from exc
    import uvicorn

    from inkshadow.logs import configure_logging
    from inkshadow.ui.app import create_app

    configure_logging(log_level)
    app = create_app(api, api_key, lang)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
