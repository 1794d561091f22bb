"""The request form shared by the analysis and jobs tabs, and the body it turns into.

An uploaded video goes to `POST /v1/files` and is referred to by its file id; when the
server has no files route it is sent inline as a data: URL (the API takes both)."""

from __future__ import annotations

import asyncio
import base64
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from inkshadow.client import ApiClient, NotAvailable
from inkshadow.ui.labels import TASK_CHOICES, Labels
from inkshadow.ui.notices import InputError
from inkshadow.ui.texts import t, task_choices

_INLINE_MAX = 48 * 1024 * 1024  # above this a data: URL is too big to be a sane fallback


@dataclass
class Form:
    video: gr.Video
    url: gr.Textbox
    task: gr.Dropdown
    query: gr.Textbox
    fps: gr.Number
    max_frames: gr.Number
    start: gr.Number
    end: gr.Number
    poetic: gr.Checkbox

    @property
    def inputs(self) -> list[Any]:
        return [
            self.video,
            self.url,
            self.task,
            self.query,
            self.fps,
            self.max_frames,
            self.start,
            self.end,
            self.poetic,
        ]


def build_form(labels: Labels, prefix: str, default_task: str = "temporal") -> Form:
    """The form's components, laid out in the current Blocks context. `prefix` keeps the
    two tabs' element ids apart (the player is `{prefix}-video`)."""
    lang = labels.lang
    video = labels.add(
        gr.Video(
            label=t(lang, "an.video"), sources=["upload"], elem_id=f"{prefix}-video", height=240
        ),
        label="an.video",
    )
    url = labels.add(
        gr.Textbox(
            label=t(lang, "an.url"), placeholder="https://…", max_lines=1, elem_id=f"{prefix}-url"
        ),
        label="an.url",
    )
    with gr.Row():
        task = labels.add(
            gr.Dropdown(
                choices=task_choices(lang),
                value=default_task,
                label=t(lang, "an.task"),
                elem_id=f"{prefix}-task",
                scale=1,
                min_width=140,
            ),
            label="an.task",
            choices=TASK_CHOICES,
        )
        query = labels.add(
            gr.Textbox(
                label=t(lang, "an.query"),
                placeholder=t(lang, "an.query_ph"),
                max_lines=3,
                elem_id=f"{prefix}-query",
                scale=3,
            ),
            label="an.query",
            placeholder="an.query_ph",
        )
    # Folded: server defaults suit most questions, and the run button stays on screen.
    more = gr.Accordion(labels("an.more"), open=False, elem_id=f"{prefix}-more")
    with labels.add(more, label="an.more"):
        # Two by two: four in a row squeeze their labels on a laptop.
        with gr.Row():
            fps = _number(labels, "an.fps", f"{prefix}-fps", maximum=60)
            max_frames = _number(labels, "an.max_frames", f"{prefix}-max-frames", precision=0)
        with gr.Row():
            start = _number(labels, "an.start", f"{prefix}-start")
            end = _number(labels, "an.end", f"{prefix}-end")
        poetic = labels.add(
            gr.Checkbox(label=t(lang, "an.poetic"), value=False, elem_id=f"{prefix}-poetic"),
            label="an.poetic",
        )
    return Form(video, url, task, query, fps, max_frames, start, end, poetic)


def _number(labels: Labels, key: str, elem_id: str, **kwargs: Any) -> gr.Number:
    # 0 stands for "server default": Gradio shows an empty Number as 0.
    field = gr.Number(
        label=labels(key), value=0, minimum=0, elem_id=elem_id, min_width=120, **kwargs
    )
    return labels.add(field, label=key)


async def video_ref(client: ApiClient, path: Path) -> str:
    """A reference the API can read for a local file: its file id, or a data: URL."""
    try:
        return await client.upload(path)
    except NotAvailable:
        return await asyncio.to_thread(_data_url, path)


def _data_url(path: Path) -> str:
    if path.stat().st_size > _INLINE_MAX:
        raise NotAvailable("POST /v1/files")
    mime = mimetypes.guess_type(path.name)[0] or "video/mp4"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


async def request_body(
    client: ApiClient,
    lang: str,
    video: str | None,
    url: str | None,
    task: str,
    query: str | None,
    fps: float | None,
    max_frames: float | None,
    start: float | None,
    end: float | None,
    poetic: bool,
) -> dict[str, Any]:
    """The body of /v1/video/analyze and /v1/jobs. Raises InputError when the form is incomplete."""
    if not (query or "").strip():
        raise InputError(t(lang, "an.need_query"))
    if video:
        ref = await video_ref(client, Path(video))
    elif (url or "").strip():
        ref = (url or "").strip()
    else:
        raise InputError(t(lang, "an.need_video"))
    body: dict[str, Any] = {"video": ref, "task": task, "query": (query or "").strip()}
    # Empty numbers mean "server default"; Gradio gives None for a cleared field.
    if fps:
        body["fps"] = float(fps)
    if max_frames:
        body["max_frames"] = int(max_frames)
    if start:
        body["start"] = float(start)
    if end:
        body["end"] = float(end)
    if poetic:
        body["style"] = "poetic"
    return body
