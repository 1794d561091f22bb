"""The jobs tab: submit a long video to `POST /v1/jobs`, watch its progress, open its result;
a list of recent jobs. Polling runs on a timer that is active only while a job is open and
not finished."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import gradio as gr

from inkshadow.client import ApiClient
from inkshadow.ui.form import build_form, request_body
from inkshadow.ui.labels import Labels
from inkshadow.ui.notices import alert, explain
from inkshadow.ui.results import Rendered, build_result_view, render_result
from inkshadow.ui.texts import t

PREFIX = "ink-jobs"
_TERMINAL = {"succeeded", "failed", "cancelled"}


def progress_html(job: dict[str, Any], lang: str) -> str:
    status = str(job.get("status", ""))
    fraction = float(job.get("progress") or 0.0)
    chunks = job.get("chunks") or {}
    label = t(
        lang,
        "jobs.state",
        id=job.get("id", ""),
        status=t(lang, f"status.{status}") if status in _STATES else status,
        done=chunks.get("done", 0),
        total=chunks.get("total", 0) or "?",
    )
    percent = round(100 * fraction)
    error = job.get("error") or {}
    failed = ""
    if status == "failed" and error.get("message"):
        failed = alert(t(lang, "jobs.failed", message=error["message"]))
    name = html.escape(t(lang, "jobs.progress"))
    return (
        f'<div class="ink-msg ink-progress" role="progressbar" aria-label="{name}" '
        f'aria-valuemin="0" aria-valuemax="100" aria-valuenow="{percent}" data-status="{status}">'
        f'<div class="ink-progress-fill" style="width:{percent}%"></div></div>'
        f'<p class="ink-progress-text">{html.escape(label)} · {percent}%</p>{failed}'
    )


_STATES = {"queued", "running", "succeeded", "failed", "cancelled"}


# A status cell in either language -> its status, so a language switch can relabel rows.
_STATUS_OF = {t(lang, f"status.{status}"): status for status in _STATES for lang in ("zh", "en")}


def _table(rows: list[list[str]], lang: str) -> dict[str, Any]:
    """The jobs list as a Dataframe value: its headers travel with it, in `lang`."""
    return {"headers": t(lang, "jobs.cols").split("|"), "data": rows}


def _rows(jobs: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    rows = []
    for job in jobs:
        status = str(job.get("status", ""))
        created = job.get("created_at")
        when = time.strftime("%m-%d %H:%M:%S", time.localtime(float(created))) if created else ""
        rows.append(
            [
                str(job.get("id", "")),
                t(lang, f"status.{status}") if status in _STATES else status,
                f"{round(100 * float(job.get('progress') or 0))}%",
                when,
            ]
        )
    return _table(rows, lang)


def relabel_table(shown: list[list[Any]] | None, lang: str) -> dict[str, Any]:
    """The list already shown, with its headers and status words in `lang` (no API call)."""
    rows = []
    for row in shown or []:
        cells = ["" if cell is None else str(cell) for cell in row]
        if not any(cells):  # Gradio's placeholder row of an empty table
            continue
        if len(cells) > 1 and cells[1] in _STATUS_OF:
            cells[1] = t(lang, f"status.{_STATUS_OF[cells[1]]}")
        rows.append(cells)
    return _table(rows, lang)


def local_video(known: dict[str, str], jid: str) -> tuple[Path | None, str]:
    """The video a job's boxes are drawn on, from the page's job id -> local file map ("" for
    a linked video), and the text key of the note shown when there is none: a linked video,
    or a job this page did not submit (it was reloaded, or the job came from elsewhere)."""
    local = known.get(jid)
    if local:
        return Path(local), ""
    return None, "an.frames_url" if local == "" else "jobs.no_video"


def build_jobs_tab(client: ApiClient, labels: Labels, lang: gr.Radio, tab: gr.Tab) -> None:
    """The tab's content; opening `tab` refreshes the list of recent jobs."""
    tr = labels
    # Job id -> its local video ("" for a linked one), so a result's boxes can be drawn.
    # Lost on a reload: a job not in it has no video here.
    paths = gr.State({})
    timer = gr.Timer(1.0, active=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            form = build_form(labels, PREFIX, default_task="describe")
            submit = labels.add(
                gr.Button(tr("jobs.submit"), variant="primary", elem_id=f"{PREFIX}-submit"),
                value="jobs.submit",
            )
            with gr.Row():
                job_id = labels.add(
                    gr.Textbox(label=tr("jobs.id"), max_lines=1, elem_id=f"{PREFIX}-id", scale=3),
                    label="jobs.id",
                )
                open_ = labels.add(
                    gr.Button(tr("jobs.open"), elem_id=f"{PREFIX}-open", scale=1, min_width=110),
                    value="jobs.open",
                )
            table = labels.add(
                gr.Dataframe(
                    headers=tr("jobs.cols").split("|"),
                    label=tr("jobs.list"),
                    type="array",
                    interactive=False,
                    elem_id=f"{PREFIX}-list",
                    max_height=260,
                    column_widths=["34%", "22%", "19%", "25%"],
                    wrap=True,
                ),
                label="jobs.list",
            )
            refresh = labels.add(
                gr.Button(tr("jobs.refresh"), size="sm", elem_id=f"{PREFIX}-refresh"),
                value="jobs.refresh",
            )
        with gr.Column(scale=3, min_width=320):
            # Progress and errors on top, in view right after the submit click.
            error = gr.HTML(elem_id=f"{PREFIX}-error", elem_classes="ink-slot")
            bar = gr.HTML(elem_id=f"{PREFIX}-progress", elem_classes="ink-slot")
            view = build_result_view(labels, PREFIX)

    async def submit_job(lang_: str, known: dict[str, str], *values: Any) -> tuple[Any, ...]:
        try:
            body = await request_body(client, lang_, *values)
            job = await client.submit_job(body)
        except Exception as exc:
            return alert(explain(exc, lang_)), gr.update(), gr.update(), known, gr.Timer()
        jid = str(job.get("id", ""))
        known = {**known, jid: str(values[0] or "")}
        return alert(""), jid, progress_html(job, lang_), known, gr.Timer(active=True)

    async def poll(jid: str, known: dict[str, str], lang_: str) -> tuple[Any, ...]:
        """One look at the open job; its result once it succeeded."""
        jid = (jid or "").strip()
        keep = [gr.update()] * len(view.outputs)
        if not jid:
            return alert(""), "", gr.Timer(active=False), gr.update(), *keep
        try:
            job = await client.job(jid)
            status = str(job.get("status", ""))
            if status not in _TERMINAL:
                bar_ = progress_html(job, lang_)
                return alert(""), bar_, gr.Timer(active=True), gr.update(), *keep
            shown = Rendered()
            if status == "succeeded":
                result = await client.job_result(jid)
                video, missing = local_video(known, jid)
                shown = await render_result(result, lang_, video, f"{PREFIX}-video", missing)
            rows = _rows(await client.jobs(), lang_)  # the list shows the new final state
        except Exception as exc:
            return alert(explain(exc, lang_)), "", gr.Timer(active=False), gr.update(), *keep
        bar_ = progress_html(job, lang_)
        return alert(""), bar_, gr.Timer(active=False), rows, *shown.values()

    async def recent(lang_: str) -> tuple[Any, ...]:
        try:
            return alert(""), _rows(await client.jobs(), lang_)
        except Exception as exc:
            return alert(explain(exc, lang_)), gr.update()

    def pick(event: gr.SelectData) -> Any:
        row = event.row_value if isinstance(event.row_value, list) else None
        return str(row[0]) if row else gr.update()

    form_inputs = [lang, paths, *form.inputs]
    submitted = submit.click(
        submit_job, inputs=form_inputs, outputs=[error, job_id, bar, paths, timer]
    )
    submitted.then(recent, inputs=[lang], outputs=[error, table])
    poll_io: dict[str, Any] = {
        "inputs": [job_id, paths, lang],
        "outputs": [error, bar, timer, table, *view.outputs],
    }
    timer.tick(poll, **poll_io, show_progress="hidden")
    open_.click(poll, **poll_io)
    job_id.submit(poll, **poll_io)
    table.select(pick, outputs=[job_id]).then(poll, **poll_io)
    refresh.click(recent, inputs=[lang], outputs=[error, table])
    tab.select(recent, inputs=[lang], outputs=[error, table])
    lang.change(relabel_table, inputs=[table, lang], outputs=[table], show_progress="hidden")
