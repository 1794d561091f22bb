"""The UI's pieces without a browser: texts, timeline HTML, boxes on decoded frames, the
API client's error mapping and SSE parsing."""

from __future__ import annotations

import asyncio
import json
import re
import string
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

pytest.importorskip("gradio")

from inkshadow import client as client_mod
from inkshadow.client import ApiClient, ApiError, NotAvailable
from inkshadow.tasks.marks import events_of
from inkshadow.ui import texts, timeline
from inkshadow.ui.chat import session_note
from inkshadow.ui.frames import annotated_frames
from inkshadow.ui.jobs import local_video, relabel_table
from inkshadow.ui.notices import explain
from inkshadow.ui.results import pretty_json, render_result
from tests.media.videos import make_video
from tests.ui.truth import box_truth

T = TypeVar("T")


def test_every_text_has_both_languages_with_the_same_fields() -> None:
    fields = string.Formatter()
    for key, (zh, en) in texts._TEXTS.items():
        assert zh.strip() and en.strip(), key
        names = {name for _, name, _, _ in fields.parse(zh) if name}
        assert names == {name for _, name, _, _ in fields.parse(en) if name}, key
    assert texts.t("fr", "tab.chat") == texts.t("zh", "tab.chat")  # unknown: the default


def test_timeline_marks_seek_and_escape_labels() -> None:
    result = {
        "results": [
            {"start": 2.0, "end": 4.0, "label": "<script>alert(1)</script>"},
            {"time": 1.0, "bbox": [0, 0, 1, 1], "label": "cat"},
            {"start": "bad", "end": None},
        ]
    }
    events = events_of(result)
    assert [(e.start, e.end) for e in events] == [(1.0, 1.0), (2.0, 4.0)]
    html = timeline.render(events, 10.0, "player", "Timeline", "none")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert re.findall(r'data-ink-seek="([\d.]+)"', html) == ["1.000", "2.000"] * 2
    assert 'data-ink-target="player"' in html
    assert "left:20.000%;width:20.000%" in html  # 2-4 s of 10 s
    assert "none" in timeline.render([], 10.0, "player", "Timeline", "none")


def test_boxes_are_drawn_on_source_frames_at_original_size(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", frames=60, fps=30, width=320, height=240)
    truth = box_truth(1.0, 30, 320, 240)
    frames = annotated_frames(video, [{"time": 1.0, "bbox": truth, "label": "square"}])
    assert len(frames) == 1
    image, caption = frames[0]
    assert image.size == (320, 240) and caption == "1.00 s · square"
    x1, y1, x2, y2 = (int(v) for v in truth)
    mid = (y1 + y2) // 2
    red = image.getpixel((x1, mid))
    assert isinstance(red, tuple) and red[0] > 200 and red[1] < 100
    inside = image.getpixel(((x1 + x2) // 2, mid))
    assert isinstance(inside, tuple) and min(inside) > 200  # the white square is in the box
    assert annotated_frames(video, [{"start": 0, "end": 1, "label": "no box"}]) == []


def test_frames_note_says_why_no_boxes_are_drawn(tmp_path: Path) -> None:
    boxed = {"results": [{"time": 1.0, "bbox": [0, 0, 8, 8], "label": "x"}], "video": {}}
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    shown = _run(render_result(boxed, "en", broken, "player"))
    assert shown.frames == [] and "Could not decode video frames" in shown.frames_note
    assert "not a readable video" in shown.frames_note  # the media module's own wording
    linked = _run(render_result(boxed, "en", None, "player"))
    assert "linked videos" in linked.frames_note
    for lang in ("zh", "en"):  # a job this page did not submit: not "a linked video"
        reloaded = _run(render_result(boxed, lang, None, "player", "jobs.no_video"))
        assert reloaded.frames_note and "linked" not in reloaded.frames_note
        assert texts.t(lang, "jobs.no_video") in reloaded.frames_note.replace("&#x27;", "'")


def test_a_jobs_video_is_local_linked_or_not_in_this_page() -> None:
    known = {"job_up": "/tmp/clip.mp4", "job_url": ""}
    assert local_video(known, "job_up") == (Path("/tmp/clip.mp4"), "")
    assert local_video(known, "job_url") == (None, "an.frames_url")
    assert local_video(known, "job_elsewhere") == (None, "jobs.no_video")  # e.g. a reload


def test_language_switch_relabels_what_is_already_shown() -> None:
    shown = [["job_1", "已完成", "100%", "05-01 10:00:00"], ["job_2", "odd", "0%", ""]]
    table = relabel_table(shown, "en")
    assert table["headers"] == ["ID", "Status", "Progress", "Created"]
    assert [row[1] for row in table["data"]] == ["succeeded", "odd"]
    back = relabel_table(table["data"], "zh")
    assert back["headers"] == ["ID", "状态", "进度", "创建时间"] and back["data"] == shown
    empty = relabel_table([["", "", "", ""]], "en")  # Gradio's placeholder row
    assert empty == {"headers": ["ID", "Status", "Progress", "Created"], "data": []}
    assert relabel_table(None, "zh")["data"] == []
    kept = ("chat.session", {"id": "ui-1"})
    assert "Session ui-1" in session_note(kept, "en")
    assert "会话 ui-1" in session_note(kept, "zh")
    assert session_note(None, "en") == ""  # before the session is known


def test_sse_deltas_and_error_events() -> None:
    delta = {"choices": [{"delta": {"content": "墨"}}]}
    assert client_mod._sse_delta("data: " + json.dumps(delta)) == "墨"
    assert client_mod._sse_delta("data: [DONE]") == ""
    assert client_mod._sse_delta(": keep-alive") == ""
    error = {"error": {"message": "engine stopped", "type": "server_error"}}
    with pytest.raises(ApiError, match="engine stopped"):
        client_mod._sse_delta("data: " + json.dumps(error))


def _client(monkeypatch: pytest.MonkeyPatch, handler: httpx.MockTransport) -> ApiClient:
    api = ApiClient("http://api.test", "secret-key")

    def fake() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=api.base_url, transport=handler)

    monkeypatch.setattr(api, "_client", fake)
    return api


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # Playwright's sync API keeps an event loop running in this thread (session-scoped
    # browser): run the client's coroutines on a thread of their own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_missing_routes_and_api_errors_become_plain_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/jobs":
            return httpx.Response(404, json={"error": {"message": "no such route"}})
        if request.url.path.startswith("/v1/jobs/"):
            return httpx.Response(404, json={"error": {"message": "no job job_x"}})
        if request.url.path == "/v1/video/analyze":
            return httpx.Response(400, json={"error": {"message": "end must be after start"}})
        return httpx.Response(502, text="<html>bad gateway</html>")

    api = _client(monkeypatch, httpx.MockTransport(answer))
    with pytest.raises(NotAvailable) as missing:
        _run(api.jobs())
    assert missing.value.route == "GET /v1/jobs"
    assert "GET /v1/jobs" in explain(missing.value, "zh") and "不存在" in explain(
        missing.value, "zh"
    )
    with pytest.raises(ApiError) as gone:
        _run(api.job("job_x"))
    assert gone.value.status == 404 and not isinstance(gone.value, NotAvailable)
    with pytest.raises(ApiError, match="end must be after start"):
        _run(api.analyze({}))
    with pytest.raises(ApiError, match="HTTP 502"):
        _run(api.model())


def test_unexpected_errors_are_not_shown() -> None:
    secret = RuntimeError("/srv/inkshadow/secret/path.py line 3")
    message = explain(secret, "en")
    assert "secret" not in message and "Internal UI error" in message


def test_pretty_json_keeps_boxes_on_one_line() -> None:
    result = {"results": [{"time": 1.0, "bbox": [1, 2, 3, 4]}], "warnings": [], "extra": {}}
    text = pretty_json(result)
    assert '"bbox": [1, 2, 3, 4]' in text and json.loads(text) == result
