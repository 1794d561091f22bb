"""The analysis tab: one request to `POST /v1/video/analyze`, shown as answer, timeline,
frames with boxes and raw JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from inkshadow.client import ApiClient
from inkshadow.ui.form import build_form, request_body
from inkshadow.ui.labels import Labels
from inkshadow.ui.notices import InputError, alert, explain
from inkshadow.ui.results import Rendered, build_result_view, render_result
from inkshadow.ui.texts import t

PREFIX = "ink-an"
_SAVED_MAX = 16 * 1024 * 1024


def _read_result(path: Path) -> dict[str, Any]:
    if path.stat().st_size > _SAVED_MAX:
        raise InputError("over 16 MB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(type(exc).__name__) from exc
    if not isinstance(data, dict) or not isinstance(data.get("results", []), list):
        raise InputError("no results list")
    return data


def build_analysis_tab(client: ApiClient, labels: Labels, lang: gr.Radio) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            form = build_form(labels, PREFIX)
            run = labels.add(
                gr.Button(t(labels.lang, "an.run"), variant="primary", elem_id=f"{PREFIX}-run"),
                value="an.run",
            )
            with labels.add(gr.Accordion(labels("an.saved"), open=False), label="an.saved"):
                saved = labels.add(
                    gr.File(
                        label=labels("an.saved_file"),
                        file_types=[".json"],
                        elem_id=f"{PREFIX}-saved",
                        height=100,
                    ),
                    label="an.saved_file",
                )
        with gr.Column(scale=3, min_width=320):
            # Errors sit above the results, on screen where the answer would appear.
            error = gr.HTML(elem_id=f"{PREFIX}-error", elem_classes="ink-slot")
            view = build_result_view(labels, PREFIX)

    async def analyze(lang_: str, *values: Any) -> AsyncIterator[list[Any]]:
        video = values[0]
        busy = Rendered(answer="…")
        yield [alert(""), *busy.values()]
        try:
            body = await request_body(client, lang_, *values)
            result = await client.analyze(body)
            shown = await render_result(
                result, lang_, Path(video) if video else None, f"{PREFIX}-video"
            )
        except Exception as exc:  # every failure becomes a plain message, never a trace
            yield [alert(explain(exc, lang_)), *Rendered().values()]
            return
        yield [alert(""), *shown.values()]

    async def open_saved(lang_: str, video: str | None, path: str | None) -> list[Any]:
        """Show a saved result (the CLI's or a job's JSON) over the uploaded video."""
        if not path:
            return [gr.update()] * (1 + len(view.outputs))
        try:
            result = await asyncio.to_thread(_read_result, Path(path))
        except InputError as exc:
            return [alert(t(lang_, "an.saved_bad", message=str(exc))), *Rendered().values()]
        player = f"{PREFIX}-video"
        shown = await render_result(result, lang_, Path(video) if video else None, player)
        return [alert(""), *shown.values()]

    saved.upload(open_saved, inputs=[lang, form.video, saved], outputs=[error, *view.outputs])
    run.click(
        analyze,
        inputs=[lang, *form.inputs],
        outputs=[error, *view.outputs],
        concurrency_limit=None,
    )
    form.query.submit(
        analyze,
        inputs=[lang, *form.inputs],
        outputs=[error, *view.outputs],
        concurrency_limit=None,
    )
