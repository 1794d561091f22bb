"""`/v1/video/analyze` and `/process` end to end over HTTP with the tiny models.

The tiny models' answers are noise: these tests prove the pipeline (fetch or file id →
blob store → sampling → prompt → engine → parse → map → merge) returns schema-valid JSON
inside the original video's bounds, says that it is noise, and turns bad input into a clear
4xx. They prove nothing about understanding.
"""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from inkshadow.tasks.types import AnalysisResult
from tests.api.conftest import MediaHost, VideoServer
from tests.api.test_abuse import assert_error
from tests.media.videos import make_audio_only, make_video

W, H, FPS, FRAMES = 320, 240, 24, 240  # 10 s: two chunks at the test servers' 6 s chunks
TASKS = ["ask", "temporal", "spatial", "track", "describe"]
NUM = {"type": "number"}
SPAN = {"type": "object", "required": ["start", "end"], "properties": {"start": NUM, "end": NUM}}
BOX = {
    "type": "object",
    "required": ["bbox", "label"],
    "properties": {
        "bbox": {"type": "array", "items": NUM, "minItems": 4, "maxItems": 4},
        "label": {"type": "string"},
        "time": {"type": ["number", "null"]},
    },
}
RESULT = {
    "ask": {"maxItems": 0},
    "temporal": {"items": {**SPAN, "required": ["start", "end", "label"]}},
    "describe": {"items": {**SPAN, "required": ["start", "end", "description"]}},
    "spatial": {"items": BOX},
    "track": {"items": {**BOX, "required": ["time", "bbox", "label"]}},
}
NOISE = "random-weight"


@pytest.fixture(scope="module")
def clip(media_host: MediaHost) -> Path:
    return make_video(media_host.root / "clip.mp4", frames=FRAMES, fps=FPS, width=W, height=H)


@pytest.fixture(params=["qwen2.5-vl", "qwen3-vl"])
def server(request: pytest.FixtureRequest) -> VideoServer:
    name = "video_server" if request.param == "qwen2.5-vl" else "video_server_qwen3"
    srv: VideoServer = request.getfixturevalue(name)
    return srv


def analyze(
    server: VideoServer, body: dict[str, Any], path: str = "/v1/video/analyze"
) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=300)


def upload(server: VideoServer, path: Path) -> str:
    resp = httpx.post(server.url + "/v1/files", files={"file": (path.name, path.read_bytes())})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def check_result(
    resp: httpx.Response,
    task: str,
    width: int = W,
    height: int = H,
    seconds: float = FRAMES / FPS,
) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    AnalysisResult.model_validate(body)
    assert body["task"] == task
    jsonschema.validate(body["results"], {"type": "array", **RESULT[task]})
    assert any(w.startswith(NOISE) for w in body["warnings"]), body["warnings"]
    duration = body["video"]["duration"] if body["video"] else None
    if duration is not None:
        assert body["video"]["width"] == width and body["video"]["height"] == height
        assert abs(duration - seconds) < 0.1
        assert body["sampling"]["frames"] >= 2 and body["sampling"]["visual_tokens"] > 0
    for item in body["results"]:
        for key in ("start", "end", "time"):
            if item.get(key) is not None and duration is not None:
                assert 0 <= item[key] <= duration, item
        if "start" in item:
            assert item["start"] <= item["end"], item
        if "bbox" in item:
            x1, y1, x2, y2 = item["bbox"]
            assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height, item
    return body


@pytest.mark.parametrize("task", TASKS)
def test_every_task_by_url(
    server: VideoServer, media_host: MediaHost, clip: Path, task: str
) -> None:
    body = {"video": media_host.url(clip.name), "task": task, "query": "the white square"}
    result = check_result(analyze(server, body), task)
    assert result["extra"].get("chunks"), "a 10 s video is two chunks on these servers"


@pytest.mark.parametrize("task", TASKS)
def test_every_task_by_file_id(video_server: VideoServer, clip: Path, task: str) -> None:
    """A clip (start/end) of an uploaded video; both families are covered by the URL test."""
    server = video_server
    fid = upload(server, clip)
    body = {"file_id": fid, "task": task, "query": "square", "start": 1.0, "end": 4.0, "fps": 2}
    result = check_result(analyze(server, body), task)
    assert result["sampling"]["frames"] <= 8
    for item in result["results"]:
        for key in ("start", "end", "time"):
            if item.get(key) is not None:
                assert 1.0 - 0.5 <= item[key] <= 4.0 + 0.5, item  # within the asked clip


def test_poetic_ask_and_image_spatial(video_server: VideoServer, tmp_path: Path) -> None:
    fid = upload(video_server, make_video(tmp_path / "p.mp4", frames=48, fps=24, width=W, height=H))
    resp = analyze(video_server, {"video": fid, "query": "what?", "style": "poetic"})
    poem = check_result(resp, "ask", seconds=2.0)
    assert "verse" in poem["extra"]
    from PIL import Image

    Image.new("RGB", (200, 150), (10, 200, 30)).save(tmp_path / "i.png")
    image_id = upload(video_server, tmp_path / "i.png")
    body = {"images": [image_id], "task": "spatial", "query": "green"}
    check_result(analyze(video_server, body), "spatial", width=200, height=150)


def test_process_as_in_the_guide(
    video_server: VideoServer, media_host: MediaHost, clip: Path, tmp_path: Path
) -> None:
    small = make_video(tmp_path / "s.mp4", frames=48, fps=24, width=160, height=120)
    data_url = "data:video/mp4;base64," + base64.b64encode(small.read_bytes()).decode()
    resp = analyze(
        video_server, {"video_url": media_host.url(clip.name), "query": "检测运动物体"}, "/process"
    )
    check_result(resp, "ask")
    for video_url in (data_url, upload(video_server, small)):
        resp = analyze(video_server, {"video_url": video_url, "query": "检测运动物体"}, "/process")
        check_result(resp, "ask", width=160, height=120, seconds=2.0)
    resp = analyze(
        video_server, {"video_url": data_url, "query": "移动", "task": "temporal"}, "/process"
    )
    check_result(resp, "temporal", width=160, height=120, seconds=2.0)


def test_second_question_reuses_cached_frames(video_server: VideoServer, tmp_path: Path) -> None:
    """After one question, the stored video is overwritten with junk: a second question
    (same sampling) still answers, so it decoded nothing; a new sampling fails clearly."""
    video = make_video(tmp_path / "c.mp4", frames=FRAMES, fps=FPS, width=W, height=H, gop=120)
    fid = upload(video_server, video)
    sha = fid.removeprefix("file-")
    body = {"file_id": fid, "task": "temporal", "query": "square", "fps": 2}
    started = time.perf_counter()
    first = analyze(video_server, body)
    first_s = time.perf_counter() - started
    stored = video_server.data_dir / "blobs" / "objects" / sha[:2] / sha
    saved = tmp_path / "saved.mp4"
    shutil.copy(stored, saved)
    stored.write_bytes(b"\0" * stored.stat().st_size)
    try:
        started = time.perf_counter()
        second = analyze(video_server, {**body, "query": "another question"})
        second_s = time.perf_counter() - started
        assert second.status_code == 200, second.text
        assert second.json()["sampling"] == first.json()["sampling"]
        assert_error(analyze(video_server, {**body, "fps": 1}), 400)  # must decode: junk
    finally:
        shutil.copy(saved, stored)
    print(f"\nfirst question {first_s:.3f} s, second (frames cached) {second_s:.3f} s")


def cut(path: Path, keep: float) -> bytes:
    data = path.read_bytes()
    return data[: int(len(data) * keep)]


@pytest.fixture(scope="module")
def bad_inputs(media_host: MediaHost) -> dict[str, str]:
    root = media_host.root
    good = make_video(root / "good.mp4", frames=48, fps=24)
    (root / "empty.mp4").write_bytes(b"")
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" * 200)
    (root / "truncated.mp4").write_bytes(cut(good, 0.5))
    (root / "notes.txt").write_text("not a video at all")
    make_audio_only(root / "audio.m4a")
    make_video(root / "giant.mp4", frames=2, fps=1, width=1280, height=1024)
    make_video(root / "long.mp4", frames=130, fps=1, width=64, height=48, gop=130)
    names = [
        "empty.mp4",
        "corrupt.mp4",
        "truncated.mp4",
        "notes.txt",
        "audio.m4a",
        "giant.mp4",
        "long.mp4",
    ]
    return {name: media_host.url(name) for name in names}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty.mp4", "unsupported_media"),
        ("corrupt.mp4", "unsupported_media"),
        ("truncated.mp4", "unsupported_media"),
        ("notes.txt", "unsupported_media"),
        ("audio.m4a", "unsupported_media"),
        ("giant.mp4", "video_too_large"),
        ("long.mp4", "video_too_long"),
    ],
)
def test_bad_videos_are_clear_4xx(
    video_server: VideoServer, bad_inputs: dict[str, str], name: str, code: str
) -> None:
    err = assert_error(analyze(video_server, {"video": bad_inputs[name], "query": "x"}), 400, code)
    assert "video" in err["message"] or "file" in err["message"]
    err = assert_error(
        analyze(video_server, {"video_url": bad_inputs[name], "query": "x"}, "/process"), 400, code
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"query": "x"}, 400),  # no video
        ({"video": "file-" + "2" * 64, "file_id": "file-" + "2" * 64, "query": "x"}, 400),
        ({"video": "file-" + "2" * 64, "query": "x"}, 404),
        ({"video": "http://10.0.0.1/v.mp4", "query": "x"}, 400),  # not allowed
        ({"video": "x", "query": ""}, 400),
        ({"video": "x", "query": "x", "task": "dance"}, 400),
        ({"video": "x", "query": "x", "start": 5, "end": 2}, 400),
        ({"video": "x", "query": "x", "model": "gpt-9"}, 404),
    ],
)
def test_bad_requests(video_server: VideoServer, body: dict[str, Any], status: int) -> None:
    assert_error(analyze(video_server, body), status)


def test_start_past_the_end(video_server: VideoServer, media_host: MediaHost, clip: Path) -> None:
    body = {"video": media_host.url(clip.name), "query": "x", "start": 60}
    err = assert_error(analyze(video_server, body), 400)
    assert err["param"] == "start"


def _cache_count(server_url: str, outcome: str) -> float:
    text = httpx.get(server_url + "/metrics").text
    line = f'inkshadow_cache_requests_total{{result="{outcome}"}} '
    return next((float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)), 0.0)


def test_identical_analyses_come_from_the_result_cache(
    video_server: VideoServer, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "r.mp4", frames=48, fps=24, width=W, height=H)
    fid = upload(video_server, video)
    body = {"file_id": fid, "task": "temporal", "query": "the square moves", "fps": 2}
    first = analyze(video_server, body)
    hits = _cache_count(video_server.url, "hit")
    again = analyze(video_server, body)
    assert first.headers["x-inkshadow-cache"] == "miss"
    assert again.headers["x-inkshadow-cache"] == "hit" and again.json() == first.json()
    assert _cache_count(video_server.url, "hit") == hits + 1
    # Anything that can change the answer misses: the query, sampling, other bytes.
    other = make_video(tmp_path / "o.mp4", frames=48, fps=24, width=W, height=H, gop=12)
    for changed in (
        {**body, "query": "the square stops"},
        {**body, "fps": 1},
        {**body, "file_id": upload(video_server, other)},
    ):
        assert analyze(video_server, changed).headers["x-inkshadow-cache"] == "miss"


def test_redis_down_analyses_still_answer(media_host: MediaHost, tmp_path: Path) -> None:
    from inkshadow.families import Family
    from tests.conftest import start_server, stop_server, tiny_model
    from tests.redis_server import redis_process

    redis = redis_process(tmp_path)
    server = start_server(
        ["--model", str(tiny_model(Family.QWEN2_5_VL))],
        tmp_path / "s.log",
        env={
            "INKSHADOW_REDIS_URL": redis.url,
            "INKSHADOW_DATA_DIR": str(tmp_path / "data"),
            "INKSHADOW_FETCH_ALLOW_HOSTS": "127.0.0.1",
            "INKSHADOW_DEFAULT_MAX_TOKENS": "48",
            "INKSHADOW_MAX_MODEL_LEN": "2048",
            "INKSHADOW_VIDEO_MAX_FRAMES": "8",
        },
    )
    make_video(media_host.root / "redis.mp4", frames=48, fps=24)
    body = {"video": media_host.url("redis.mp4"), "task": "ask", "query": "what moves?"}
    try:
        url = server.url
        assert httpx.post(url + "/v1/video/analyze", json=body, timeout=120).status_code == 200
        hit = httpx.post(url + "/v1/video/analyze", json=body, timeout=120)
        assert hit.headers["x-inkshadow-cache"] == "hit"  # the positive control, via Redis
        redis.stop()
        down = httpx.post(url + "/v1/video/analyze", json=body, timeout=120)
        assert down.status_code == 200 and down.headers["x-inkshadow-cache"] == "miss"
        assert down.json() == hit.json()  # recomputed by the engine: the same answer
        assert _cache_count(url, "error") >= 1
    finally:
        stop_server(server)
        redis.stop()
