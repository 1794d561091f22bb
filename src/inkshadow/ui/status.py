"""Server status: which model and engine serve, health and readiness, and the banner shown
on every tab when the model is a random-weight test model."""

from __future__ import annotations

import html

import gradio as gr

from inkshadow.client import ApiClient, ApiError, ModelInfo
from inkshadow.ui.labels import Labels
from inkshadow.ui.notices import explain
from inkshadow.ui.texts import t

PREFIX = "ink-status"


def build_banner() -> gr.HTML:
    """The banner (random model, unreachable API), above every tab."""
    return gr.HTML(elem_id=f"{PREFIX}-banner", elem_classes="ink-slot")


def build_summary() -> gr.HTML:
    """One line: model, engine, health."""
    return gr.HTML(elem_id=f"{PREFIX}-summary", scale=1)


def build_status_tab(labels: Labels) -> tuple[gr.HTML, gr.Button]:
    details = gr.HTML(elem_id=f"{PREFIX}-details")
    refresh = labels.add(
        gr.Button(
            labels("st.refresh"), elem_id=f"{PREFIX}-refresh", size="sm", scale=0, min_width=160
        ),
        value="st.refresh",
    )
    return details, refresh


def _health_word(code: int, lang: str) -> str:
    if code == 0:
        return t(lang, "st.unreachable")
    return t(lang, "st.ok") if code == 200 else f"{t(lang, 'st.down')} (HTTP {code})"


async def check(client: ApiClient, lang: str) -> tuple[str, str, str]:
    """(banner, summary line, details table) as HTML."""
    health, _ = await client.probe("/health")
    ready, ready_body = await client.probe("/ready")
    model: ModelInfo | None = None
    problem = ""
    try:
        model = await client.model()
    except ApiError as exc:
        problem = explain(exc, lang)
    banner = ""
    if model is not None and model.random_weights:
        text = html.escape(t(lang, "tiny.banner"))
        banner = f'<div class="ink-msg ink-banner" role="alert">{text}</div>'
    elif problem:
        banner = f'<div class="ink-msg ink-alert" role="alert">{html.escape(problem)}</div>'
    rows = [
        (t(lang, "st.api"), client.base_url),
        (t(lang, "st.model"), model.id if model else "—"),
        (t(lang, "st.engine"), model.engine if model else "—"),
        (t(lang, "st.family"), model.family if model else "—"),
        (t(lang, "st.health"), _health_word(health, lang)),
        (
            t(lang, "st.ready"),
            _health_word(ready, lang)
            + (f" · {ready_body['reason']}" if isinstance(ready_body.get("reason"), str) else ""),
        ),
    ]
    if model is not None and model.random_weights:
        rows.append(("⚠️", t(lang, "st.random")))
    # A description list: Gradio's prose styles fight any table styling.
    pairs = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    details = (
        f'<dl class="ink-status" aria-label="{html.escape(t(lang, "st.heading"))}">{pairs}</dl>'
    )
    dot = "ink-ok" if health == 200 and ready == 200 else "ink-bad"
    name = html.escape(model.id if model else "—")
    engine = html.escape(model.engine if model else "—")
    summary = (
        f'<p class="ink-summary"><span class="ink-dot {dot}" aria-hidden="true"></span>'
        f"{html.escape(t(lang, 'st.model'))}: <b>{name}</b> · "
        f"{html.escape(t(lang, 'st.engine'))}: {engine} · "
        f"{html.escape(t(lang, 'st.health'))}: {html.escape(_health_word(health, lang))}</p>"
    )
    return banner, summary, details
