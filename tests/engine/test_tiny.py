"""The tiny random-weight models load offline and run the real generate() path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inkshadow.engine.tiny import TINY_MARKER, build_tiny_model, is_tiny_model
from inkshadow.families import Family

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

VISION = [Family.QWEN2_5_VL, Family.QWEN3_VL]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Family], Path]:
    """Build each family once per module, on first use."""
    cache: dict[Family, Path] = {}

    def get(family: Family) -> Path:
        if family not in cache:
            folder = tmp_path_factory.mktemp(family.value.replace(".", "_"))
            cache[family] = build_tiny_model(family, folder)
        return cache[family]

    return get


def _load(family: Family, path: Path) -> tuple[Any, Any]:
    import transformers as tf

    if family is Family.QWEN2_5:
        return tf.AutoTokenizer.from_pretrained(path), tf.AutoModelForCausalLM.from_pretrained(path)
    processor: Any = tf.AutoProcessor
    return processor.from_pretrained(path), tf.AutoModelForImageTextToText.from_pretrained(path)


def _generate(model: Any, inputs: Any, prompt_len: int) -> Any:
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    new = out[0, prompt_len:]
    assert new.numel() > 0
    return new


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # the env var is read once at import; the constant is what the hub client checks per call
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.mark.parametrize("family", list(Family), ids=str)
def test_marker_and_is_tiny(tiny: Callable[[Family], Path], family: Family, tmp_path: Path) -> None:
    path = tiny(family)
    marker = json.loads((path / TINY_MARKER).read_text())
    assert marker == {
        "family": family.value,
        "random_weights": True,
        "note": "random weights: output is noise",
    }
    assert is_tiny_model(path)
    assert not is_tiny_model(tmp_path)


@pytest.mark.parametrize("family", list(Family), ids=str)
def test_folder_is_small(tiny: Callable[[Family], Path], family: Family) -> None:
    assert sum(f.stat().st_size for f in tiny(family).iterdir()) < 10_000_000


@pytest.mark.parametrize("family", list(Family), ids=str)
def test_text_generation(tiny: Callable[[Family], Path], family: Family) -> None:
    processor, model = _load(family, tiny(family))
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Describe the video. 请描述这个视频。"}
    ]
    if family is not Family.QWEN2_5:
        messages = [{"role": "user", "content": [{"type": "text", "text": "Describe it."}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|im_start|>") and text.endswith("<|im_start|>assistant\n")
    if family is Family.QWEN2_5:
        inputs = processor(text, return_tensors="pt")
    else:
        inputs = processor(text=[text], return_tensors="pt")
    _generate(model, inputs, inputs["input_ids"].shape[1])
    # eos is <|im_end|>, so a chat turn ends where the chat template ends one
    tokenizer = processor if family is Family.QWEN2_5 else processor.tokenizer
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in model.generation_config.eos_token_id
    assert model.config.get_text_config().vocab_size >= len(tokenizer)


@pytest.mark.parametrize("family", VISION, ids=str)
def test_image_generation(tiny: Callable[[Family], Path], family: Family) -> None:
    processor, model = _load(family, tiny(family))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), np.uint8))
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}
    ]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "<|vision_start|><|image_pad|><|vision_end|>" in text
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    image_id = model.config.image_token_id
    assert image_id == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((inputs["input_ids"] == image_id).sum()) > 1  # expanded per merged patch
    _generate(model, inputs, inputs["input_ids"].shape[1])


@pytest.mark.parametrize("family", VISION, ids=str)
def test_video_generation(tiny: Callable[[Family], Path], family: Family) -> None:
    processor, model = _load(family, tiny(family))
    frames = np.random.default_rng(1).integers(0, 255, (8, 64, 64, 3), np.uint8)
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "When?"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "<|vision_start|><|video_pad|><|vision_end|>" in text
    if family is Family.QWEN3_VL:
        from transformers.video_utils import VideoMetadata

        # true timestamps: frames sampled at 2 fps from a 30 fps source
        meta = VideoMetadata(total_num_frames=120, fps=30.0, frames_indices=list(range(0, 120, 15)))
        inputs = processor(
            text=[text],
            videos=[frames],
            video_metadata=[meta],
            do_sample_frames=False,
            return_tensors="pt",
        )
        prompt = processor.tokenizer.decode(inputs["input_ids"][0])
        assert "<0.2 seconds>" in prompt and "<3.2 seconds>" in prompt
    else:
        inputs = processor(text=[text], videos=[frames], fps=2.0, return_tensors="pt")
        assert "second_per_grid_ts" in inputs
    video_id = model.config.video_token_id
    assert int((inputs["input_ids"] == video_id).sum()) > 1
    _generate(model, inputs, inputs["input_ids"].shape[1])


def test_same_seed_same_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    a = build_tiny_model(Family.QWEN2_5, tmp_path / "a", seed=3)
    b = build_tiny_model(Family.QWEN2_5, tmp_path / "b", seed=3)
    c = build_tiny_model(Family.QWEN2_5, tmp_path / "c", seed=4)
    wa, wb, wc = (load_file(p / "model.safetensors") for p in (a, b, c))
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)
