"""The UI's factories: `build_blocks` (the Gradio page, from an API client) and `create_app`
(a FastAPI app serving it at / with /healthz for probes). Nothing is global: every piece is
built from the arguments."""

from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from inkshadow import __version__
from inkshadow.client import ApiClient
from inkshadow.ui import style
from inkshadow.ui.analysis import build_analysis_tab
from inkshadow.ui.chat import build_chat_tab
from inkshadow.ui.jobs import build_jobs_tab
from inkshadow.ui.labels import Labels
from inkshadow.ui.status import build_banner, build_status_tab, build_summary, check
from inkshadow.ui.texts import DEFAULT_LANG, LANG_CHOICES

# Not a secret (a language code); fixed so every replica reads it back.
_LANG_SECRET = "inkshadow-ui-lang"


def build_blocks(client: ApiClient, lang: str = DEFAULT_LANG) -> gr.Blocks:
    labels = Labels(lang)
    page: gr.Blocks
    with gr.Blocks(title="inkshadow 墨影", analytics_enabled=False) as page:
        stored_lang = gr.BrowserState(lang, storage_key="inkshadow-lang", secret=_LANG_SECRET)
        # One compact line: title, status summary, language; the rest of the height is
        # for the work (a laptop has about 700 px of it).
        with gr.Row(equal_height=True, elem_id="ink-header"):
            labels.add(
                gr.Markdown(
                    labels("title"),
                    elem_classes="ink-title",
                    elem_id="ink-title",
                    scale=0,
                    min_width=200,
                ),
                value="title",
            )
            summary = build_summary()
            radio = labels.add(
                gr.Radio(
                    LANG_CHOICES,
                    value=lang,
                    label=labels("lang"),
                    elem_id="ink-lang",
                    scale=0,
                    min_width=220,
                    container=False,
                ),
                label="lang",
            )
        banner = build_banner()
        with gr.Tabs(elem_id="ink-tabs"):
            with labels.add(
                gr.Tab(labels("tab.chat"), id="chat", elem_id="ink-tab-chat"), label="tab.chat"
            ):
                build_chat_tab(client, labels, radio, page, stored_lang)
            with labels.add(
                gr.Tab(labels("tab.analysis"), id="analysis", elem_id="ink-tab-analysis"),
                label="tab.analysis",
            ):
                build_analysis_tab(client, labels, radio)
            with labels.add(
                gr.Tab(labels("tab.jobs"), id="jobs", elem_id="ink-tab-jobs"), label="tab.jobs"
            ) as jobs_tab:
                build_jobs_tab(client, labels, radio, jobs_tab)
            with labels.add(
                gr.Tab(labels("tab.status"), id="status", elem_id="ink-tab-status"),
                label="tab.status",
            ):
                details, refresh_status = build_status_tab(labels)

        async def status(lang_: str) -> tuple[str, str, str]:
            return await check(client, lang_)

        status_out: dict[str, Any] = {"inputs": [radio], "outputs": [banner, summary, details]}
        page.load(lambda saved: saved or lang, inputs=[stored_lang], outputs=[radio])
        page.load(status, **status_out)
        refresh_status.click(status, **status_out)

        def relabel(lang_: str) -> list[Any]:
            return [*labels.updates(lang_), lang_]

        radio.change(relabel, inputs=[radio], outputs=[*labels.blocks, stored_lang]).then(
            status, **status_out
        )
    return page


def create_app(api_url: str, api_key: str | None = None, lang: str = DEFAULT_LANG) -> FastAPI:
    """The UI server: Gradio at /, `GET /healthz` for liveness probes (the UI process is up;
    the API's health is shown on the page, so a down API never restarts the UI)."""
    client = ApiClient(api_url, api_key)
    app = FastAPI(
        title="inkshadow ui", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    mounted: FastAPI = gr.mount_gradio_app(
        app,
        build_blocks(client, lang),
        path="",
        footer_links=[],
        show_error=False,  # our handlers turn errors into messages; never show tracebacks
        ssr_mode=False,  # no Node server
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        theme=style.theme(),
        css=style.CSS,
        js=style.PAGE_JS,
    )
    return mounted
