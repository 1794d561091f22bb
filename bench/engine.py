"""Engine benchmark: start time, tiny-model chat requests/s, and the throughput of 8 concurrent
requests batched versus one by one, next to `transformers serve` on the same 8 text requests.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/engine.py [--tokens 64] [--rounds 3]

Prints one JSON object. Tiny random-weight models are used (their output is noise): this
measures the serving machinery, not answer quality. Run on an otherwise idle machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder leads sys.path, and bench/queue.py there shadows the
# standard `queue` module that logging and psycopg import: drop the folder first.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from typing import Any

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import free_port, tiny_model  # noqa: E402

from inkshadow.families import Family  # noqa: E402

PROMPTS = [f"Question {i}: describe what a camera on a street corner sees." for i in range(8)]


def start(cmd: list[str], health: str, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return proc, time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        if time.perf_counter() - t0 > 300:
            raise RuntimeError(f"{cmd} not ready in 300 s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def body(model: str, prompt: Any, tokens: int) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0,
    }


async def run(url: str, bodies: list[dict[str, Any]], concurrent: bool) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def one(b: dict[str, Any]) -> int:
            resp = await client.post("/v1/chat/completions", json=b)
            resp.raise_for_status()
            return int(resp.json()["usage"]["completion_tokens"])

        t0 = time.perf_counter()
        if concurrent:
            tokens = await asyncio.gather(*[one(b) for b in bodies])
        else:
            tokens = [await one(b) for b in bodies]
        wall = time.perf_counter() - t0
    return {
        "seconds": wall,
        "requests_per_s": len(bodies) / wall,
        "tokens_per_s": sum(tokens) / wall,
        "completion_tokens": float(sum(tokens)),
    }


def measure(url: str, bodies: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    asyncio.run(run(url, bodies[:2], concurrent=False))  # warm-up
    out: dict[str, Any] = {}
    for mode, concurrent in (("one_by_one", False), ("concurrent_8", True)):
        runs = [asyncio.run(run(url, bodies, concurrent)) for _ in range(rounds)]
        out[mode] = {key: round(statistics.median(r[key] for r in runs), 4) for key in runs[0]}
    out["batched_over_sequential"] = round(
        out["concurrent_8"]["tokens_per_s"] / out["one_by_one"]["tokens_per_s"], 3
    )
    return out


def image_url() -> str:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="max_tokens per request")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions; medians reported")
    parser.add_argument("--skip-transformers-serve", action="store_true")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    text_model = str(tiny_model(Family.QWEN2_5))
    vl_model = str(tiny_model(Family.QWEN2_5_VL))
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "max_tokens": args.tokens,
        "rounds": args.rounds,
        "model": "tiny random-weight Qwen2.5 (text) and Qwen2.5-VL: serving cost, not quality",
    }

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "inkshadow.cli", "serve", "--model", text_model]
    proc, started = start([*cmd, "--port", str(port)], url + "/ready", logs / "ink.log")
    try:
        report["inkshadow_start_s"] = round(started, 2)
        bodies = [body("qwen2.5", p, args.tokens) for p in PROMPTS]
        report["inkshadow_text"] = measure(url, bodies, args.rounds)
    finally:
        stop(proc)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "inkshadow.cli", "serve", "--model", vl_model]
    proc, started = start([*cmd, "--port", str(port)], url + "/ready", logs / "ink-vl.log")
    try:
        report["inkshadow_vl_start_s"] = round(started, 2)
        img = image_url()
        bodies = [
            body(
                "qwen2.5-vl",
                [{"type": "image_url", "image_url": {"url": img}}, {"type": "text", "text": p}],
                args.tokens,
            )
            for p in PROMPTS
        ]
        report["inkshadow_vl_image"] = measure(url, bodies, args.rounds)
    finally:
        stop(proc)

    if not args.skip_transformers_serve:
        exe = str(Path(sys.executable).parent / "transformers")
        for name, extra in (
            ("transformers_serve", []),
            (
                "transformers_serve_cb",
                ["--continuous-batching", "--cb-num-blocks", "256", "--cb-block-size", "32"],
            ),
        ):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            full = [exe, "serve", text_model, "--port", str(port), "--device", "cpu", *extra]
            try:
                proc, started = start(full, url + "/health", logs / f"{name}.log")
            except RuntimeError as exc:
                report[name] = {"error": str(exc)[-500:]}
                continue
            try:
                report[f"{name}_start_s"] = round(started, 2)
                bodies = [body(text_model, p, args.tokens) for p in PROMPTS]
                report[name] = measure(url, bodies, args.rounds)
            except httpx.HTTPError as exc:
                report[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            finally:
                stop(proc)
        ours = report["inkshadow_text"]["concurrent_8"]["tokens_per_s"]
        for name in ("transformers_serve", "transformers_serve_cb"):
            peer = report.get(name, {}).get("concurrent_8", {}).get("tokens_per_s")
            if peer:
                report[f"inkshadow_over_{name}_concurrent_8"] = round(ours / peer, 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
