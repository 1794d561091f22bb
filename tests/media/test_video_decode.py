"""sample_video on generated H.264 files: the planned frames, and qwen-vl-utils' pixels.

Reference: every frame decoded sequentially with PyAV, the planned indices picked, resized with
torchvision's `resize(BICUBIC, antialias=True)` on the stacked uint8 batch exactly as
qwen-vl-utils' fetch_video does. Decoding is deterministic, so exact mode must match to the
bit; fast mode (FFmpeg's scaler) must stay within a small mean difference.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from inkshadow.errors import UnsupportedMedia
from inkshadow.families import Family
from inkshadow.media.decode import sample_video
from inkshadow.media.sampling import SamplingRequest, plan_sampling
from inkshadow.media.video import probe_video
from tests.media.videos import (
    decode_all,
    make_audio_only,
    make_video,
    read_frame_number,
)

torch = pytest.importorskip("torch")
tvf = pytest.importorskip("torchvision.transforms.functional")

# Mean abs difference (0-255) allowed for FFmpeg's bicubic against torch's antialiased
# bicubic; measured ~1-2 on these synthetic frames (sharp edges are the worst case).
FAST_TOLERANCE = 4.0

VIDEOS = {
    # name: (frames, fps, width, height, gop)
    "gop1": (90, 25, 160, 120, 1),
    "gop30": (300, Fraction(30000, 1001), 160, 120, 30),
    "gop250": (600, 30, 160, 96, 250),
    "big": (120, 24, 640, 360, 48),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    return {
        name: make_video(root / f"{name}.mp4", frames=n, fps=fps, width=w, height=h, gop=gop)
        for name, (n, fps, w, h, gop) in VIDEOS.items()
    }


@pytest.fixture(scope="module")
def reference_frames(videos: dict[str, Path]) -> dict[str, list[np.ndarray]]:
    return {name: decode_all(path) for name, path in videos.items()}


def qwen_resize(frames: list[np.ndarray], width: int, height: int) -> np.ndarray:
    batch = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    out = tvf.resize(
        batch, [height, width], interpolation=tvf.InterpolationMode.BICUBIC, antialias=True
    )
    return out.permute(0, 2, 3, 1).numpy()


REQUESTS = {
    "default": SamplingRequest(Family.QWEN2_5_VL),
    "qwen3": SamplingRequest(Family.QWEN3_VL, fps=4.0),
    "clip": SamplingRequest(Family.QWEN3_VL, fps=2.0, start=2.3, end=7.9),
    "dense": SamplingRequest(Family.QWEN2_5_VL, fps=30.0, max_frames=32),
    "downscale": SamplingRequest(
        Family.QWEN2_5_VL, fps=1.0, min_pixels=16 * 28 * 28, max_pixels=48 * 28 * 28
    ),
}


def test_generated_frames_carry_their_numbers(
    reference_frames: dict[str, list[np.ndarray]],
) -> None:
    for name, frames in reference_frames.items():
        _, _, w, h, _ = VIDEOS[name]
        assert len(frames) == VIDEOS[name][0]
        assert [read_frame_number(f, w, h) for f in frames] == list(range(len(frames)))


def test_probe(videos: dict[str, Path]) -> None:
    info = probe_video(videos["gop30"])
    assert (info.width, info.height, info.frames, info.codec) == (160, 120, 300, "h264")
    assert info.fps == pytest.approx(30000 / 1001)
    assert info.duration == pytest.approx(300 * 1001 / 30000, abs=0.05)


@pytest.mark.parametrize("req_name", list(REQUESTS))
@pytest.mark.parametrize("video", list(VIDEOS))
def test_exact_mode_matches_qwen_pixels(
    videos: dict[str, Path],
    reference_frames: dict[str, list[np.ndarray]],
    video: str,
    req_name: str,
) -> None:
    req = REQUESTS[req_name]
    _, fps, w, h, _ = VIDEOS[video]
    result = sample_video(videos[video], req)
    plan = plan_sampling(probe_video(videos[video]), req)
    assert result.plan.indices == plan.indices
    assert (result.plan.width, result.plan.height) == (plan.width, plan.height)
    assert result.frames.shape == (len(plan.indices), plan.height, plan.width, 3)
    assert [read_frame_number(f, w, h) for f in result.frames] == list(plan.indices)
    assert result.plan.timestamps == pytest.approx([i / float(fps) for i in plan.indices])
    want = qwen_resize([reference_frames[video][i] for i in plan.indices], plan.width, plan.height)
    assert np.array_equal(result.frames, want)


@pytest.mark.parametrize("video", ["gop30", "gop250", "big"])
def test_fast_mode_within_tolerance(
    videos: dict[str, Path], reference_frames: dict[str, list[np.ndarray]], video: str
) -> None:
    req = REQUESTS["downscale" if video == "big" else "default"]
    _, _, w, h, _ = VIDEOS[video]
    result = sample_video(videos[video], req, exact_resize=False)
    plan = result.plan
    assert [read_frame_number(f, w, h) for f in result.frames] == list(plan.indices)
    want = qwen_resize([reference_frames[video][i] for i in plan.indices], plan.width, plan.height)
    diff = np.abs(result.frames.astype(np.int16) - want.astype(np.int16)).mean()
    assert diff <= FAST_TOLERANCE


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_threads_do_not_change_output(videos: dict[str, Path], threads: int) -> None:
    # Fast resize: this checks the decoder's split, the exact resize is checked above.
    req = SamplingRequest(Family.QWEN2_5_VL, fps=6.0)
    one = sample_video(videos["gop30"], req, threads=1, exact_resize=False)
    many = sample_video(videos["gop30"], req, threads=threads, exact_resize=False)
    assert one.plan == many.plan
    assert np.array_equal(one.frames, many.frames)


def test_errors(tmp_path: Path, videos: dict[str, Path]) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(50_000))
    data = videos["gop30"].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    header_only = tmp_path / "header_only.mp4"
    header_only.write_bytes(data[:64])
    audio = make_audio_only(tmp_path / "audio.m4a")
    faststart = make_video(tmp_path / "fs.mp4", frames=120, gop=30, faststart=True)
    cut = tmp_path / "fs_cut.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size * 2 // 3])
    missing = tmp_path / "missing.mp4"
    req = SamplingRequest(Family.QWEN3_VL)
    for path in (empty, corrupt, truncated, header_only, audio, missing):
        with pytest.raises(UnsupportedMedia):
            probe_video(path)
        with pytest.raises(UnsupportedMedia):
            sample_video(path, req)
    with pytest.raises(UnsupportedMedia) as info:
        sample_video(cut, req)
    assert str(tmp_path) not in str(info.value)


def test_sparse_samples_decode_only_what_they_need(videos: dict[str, Path]) -> None:
    """A long GOP with few samples: the decoder stops at the last sample of each GOP it
    needs, never reads GOPs without samples, and skips non-reference frames."""
    path = videos["gop250"]  # 600 frames, keyframes at 0, 250, 500
    early = sample_video(path, SamplingRequest(Family.QWEN2_5_VL, fps=1.0, end=3.0))
    # 4 samples inside the first 3 s of GOP 0: at most the frames up to the last one.
    assert early.plan.indices[-1] <= 90 and early.decoded <= early.plan.indices[-1] + 1
    spread = sample_video(path, SamplingRequest(Family.QWEN2_5_VL, fps=30.0, max_frames=4))
    assert spread.decoded < 0.9 * 600  # not a whole-video decode
    whole = sample_video(path, SamplingRequest(Family.QWEN2_5_VL, fps=30.0, max_frames=600))
    assert whole.decoded == 600  # every frame asked for: every frame decoded, once
