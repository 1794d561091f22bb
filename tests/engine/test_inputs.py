"""What the processor receives for videos: true sampling rates and times, for clips too."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoProcessor

from inkshadow.engine.inputs import processor_kwargs, render
from inkshadow.engine.types import Message, TextPart, VideoPart
from inkshadow.families import Family
from tests.conftest import tiny_model


def clip(family: Family) -> VideoPart:
    # 4 frames of a 10 fps, 400-frame video, sampled at 2.5 fps from 20.0 s to 21.2 s.
    side = family.patch_factor * 2
    return VideoPart(
        frames=np.zeros((4, side, side, 3), dtype=np.uint8),
        timestamps=(20.0, 20.4, 20.8, 21.2),
        indices=(200, 204, 208, 212),
        sample_fps=2.5,
        source_fps=10.0,
        source_frames=400,
        duration=40.0,
    )


def run(family: Family) -> tuple[str, dict[str, object]]:
    processor = AutoProcessor.from_pretrained(str(tiny_model(family)))
    processor.tokenizer.padding_side = "left"
    prepared = render((Message("user", (clip(family), TextPart("when?"))),), family, processor)
    out = processor(**processor_kwargs([prepared], family))
    return processor.batch_decode(out["input_ids"])[0], dict(out)


def test_qwen25_vl_gets_the_clip_sampling_rate() -> None:
    _, out = run(Family.QWEN2_5_VL)
    # temporal patch 2 / 2.5 fps = 0.8 s per grid step, as qwen-vl-utils gives it.
    assert out["second_per_grid_ts"] == pytest.approx([0.8])


def test_qwen3_vl_gets_true_source_times() -> None:
    prompt, _ = run(Family.QWEN3_VL)
    # One marker per pair of frames: the mean time of indices (200, 204) and (208, 212).
    assert "<20.2 seconds>" in prompt and "<21.0 seconds>" in prompt
