"""`inkshadow up`: the one-machine experience in one command.

One process serves the API and runs job workers on the same engine (one copy of the model),
with the embedded defaults (SQLite job database migrated on start, in-memory cache, media
under data_dir); the web UI runs beside it when Gradio is installed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Annotated

import typer

from inkshadow.cli_common import (
    ConfigOpt,
    LogLevelOpt,
    ModelOpt,
    fail,
    require_model,
    settings_or_exit,
)
from inkshadow.errors import InkshadowError


def up_command(
    model: ModelOpt = None,
    port: Annotated[int | None, typer.Option(help="API port [8000].")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    workers: Annotated[int, typer.Option(help="Job slots run beside the API.", min=0)] = 1,
    ui: Annotated[
        bool, typer.Option(help="Also serve the web UI when Gradio is installed.")
    ] = True,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 7860,
    log_level: LogLevelOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run everything on this machine: API, job workers and (when installed) the web UI."""
    from inkshadow.api.app import create_app
    from inkshadow.api.server import serve
    from inkshadow.engine.factory import build_engine
    from inkshadow.logs import configure_logging

    settings = settings_or_exit(config, model=model, port=port, host=host, log_level=log_level)
    require_model(settings)
    try:
        engine = build_engine(settings)
    except InkshadowError as exc:
        raise fail(exc.message) from None
    configure_logging(settings.log_level)
    api_url = f"http://{settings.host}:{settings.port}"
    ui_proc = None
    if ui and importlib.util.find_spec("gradio") is not None:
        cmd = [sys.executable, "-m", "inkshadow.cli", "ui", "--api", api_url]
        cmd += ["--host", settings.host, "--port", str(ui_port)]
        if settings.api_keys:
            cmd += ["--api-key", settings.api_keys[0]]
        ui_proc = subprocess.Popen(cmd)
        typer.echo(f"web UI:  http://{settings.host}:{ui_port}", err=True)
    elif ui:
        typer.echo("web UI:  not installed (pip install 'inkshadow[ui]')", err=True)
    typer.echo(f"API:     {api_url}  (job workers: {workers})", err=True)
    try:
        serve(
            create_app(settings, engine, migrate=True, embedded_workers=workers),
            settings.host,
            settings.port,
        )
    finally:
        if ui_proc is not None:
            ui_proc.terminate()
            try:
                ui_proc.wait(15)
            except subprocess.TimeoutExpired:
                ui_proc.kill()
