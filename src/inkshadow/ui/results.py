"""How an AnalysisResult is shown: answer, timeline, frames with boxes, raw JSON. Shared by
the analysis tab and the jobs tab (a job's result has the same shape)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from inkshadow.errors import UnsupportedMedia
from inkshadow.tasks.marks import events_of
from inkshadow.ui import timeline
from inkshadow.ui.frames import annotated_frames, boxes_by_time
from inkshadow.ui.labels import Labels
from inkshadow.ui.notices import note
from inkshadow.ui.texts import t


@dataclass
class ResultView:
    answer: gr.Markdown
    timeline: gr.HTML
    frames_note: gr.HTML
    frames: gr.Gallery
    raw: gr.Code

    @property
    def outputs(self) -> list[Any]:
        return [self.answer, self.timeline, self.frames_note, self.frames, self.raw]


def build_result_view(labels: Labels, prefix: str) -> ResultView:
    lang = labels.lang
    answer = labels.add(
        gr.Markdown(
            label=t(lang, "an.answer"),
            elem_id=f"{prefix}-answer",
            container=True,
            min_height=60,
            visible=False,
        ),
        label="an.answer",
    )
    line = gr.HTML(elem_id=f"{prefix}-timeline", js_on_load=timeline.SEEK_JS)
    frames_note = gr.HTML(elem_id=f"{prefix}-frames-note", elem_classes="ink-slot")
    frames = labels.add(
        gr.Gallery(
            label=t(lang, "an.frames"),
            elem_id=f"{prefix}-frames",
            columns=3,
            height="auto",
            object_fit="contain",
            format="png",
            interactive=False,
            visible=False,
        ),
        label="an.frames",
    )
    raw = labels.add(
        gr.Code(
            label=t(lang, "an.json"),
            language="json",
            elem_id=f"{prefix}-json",
            buttons=["copy", "download"],
            interactive=False,
            lines=6,
            max_lines=24,
            visible=False,
        ),
        label="an.json",
    )
    return ResultView(answer, line, frames_note, frames, raw)


def _answer(result: dict[str, Any], lang: str) -> str:
    parts = []
    text = str(result.get("text") or "").strip()
    if text:
        parts.append(text)
    verse = (result.get("extra") or {}).get("verse")
    if isinstance(verse, str) and verse.strip():
        parts.append("> " + verse.strip().replace("\n", "\n> "))
    summary = (result.get("extra") or {}).get("summary")
    if isinstance(summary, str) and summary.strip():
        parts.append(summary.strip())
    video, sampling = result.get("video"), result.get("sampling")
    if isinstance(video, dict) and isinstance(sampling, dict):
        parts.append(
            "*"
            + t(
                lang,
                "an.sampling",
                duration=float(video.get("duration", 0)),
                width=video.get("width", "?"),
                height=video.get("height", "?"),
                frames=sampling.get("frames", "?"),
                fps=float(sampling.get("fps", 0)),
                swidth=sampling.get("width", "?"),
                sheight=sampling.get("height", "?"),
            )
            + "*"
        )
    warnings = list(dict.fromkeys(str(w) for w in result.get("warnings") or []))
    if warnings:
        parts.append(f"**{t(lang, 'an.warnings')}:** " + "; ".join(warnings))
    return "\n\n".join([f"#### {t(lang, 'an.answer')}", *parts])


def pretty_json(value: Any, indent: str = "") -> str:
    """Indented JSON with short lists of plain values (a bbox) on one line: a box reads as a
    box."""
    inner = indent + "  "
    flat = json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and len(flat) <= 60 and "{" not in flat:
        return flat
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {pretty_json(v, inner)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value:
        items = [inner + pretty_json(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return flat


@dataclass
class Rendered:
    answer: str = ""
    timeline: str = ""
    frames_note: str = ""
    frames: list[tuple[Image.Image, str]] = field(default_factory=list)
    raw: str = ""

    def values(self) -> list[Any]:
        # Empty boxes read as broken: each part shows once it has something.
        return [
            gr.Markdown(value=self.answer, visible=bool(self.answer)),
            self.timeline,
            self.frames_note,
            gr.Gallery(value=self.frames, visible=bool(self.frames)),
            gr.Code(value=self.raw, visible=bool(self.raw)),
        ]


async def render_result(
    result: dict[str, Any],
    lang: str,
    video: Path | None,
    player: str,
    no_video: str = "an.frames_url",
) -> Rendered:
    """`video`: the local file the result is about (None: none here, for a linked video);
    `player`: the elem_id of the gr.Video the timeline seeks; `no_video`: the text key of
    the note shown instead of boxes when `video` is None."""
    duration = float((result.get("video") or {}).get("duration") or 0.0)
    line = timeline.render(
        events_of(result),
        duration,
        player,
        t(lang, "an.timeline"),
        t(lang, "an.no_events"),
    )
    out = Rendered(
        answer=_answer(result, lang),
        timeline=line,
        raw=pretty_json(result),
    )
    items = list(result.get("results") or [])
    if not boxes_by_time(items):
        return out
    if video is None:
        out.frames_note = note(t(lang, no_video))
        return out
    try:
        out.frames = await asyncio.to_thread(annotated_frames, video, items)
    except UnsupportedMedia as exc:  # not a readable video (its message is for clients)
        out.frames_note = note(t(lang, "err.frames", message=exc.message))
    except (OSError, ValueError) as exc:  # e.g. Pillow on an odd frame
        out.frames_note = note(t(lang, "err.frames", message=type(exc).__name__))
    return out
