"""The chat tab: questions with images and videos, answers streamed from
`/v1/chat/completions`.

The conversation lives in the API's session (`session_id`, 1-hour TTL); the browser keeps
only the session id (local storage), so a reload asks `GET /v1/sessions/{id}` for the
history. A server without sessions gets the whole history in every request instead, and
the page says that a reload forgets it."""

from __future__ import annotations

import contextlib
import mimetypes
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from inkshadow.client import ApiClient, ApiError, NotAvailable
from inkshadow.ui.form import video_ref
from inkshadow.ui.labels import Labels
from inkshadow.ui.notices import InputError, alert, explain, note
from inkshadow.ui.texts import t

PREFIX = "ink-chat"
_VIDEO_EXT = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v", ".mpeg", ".mpg", ".ts"}
# Not a secret: the browser holds its own session id. A fixed key (rather than Gradio's
# random per-process one) lets any UI replica, or the UI after a restart, read it back.
_STORAGE_SECRET = "inkshadow-ui-session"


def new_session_id() -> str:
    return f"ui-{uuid.uuid4().hex}"


def _kind(name: str) -> str:
    mime = mimetypes.guess_type(name)[0] or ""
    if mime.startswith("video/") or Path(name.split("?")[0]).suffix.lower() in _VIDEO_EXT:
        return "video_url"
    return "image_url"


def _part(kind: str, ref: str) -> dict[str, Any]:
    return {"type": kind, kind: {"url": ref}}


def shown(message: dict[str, Any], lang: str) -> dict[str, str]:
    """An OpenAI message as a chat bubble: its text, then one line per attachment."""
    content = message.get("content")
    if isinstance(content, str) or content is None:
        return {"role": str(message.get("role")), "content": content or ""}
    texts, files = [], []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind in ("image_url", "video_url"):
            ref = str((part.get(kind) or {}).get("url", ""))
            ref = ref[:40] + "…" if ref.startswith("data:") or len(ref) > 60 else ref
            name = t(lang, "chat.video" if kind == "video_url" else "chat.image")
            files.append(f"[{name}] `{ref}`")
    return {"role": str(message.get("role")), "content": "\n\n".join([*texts, *files])}


async def _user_message(client: ApiClient, text: str, files: list[str], url: str) -> dict[str, Any]:
    parts = []
    for path in files:
        parts.append(_part(_kind(path), await video_ref(client, Path(path))))
    if url:
        parts.append(_part(_kind(url), url))
    if not parts:
        return {"role": "user", "content": text}
    return {"role": "user", "content": [*parts, {"type": "text", "text": text}]}


Note = tuple[str, dict[str, str]]  # the line above the chat: a text key and its values


def session_note(shown_note: Note | None, lang: str) -> str:
    """The line above the chat in `lang` ("" before the session is known)."""
    if not shown_note:
        return ""
    key, values = shown_note
    return note(t(lang, key, **values))


def build_chat_tab(
    client: ApiClient,
    labels: Labels,
    lang: gr.Radio,
    page: gr.Blocks,
    saved_lang: gr.BrowserState,
) -> None:
    """`saved_lang`: the language the browser keeps, which the page is switched to on load
    (the radio still shows the default while load events run)."""
    tr = labels
    session = gr.BrowserState(None, storage_key="inkshadow-chat-session", secret=_STORAGE_SECRET)
    history = gr.State([])  # OpenAI messages, sent in full only when sessions are missing
    sessions_ok = gr.State(False)
    status_note = gr.State(None)  # Note | None: kept so a language switch can redo the line
    status = gr.HTML(elem_id=f"{PREFIX}-status", elem_classes="ink-slot")
    bot = labels.add(
        gr.Chatbot(
            label=tr("chat.box"),
            elem_id=f"{PREFIX}-bot",
            height="calc(100vh - 480px)",
            min_height=220,
            buttons=["copy"],
            feedback_options=None,
            layout="bubble",
        ),
        label="chat.box",
    )
    error = gr.HTML(elem_id=f"{PREFIX}-error", elem_classes="ink-slot")
    box = labels.add(
        gr.MultimodalTextbox(
            label=tr("chat.input"),
            placeholder=tr("chat.input_ph"),
            file_count="multiple",
            file_types=["image", "video"],
            sources=["upload"],
            elem_id=f"{PREFIX}-input",
            elem_classes="ink-labelled",
            interactive=False,  # opened once the session is known (restore)
        ),
        label="chat.input",
        placeholder="chat.input_ph",
    )
    with gr.Row():
        url = labels.add(
            gr.Textbox(
                label=tr("chat.url"),
                placeholder=tr("chat.url_ph"),
                max_lines=1,
                elem_id=f"{PREFIX}-url",
                scale=4,
            ),
            label="chat.url",
        )
        clear = labels.add(
            gr.Button(tr("chat.clear"), elem_id=f"{PREFIX}-clear", scale=1, min_width=120),
            value="chat.clear",
        )

    async def restore(sid: str | None, saved: str | None, lang_: str) -> tuple[Any, ...]:
        """On page load: the session's history, and the input opened (it stays closed until
        then, so a message is never sent before we know whether sessions work)."""
        lang_ = saved or lang_
        sid = sid or new_session_id()
        ready = gr.MultimodalTextbox(interactive=True)
        kept: Note = ("chat.session", {"id": sid})
        try:
            stored = await client.session(sid)
        except NotAvailable as exc:
            gone: Note = ("chat.no_sessions", {"reason": exc.route})
            return [], [], sid, False, gone, session_note(gone, lang_), ready
        except ApiError as exc:
            if exc.status == 404:  # a new or expired session: sessions work
                return [], [], sid, True, kept, session_note(kept, lang_), ready
            gone = ("chat.no_sessions", {"reason": exc.message})
            return [], [], sid, False, gone, session_note(gone, lang_), ready
        messages = [m for m in stored.get("messages") or [] if isinstance(m, dict)]
        bubbles = [shown(m, lang_) for m in messages]
        return bubbles, messages, sid, True, kept, session_note(kept, lang_), ready

    async def send(
        message: dict[str, Any] | None,
        link: str,
        bubbles: list[dict[str, Any]],
        sent: list[dict[str, Any]],
        sid: str | None,
        with_session: bool,
        lang_: str,
    ) -> AsyncIterator[tuple[Any, ...]]:
        text = str((message or {}).get("text") or "").strip()
        files = [str(f) for f in (message or {}).get("files") or []]
        link = (link or "").strip()
        sid = sid or new_session_id()
        keep = list(bubbles)
        try:
            if not text and not files and not link:
                raise InputError(t(lang_, "chat.empty"))
            user = await _user_message(client, text, files, link)
            bubbles = [*keep, shown(user, lang_), {"role": "assistant", "content": ""}]
            yield bubbles, None, "", sent, sid, alert("")
            body: dict[str, Any] = {"messages": [user] if with_session else [*sent, user]}
            if with_session:
                body["session_id"] = sid
            answer = ""
            async for delta in client.chat_stream(body):
                answer += delta
                bubbles[-1] = {"role": "assistant", "content": answer}
                yield bubbles, None, "", sent, sid, alert("")
        except Exception as exc:  # shown as a plain message; the turn goes back to the input
            yield keep, message, link, sent, sid, alert(explain(exc, lang_))
            return
        sent = [*sent, user, {"role": "assistant", "content": answer}]
        yield bubbles, None, "", sent, sid, alert("")

    async def forget(sid: str | None, with_session: bool, lang_: str) -> tuple[Any, ...]:
        if sid and with_session:
            # Already expired or never saved: forgotten either way.
            with contextlib.suppress(ApiError):
                await client.delete_session(sid)
        fresh = new_session_id()
        if not with_session:
            return [], [], fresh, alert(""), gr.update(), gr.update()
        kept: Note = ("chat.session", {"id": fresh})
        return [], [], fresh, alert(""), kept, session_note(kept, lang_)

    box.submit(
        send,
        inputs=[box, url, bot, history, session, sessions_ok, lang],
        outputs=[bot, box, url, history, session, error],
        concurrency_limit=None,
    )
    forget_io: dict[str, Any] = {
        "inputs": [session, sessions_ok, lang],
        "outputs": [bot, history, session, error, status_note, status],
    }
    clear.click(forget, **forget_io)
    bot.clear(forget, **forget_io)  # the chat box's own bin icon forgets the session too
    page.load(
        restore,
        inputs=[session, saved_lang, lang],
        outputs=[bot, history, session, sessions_ok, status_note, status, box],
    )
    lang.change(session_note, inputs=[status_note, lang], outputs=[status], show_progress="hidden")
