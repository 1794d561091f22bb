"""Frame-sampling benchmark: inkshadow's sampler next to qwen-vl-utils' `fetch_video` with
every decoder backend that works here (decord, torchcodec CPU), on the same videos, asking
for the same frames, in one run.

Videos: H.264 at 720p and 1080p, GOP 30 and 250, 60 s / 600 s / 1800 s at 30 fps, made once
with PyAV (FFmpeg's testsrc2 pattern, x264 ultrafast with 2 B-frames) and cached outside the
repository (--cache, default ~/.cache/inkshadow-bench).

Two requests per video, both on Qwen2.5-VL's rules (factor 28, its pixel budgets):
- default: fps 2 with qwen-vl-utils' frame cap (768), what a plain `fetch_video` call gets;
- sparse: at most 64 frames, a fixed frame count, so time should stay nearly flat in length.

Methods: inkshadow with the bit-exact torch resize (what the model sees by default) and with
FFmpeg's scaler (`exact_resize=False`); qwen-vl-utils with decord and with torchcodec. Each
run is a fresh process: wall time of the call and the process's peak RSS; a run past
--mem-cap-gb is killed and reported as out of memory. The first run of each method also
saves 16 of its frames, so the indices and pixels of every method are compared with
qwen-vl-utils' own.

    scripts/setup_bench.sh && .venv-bench/bin/python bench/frames.py [--grid quick|full|smoke]

Prints JSON: per run the median seconds and peak memory, per video and request our speed-up
and memory ratio against the best qwen-vl-utils backend, and the frame comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder leads sys.path, and bench/queue.py there shadows the
# standard `queue` module that torch and logging import: drop the folder first.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("inkshadow-exact", "inkshadow-fast", "qwen-vl-utils/decord", "qwen-vl-utils/torchcodec")
PEERS = ("qwen-vl-utils/decord", "qwen-vl-utils/torchcodec")
REGIMES = {"default": None, "sparse": 64}
SAVED_FRAMES = 16
FPS = 30
GRIDS: dict[str, list[tuple[int, int, int]]] = {
    # (height, gop, seconds)
    "smoke": [(720, 30, 10), (720, 250, 10)],
    "long": [(720, 250, 1800), (1080, 250, 1800)],
    "quick": [(h, g, s) for h in (720, 1080) for g in (30, 250) for s in (60, 600)],
    "full": [(h, g, s) for h in (720, 1080) for g in (30, 250) for s in (60, 600, 1800)],
}


@dataclass(frozen=True)
class Video:
    path: Path
    height: int
    gop: int
    seconds: int

    @property
    def name(self) -> str:
        return f"{self.height}p-gop{self.gop}-{self.seconds}s"


def make_video(path: Path, height: int, gop: int, seconds: int) -> None:
    """testsrc2 (moving pattern, frame counter) encoded by x264 with keyframes every `gop`."""
    import av
    from av.video.frame import PictureType

    width = height * 16 // 9
    graph = av.filter.Graph()
    src = graph.add("testsrc2", f"size={width}x{height}:rate={FPS}:duration={seconds}")
    fmt = graph.add("format", "yuv420p")
    sink = graph.add("buffersink")
    src.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "preset": "ultrafast",
            "bf": "2",
            "crf": "23",
        }
        n = 0
        while True:
            try:
                frame = sink.pull()
            except (av.error.EOFError, av.BlockingIOError):
                break
            frame.pts, frame.time_base = n, Fraction(1, FPS)
            # testsrc2 marks every frame I, and x264 obeys a frame's picture type: clear it,
            # or every frame becomes a keyframe and the GOP setting means nothing.
            frame.pict_type = PictureType.NONE
            out.mux(stream.encode(frame))
            n += 1
        out.mux(stream.encode(None))
    with av.open(str(partial)) as check:
        stream = check.streams.video[0]
        keys = sum(1 for p in check.demux(stream) if p.is_keyframe and p.pts is not None)
    if keys > seconds * FPS // gop + 1:
        raise RuntimeError(f"{path.name}: {keys} keyframes, expected one every {gop} frames")
    partial.rename(path)


def videos(grid: str, cache: Path) -> list[Video]:
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for height, gop, seconds in GRIDS[grid]:
        path = cache / f"testsrc2-{height}p-gop{gop}-{seconds}s.mp4"
        if not path.exists():
            started = time.perf_counter()
            print(f"[bench] making {path.name} ...", file=sys.stderr, flush=True)
            make_video(path, height, gop, seconds)
            took = time.perf_counter() - started
            print(f"[bench]   {took:.0f} s", file=sys.stderr, flush=True)
        out.append(Video(path, height, gop, seconds))
    return out


# --- one measured run, in its own process ------------------------------------------------


def child(method: str, video: str, max_frames: int | None, save: str) -> None:
    """Sample, then print {seconds, peak_rss_mb, base_rss_mb, indices, width, height}."""
    import numpy as np

    if method.startswith("qwen-vl-utils/"):
        # qwen-vl-utils reads the backend from the environment when it is imported.
        os.environ["FORCE_QWENVL_VIDEO_READER"] = method.split("/")[1]
        import torch
        from qwen_vl_utils.vision_process import fetch_video

        # Warm, as in a server: the decoder's import is not part of sampling.
        if method.endswith("decord"):
            import decord  # noqa: F401
        else:
            import torchcodec.decoders  # noqa: F401

        ele: dict[str, Any] = {"video": video, "fps": 2.0}
        if max_frames is not None:
            ele["max_frames"] = max_frames
        base = _rss_mb()
        started = time.perf_counter()
        tensor, meta = fetch_video(ele, image_patch_size=14, return_video_metadata=True)
        seconds = time.perf_counter() - started
        if meta.get("video_backend") != method.split("/")[1]:
            raise SystemExit(f"qwen-vl-utils fell back to {meta.get('video_backend')}")
        frames = tensor.round().clamp(0, 255).to(dtype=torch.uint8)
        frames = frames.permute(0, 2, 3, 1).numpy()
        indices = [int(i) for i in meta["frames_indices"]]
    else:
        from inkshadow.families import Family
        from inkshadow.media.decode import sample_video
        from inkshadow.media.sampling import SamplingRequest

        if method == "inkshadow-exact":
            import torch  # warm, as in a server: the exact resize runs in torch

            del torch

        request = SamplingRequest(Family.QWEN2_5_VL, fps=2.0, max_frames=max_frames)
        base = _rss_mb()
        started = time.perf_counter()
        sampled = sample_video(Path(video), request, exact_resize=method == "inkshadow-exact")
        seconds = time.perf_counter() - started
        frames = sampled.frames
        indices = list(sampled.plan.indices)
    if save:
        pick = np.linspace(0, len(frames) - 1, min(SAVED_FRAMES, len(frames))).round().astype(int)
        np.savez(save, frames=frames[pick], indices=np.asarray(indices))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": _peak_mb(),
                "base_rss_mb": base,
                "frames": len(indices),
                "width": int(frames.shape[2]),
                "height": int(frames.shape[1]),
            }
        )
    )


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(
    method: str, video: Video, max_frames: int | None, save: str, cap_mb: float, timeout: float
) -> dict[str, Any]:
    """One run in a fresh process, killed past the memory cap or the timeout."""
    command = [
        sys.executable,
        __file__,
        "--child",
        method,
        str(video.path),
        str(max_frames or 0),
        save,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    started = time.monotonic()
    seen_mb = 0.0
    while proc.poll() is None:
        seen_mb = max(seen_mb, _child_rss_mb(proc.pid))
        if seen_mb > cap_mb:
            proc.kill()
            proc.wait()
            return {"status": "out_of_memory", "killed_at_mb": round(seen_mb)}
        if time.monotonic() - started > timeout:
            proc.kill()
            proc.wait()
            return {"status": "timeout", "after_s": timeout}
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        return {"status": "error", "error": " | ".join(tail)}
    lines = out.decode().strip().splitlines()
    return {"status": "ok", **json.loads(lines[-1])}


def compare(saves: dict[str, str]) -> dict[str, Any]:
    """Indices and pixels of every method against qwen-vl-utils' (decord, else torchcodec)."""
    import numpy as np

    loaded = {m: np.load(p) for m, p in saves.items() if Path(p).exists()}
    ref_name = next((m for m in PEERS if m in loaded), None)
    if ref_name is None:
        return {"reference": None}
    ref = loaded[ref_name]
    out: dict[str, Any] = {"reference": ref_name}
    for method, data in loaded.items():
        if method == ref_name:
            continue
        same = data["indices"].shape == ref["indices"].shape and bool(
            (data["indices"] == ref["indices"]).all()
        )
        entry: dict[str, Any] = {"same_indices": same}
        if same and data["frames"].shape == ref["frames"].shape:
            diff = np.abs(data["frames"].astype(np.int16) - ref["frames"].astype(np.int16))
            entry["mean_abs_diff"] = round(float(diff.mean()), 4)
            entry["max_abs_diff"] = int(diff.max())
        else:
            entry["shapes"] = [list(data["frames"].shape), list(ref["frames"].shape)]
        out[method] = entry
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_key: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault((row["video"], row["regime"]), {})[row["method"]] = row
    out = []
    for (video, regime), methods in by_key.items():
        peers = {m: r for m, r in methods.items() if m in PEERS and r.get("median_s")}
        entry: dict[str, Any] = {"video": video, "regime": regime}
        failed = [m for m in PEERS if m in methods and not methods[m].get("median_s")]
        if failed:
            entry["peers_failed"] = {m: methods[m]["status"] for m in failed}
        if peers:
            best = min(peers, key=lambda m: peers[m]["median_s"])
            entry["best_peer"] = best
            for ours in ("inkshadow-exact", "inkshadow-fast"):
                mine = methods.get(ours)
                if mine and mine.get("median_s"):
                    entry[ours] = {
                        "speedup": round(peers[best]["median_s"] / mine["median_s"], 2),
                        "memory_ratio": round(mine["peak_rss_mb"] / peers[best]["peak_rss_mb"], 3),
                    }
        out.append(entry)
    return out


def flatness(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our sparse-request time on the longest video over the 60 s one, per resolution/GOP."""
    out = []
    sparse = [r for r in rows if r["regime"] == "sparse" and r.get("median_s")]
    for method in ("inkshadow-exact", "inkshadow-fast"):
        mine = [r for r in sparse if r["method"] == method]
        for key in {(r["height"], r["gop"]) for r in mine}:
            series = sorted(
                (r["seconds"], r["median_s"]) for r in mine if (r["height"], r["gop"]) == key
            )
            if len(series) > 1:
                out.append(
                    {
                        "method": method,
                        "video": f"{key[0]}p-gop{key[1]}",
                        "seconds_of_video": [s for s, _ in series],
                        "median_s": [round(t, 3) for _, t in series],
                        "longest_over_shortest": round(series[-1][1] / series[0][1], 2),
                    }
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", choices=sorted(GRIDS), default="quick")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "inkshadow-bench")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method (median)")
    parser.add_argument("--peer-repeat", type=int, default=1, help="runs per peer method")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--mem-cap-gb", type=float, default=16.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--make-only", action="store_true", help="make the videos, then stop")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, video, frames, save = args.child
        child(method, video, int(frames) or None, save)
        return
    if args.make_only:
        for video in videos(args.grid, args.cache):
            print(video.path)
        return
    methods = [m for m in args.methods.split(",") if m]
    regimes = [r for r in args.regimes.split(",") if r]
    rows: list[dict[str, Any]] = []
    equality: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="inkshadow-frames-") as tmp:
        for video in videos(args.grid, args.cache):
            for regime in regimes:
                saves: dict[str, str] = {}
                for method in methods:
                    repeat = args.peer_repeat if method in PEERS else args.repeat
                    runs = []
                    for n in range(repeat):
                        save = f"{tmp}/{video.name}-{regime}-{method.replace('/', '_')}.npz"
                        got = measure(
                            method,
                            video,
                            REGIMES[regime],
                            save if n == 0 else "",
                            args.mem_cap_gb * 1024,
                            args.timeout,
                        )
                        runs.append(got)
                        if n == 0:
                            saves[method] = save
                        print(
                            f"[bench] {video.name} {regime} {method}: {got}",
                            file=sys.stderr,
                            flush=True,
                        )
                        if got["status"] != "ok":
                            break  # a peer that ran out of memory will do so again
                    ok = [r for r in runs if r["status"] == "ok"]
                    row: dict[str, Any] = {
                        "video": video.name,
                        "height": video.height,
                        "gop": video.gop,
                        "seconds": video.seconds,
                        "regime": regime,
                        "method": method,
                        "status": runs[-1]["status"] if not ok else "ok",
                        "runs_s": [round(r["seconds"], 3) for r in ok],
                    }
                    if ok:
                        row["median_s"] = statistics.median(r["seconds"] for r in ok)
                        row["peak_rss_mb"] = round(max(r["peak_rss_mb"] for r in ok))
                        row["frames"] = ok[0]["frames"]
                        row["size"] = f"{ok[0]['width']}x{ok[0]['height']}"
                    else:
                        row["failure"] = runs[-1]
                    rows.append(row)
                equality.append({"video": video.name, "regime": regime, **compare(saves)})
    report = {
        "benchmark": "frame sampling, Qwen2.5-VL rules",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "grid": args.grid,
        "runs": rows,
        "versus_best_qwen_vl_utils": summarise(rows),
        "frames_equal": equality,
        "time_vs_length_at_64_frames": flatness(rows),
        "goal": "speedup >= 5 and memory_ratio <= 0.1 on 600 s and 1800 s videos",
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
