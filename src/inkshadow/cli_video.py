"""`inkshadow frames` (what the model will see) and `inkshadow analyze` (a task about a
video, in process or against a server), as typer command functions cli.py registers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inkshadow.cli_common import ConfigOpt, fail, settings_or_exit
from inkshadow.errors import InkshadowError
from inkshadow.families import Family
from inkshadow.settings import Settings

if TYPE_CHECKING:
    from inkshadow.tasks.types import TaskSpec

VideoArg = Annotated[Path, typer.Argument(help="A local video file.", exists=True, dir_okay=False)]
FpsOpt = Annotated[
    float | None, typer.Option(help="Frames per second to sample [setting video_fps: 2].")
]
MaxFramesOpt = Annotated[
    int | None, typer.Option(help="Frames to sample, at most [setting video_max_frames: 768].")
]
StartOpt = Annotated[float | None, typer.Option(help="Clip start, seconds.")]
EndOpt = Annotated[float | None, typer.Option(help="Clip end, seconds.")]
TASKS = ("ask", "temporal", "spatial", "track", "describe")


def frames_command(
    video: VideoArg,
    out: Annotated[Path, typer.Option("--out", help="Folder to write PNGs and manifest.json.")],
    family: Annotated[Family, typer.Option(help="Model family whose sizes to use.")] = (
        Family.QWEN2_5_VL
    ),
    fps: FpsOpt = None,
    max_frames: MaxFramesOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write exactly the frames the model will see (qwen-vl-utils' indices and sizes) as PNG
    files, and DIR/manifest.json with each frame's source index and time in seconds."""
    from PIL import Image

    from inkshadow.media.decode import sample_video
    from inkshadow.media.sampling import SamplingRequest

    settings = settings_or_exit(config)
    if not family.is_vision:
        raise fail(f"{family.value} reads text only; pick a vision-language family")
    request = SamplingRequest(
        family=family,
        fps=fps if fps is not None else settings.video_fps,
        max_frames=min(max_frames or settings.video_max_frames, settings.video_max_frames),
        start=start,
        end=end,
    )
    try:
        sampled = sample_video(video, request, exact_resize=settings.exact_resize)
    except InkshadowError as exc:
        raise fail(exc.message) from None
    out.mkdir(parents=True, exist_ok=True)
    plan, info = sampled.plan, sampled.info
    frames = []
    for n, (index, time) in enumerate(zip(plan.indices, plan.timestamps, strict=True)):
        name = f"frame_{n:04d}_{index:06d}.png"
        Image.fromarray(sampled.frames[n]).save(out / name)
        frames.append({"index": index, "time": round(time, 6), "file": name})
    manifest = {
        "video": {
            "duration": info.duration,
            "fps": info.fps,
            "width": info.width,
            "height": info.height,
            "frames": info.frames,
        },
        "family": family.value,
        "width": plan.width,
        "height": plan.height,
        "sample_fps": plan.sample_fps,
        "frames": frames,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    typer.echo(f"wrote {len(frames)} frames of {plan.width}x{plan.height} to {out}")


def analyze_command(
    video: Annotated[
        str, typer.Argument(help="A local video file; with --server also a URL or file id.")
    ],
    query: Annotated[str, typer.Argument(help="What to ask or look for.")],
    task: Annotated[str, typer.Option(help="ask, temporal, spatial, track or describe.")] = "ask",
    model: Annotated[
        str | None, typer.Option(help="Model to run in process (id or folder).")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="Ask this inkshadow server instead (base URL).")
    ] = None,
    job: Annotated[
        bool | None,
        typer.Option(
            "--job/--no-job",
            help="With --server: run as a job and follow its progress [when the video is "
            "longer than chunk_seconds].",
        ),
    ] = None,
    style: Annotated[str, typer.Option(help="plain, or poetic (ask only).")] = "plain",
    fps: FpsOpt = None,
    max_frames: MaxFramesOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    pretty: Annotated[bool, typer.Option(help="A readable table instead of JSON.")] = False,
    preview: Annotated[
        Path | None, typer.Option(help="Also write a PNG: frames with boxes, and the timeline.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Answer a question about a video: when (seconds on the original timeline) and where
    (boxes in original pixels), as JSON. Runs the model in process, or asks a server."""
    from inkshadow.tasks.types import TaskSpec

    if task not in TASKS:
        raise fail(f"unknown task {task!r}; pick one of {', '.join(TASKS)}")
    if style not in ("plain", "poetic"):
        raise fail("style is plain or poetic")
    settings = settings_or_exit(config, model=model)
    local = Path(video)
    if not local.is_file() and server is None:
        raise fail(f"no such video file: {video}")
    if preview is not None and not local.is_file():
        raise fail("--preview needs a local video file")
    spec = TaskSpec(task=task, query=query, style=style)  # type: ignore[arg-type]
    options = {"fps": fps, "max_frames": max_frames, "start": start, "end": end}
    try:
        if server is not None:
            from inkshadow.cli_remote import analyze_on_server

            file = local if local.is_file() else None
            result = asyncio.run(
                analyze_on_server(server, video, file, spec, options, settings, job)
            )
        else:
            result = asyncio.run(_analyze_here(local, spec, options, settings))
    except InkshadowError as exc:
        raise fail(exc.message) from None
    if preview is not None:
        from inkshadow.tasks.preview import render_preview

        render_preview(local, result, query).save(preview)
        typer.secho(f"preview written to {preview}", err=True)
    if pretty:
        from inkshadow.cli_table import print_result

        print_result(result)
    else:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


async def _analyze_here(
    path: Path, spec: TaskSpec, options: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    from inkshadow.cli_progress import ChunkProgress
    from inkshadow.engine.factory import build_engine
    from inkshadow.media.frame_source import open_path_video
    from inkshadow.tasks.runner import analyze_video
    from inkshadow.tasks.types import AnalyzeOptions

    if settings.engine == "transformers" and not settings.model:
        raise fail("no model: pass --model ID_OR_DIR, set INKSHADOW_MODEL, or use --server")
    engine = build_engine(settings)
    with ChunkProgress("analysing") as progress:
        progress.note("loading the model")
        await engine.start()
        try:
            if engine.info.tiny:
                typer.secho(
                    "warning: a random-weight test model; its answers are noise",
                    fg=typer.colors.YELLOW,
                    err=True,
                )
            source = await open_path_video(path, engine.info.family, settings)
            progress.note("sampling and generating")
            result = await analyze_video(
                engine, source, spec, AnalyzeOptions(**options), settings, on_progress=progress
            )
        finally:
            await engine.close()
    return result.model_dump(mode="json")
