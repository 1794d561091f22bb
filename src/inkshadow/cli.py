"""The `inkshadow` command."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from inkshadow import __version__
from inkshadow.cli_common import (
    ConfigOpt,
    EngineOpt,
    LogLevelOpt,
    ModelOpt,
    UpstreamOpt,
    fail,
    require_model,
    settings_or_exit,
)
from inkshadow.errors import InkshadowError
from inkshadow.families import Family
from inkshadow.settings import Settings

app = typer.Typer(
    name="inkshadow",
    help="Self-hosted video understanding for Qwen vision-language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
model_app = typer.Typer(help="Model utilities.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _settings_epilog() -> str:
    lines = [
        "Every setting can also come from an INKSHADOW_<NAME> environment variable or a "
        "--config YAML/TOML file (flags > environment > file > defaults):\n\n"
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"INKSHADOW_{name.upper()}: {field.description or ''}\n\n")
    return "".join(lines)


def _doc(command: Callable[..., None]) -> str:
    """A command's docstring as help text: wrapped lines joined, paragraphs kept."""
    text = inspect.cleandoc(command.__doc__ or "")
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


def serve(
    model: ModelOpt = None,
    engine: EngineOpt = None,
    upstream: UpstreamOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8000].")] = None,
    served_model_name: Annotated[
        str | None, typer.Option(help="Name clients use in `model`.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda [auto].")] = None,
    dtype: Annotated[str | None, typer.Option(help="auto, bf16, fp16 or fp32 [auto].")] = None,
    max_batch_size: Annotated[
        int | None, typer.Option(help="Requests generated together, at most [8].")
    ] = None,
    log_level: LogLevelOpt = None,
    migrate: Annotated[
        bool, typer.Option(help="Upgrade the job database schema before serving.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Serve the OpenAI-compatible API (chat completions with images and video, /generate,
    health, readiness and Prometheus metrics)."""
    from inkshadow.api.app import create_app
    from inkshadow.api.server import serve as run_server
    from inkshadow.engine.factory import build_engine
    from inkshadow.logs import configure_logging

    settings = settings_or_exit(
        config,
        model=model,
        engine=engine,
        upstream_url=upstream,
        host=host,
        port=port,
        served_model_name=served_model_name,
        device=device,
        dtype=dtype,
        max_batch_size=max_batch_size,
        log_level=log_level,
    )
    require_model(settings)
    try:
        engine_impl = build_engine(settings)
    except InkshadowError as exc:
        raise fail(exc.message) from None
    configure_logging(settings.log_level)
    run_server(create_app(settings, engine_impl, migrate=migrate), settings.host, settings.port)


def model_tiny(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the model into.")],
    family: Annotated[Family, typer.Option(help="Model family to imitate.")] = Family.QWEN2_5_VL,
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
) -> None:
    """Write a random-weight tiny model with an offline processor, for tests and smoke runs.
    Its answers are noise: it exercises the code path, it understands nothing."""
    from inkshadow.engine.tiny import build_tiny_model

    build_tiny_model(family, out_dir, seed=seed)
    typer.echo(f"wrote a random-weight tiny {family.value} model to {out_dir}")
    typer.secho("its answers are noise, not understanding", fg=typer.colors.YELLOW, err=True)


def version() -> None:
    """Print the version."""
    typer.echo(__version__)


# Commands of the other roles live next to their code; registered here, after `app` exists.
from inkshadow.cli_jobs import (  # noqa: E402
    db_current_command,
    db_upgrade_command,
    worker_command,
)
from inkshadow.cli_up import up_command  # noqa: E402
from inkshadow.cli_video import analyze_command, frames_command  # noqa: E402
from inkshadow.gateway.command import gateway_command  # noqa: E402
from inkshadow.ui.command import ui_command  # noqa: E402

db_app = typer.Typer(help="Database schema (jobs, results).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command("serve", help=_doc(serve), epilog=_settings_epilog())(serve)
model_app.command("tiny", help=_doc(model_tiny))(model_tiny)
db_app.command("upgrade", help=_doc(db_upgrade_command))(db_upgrade_command)
db_app.command("current", help=_doc(db_current_command))(db_current_command)
app.command("worker", help=_doc(worker_command), epilog=_settings_epilog())(worker_command)
app.command("gateway", help=_doc(gateway_command))(gateway_command)
app.command("ui", help=_doc(ui_command))(ui_command)
app.command("up", help=_doc(up_command))(up_command)
app.command("frames", help=_doc(frames_command))(frames_command)
app.command("analyze", help=_doc(analyze_command))(analyze_command)
app.command("version", help=_doc(version))(version)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
