"""A test-only job handler of a few milliseconds, with switches for failures.

Job payload: key (names the job), chunks (fan-out), ms (sleep per chunk), fail (raise on the
first N runs of each chunk), permanent (raise a client error), crash (kill -9 the worker
process), seconds (video seconds, for the backlog metric). With INKSHADOW_TEST_RUNLOG set
(worker processes), each finished chunk run appends a line, so tests count re-runs."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from inkshadow.errors import InvalidRequest
from inkshadow.jobs.types import HandlerRegistry, Json, Payload


class QuickHandler:
    def __init__(self, runlog: Path | None = None) -> None:
        self.runs: Counter[str] = Counter()
        self.runlog = runlog

    def seconds(self, payload: Payload) -> float:
        return float(payload.get("seconds", 0.0))

    async def plan(self, payload: Payload) -> list[Payload]:
        n = int(payload.get("chunks", 1))
        keep = ("key", "ms", "fail", "permanent", "crash")
        base = {k: payload[k] for k in keep if k in payload}
        share = float(payload.get("seconds", 0.0)) / max(n, 1)
        return [{**base, "i": i, "seconds": share} for i in range(n)]

    async def run_chunk(self, payload: Payload) -> Json:
        name = f"{payload.get('key')}:{payload['i']}"
        self.runs[name] += 1
        if payload.get("crash"):
            os.kill(os.getpid(), signal.SIGKILL)
        if payload.get("permanent"):
            raise InvalidRequest("the input cannot be processed")
        if self.runs[name] <= int(payload.get("fail", 0)):
            raise RuntimeError("flaky failure")
        await asyncio.sleep(float(payload.get("ms", 1)) / 1000)
        if self.runlog is not None:
            with self.runlog.open("a") as f:  # O_APPEND: whole short lines, any process
                f.write(name + "\n")
        return {"i": payload["i"], "sq": payload["i"] ** 2}

    async def merge(self, payload: Payload, results: list[Json]) -> Json:
        return {
            "key": payload.get("key"),
            "n": len(results),
            "sum": sum(r["sq"] for r in results),
            "order": [r["i"] for r in results],
        }


def registry(runlog: Path | None = None, kind: str = "quick") -> HandlerRegistry:
    """The handler under `kind`; worker processes also take API-made (`video`) jobs."""
    handler = QuickHandler(runlog)
    return HandlerRegistry({kind: handler, "video": handler})


def expected(chunks: int) -> dict[str, Any]:
    return {"n": chunks, "sum": sum(i * i for i in range(chunks)), "order": list(range(chunks))}
