"""`make demo`: build a tiny model and a short video when missing, start the server, ask a
question about the video, print the JSON answer, and say plainly that the model is random.

Everything is made on the spot under .cache/ (not tracked). Point INKSHADOW_MODEL at a real
Qwen2.5-VL / Qwen3-VL folder or Hugging Face id to ask a model that understands.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"

SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "maxLength": 60},
        "moving_object": {"type": "string", "enum": ["box", "ball", "person", "nothing"]},
    },
    "required": ["answer", "moving_object"],
    "additionalProperties": False,
}


def demo_video(path: Path, seconds: int = 4, fps: int = 25) -> Path:
    """A white square crossing a dark background from left to right."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height, side = 320, 240, 48
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * fps):
            img = np.full((height, width, 3), 30, dtype=np.uint8)
            x = int((width - side) * i / (seconds * fps - 1))
            img[96 : 96 + side, x : x + side] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    model = os.environ.get("INKSHADOW_MODEL", "")
    if not model:
        from inkshadow.engine.tiny import build_tiny_model, is_tiny_model
        from inkshadow.families import Family

        tiny = CACHE / "tiny" / "qwen2.5-vl"
        if not is_tiny_model(tiny):
            print("building a tiny random-weight Qwen2.5-VL model ...", flush=True)
            build_tiny_model(Family.QWEN2_5_VL, tiny)
        model = str(tiny)
    video = demo_video(CACHE / "demo" / "moving-square.mp4")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (CACHE / "demo" / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "inkshadow.cli", "serve", "--model", model, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        started = time.monotonic()
        while True:
            if server.poll() is not None:
                print("the server exited; see .cache/demo/server.log", file=sys.stderr)
                return 1
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > 180:
                print("the server did not become ready in 180 s", file=sys.stderr)
                return 1
            time.sleep(0.2)
        print(f"server ready at {url} in {time.monotonic() - started:.1f} s", flush=True)
        data_url = "data:video/mp4;base64," + base64.b64encode(video.read_bytes()).decode()
        question = "What moves in this video, and in which direction?"
        resp = httpx.post(
            url + "/v1/chat/completions",
            json={
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "video_url", "video_url": {"url": data_url}},
                            {"type": "text", "text": question},
                        ],
                    }
                ],
                "max_tokens": 300,
                "seed": 0,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": SCHEMA},
                },
            },
            timeout=300,
        )
        resp.raise_for_status()
        body = resp.json()
        content = body["choices"][0]["message"]["content"]
        print(f"question: {question}")
        try:
            print(json.dumps(json.loads(content), indent=2, ensure_ascii=False))
        except json.JSONDecodeError:
            finish = body["choices"][0]["finish_reason"]
            print(f"{content}\n(incomplete JSON: finish_reason={finish})")
        print(f"usage: {body['usage']}")
        warning = resp.headers.get("x-inkshadow-warning")
        if warning:
            print(f"NOTE: {warning}.")
            print("The answer has the asked-for shape; its content means nothing.")
        return 0
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    raise SystemExit(main())
