"""What every `inkshadow` command shares: the --config option, settings built from flags
with a plain error (never a traceback) when they are wrong, and the error exit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inkshadow.errors import InkshadowError
from inkshadow.settings import Settings, load_settings

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="YAML or TOML file of settings.", exists=True, dir_okay=False),
]
ModelOpt = Annotated[str | None, typer.Option(help="Hugging Face model id or local folder to run.")]
EngineOpt = Annotated[
    str | None, typer.Option(help="transformers (in process) or remote (an upstream).")
]
UpstreamOpt = Annotated[
    str | None, typer.Option(help="Base URL of an OpenAI-compatible upstream (vLLM).")
]
LogLevelOpt = Annotated[str | None, typer.Option(help="Log level [INFO].")]


def fail(message: str) -> typer.Exit:
    """Print `error: message` in red on stderr; raise the returned Exit (status 2)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


def settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    """Flags > environment > file > defaults; bad values end the command plainly."""
    try:
        return load_settings(config, **overrides)
    except InkshadowError as exc:
        raise fail(exc.message) from None
    except ValueError as exc:  # pydantic validation of flags and environment
        raise fail(str(exc)) from None


def require_model(settings: Settings) -> None:
    """The in-process engine needs a model; say how to give one."""
    if settings.engine == "transformers" and not settings.model:
        raise fail("no model: pass --model ID_OR_DIR, set INKSHADOW_MODEL, or use --engine remote")
