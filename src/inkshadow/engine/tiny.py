"""Build a tiny random-weight Qwen model and an offline processor into a folder.

No weights can be downloaded on the machines that run this project's tests, so this builds
something that loads and runs exactly like a real checkpoint (same classes, same processor,
same chat template shape) at a size that builds in seconds. Its answers are noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inkshadow.engine.tiny_tokenizer import train_tokenizer
from inkshadow.families import Family

TINY_MARKER = "inkshadow_tiny.json"

# Text side: head_dim 64 because vLLM's CPU attention rejects smaller heads.
_TEXT: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 64,
    "max_position_embeddings": 32768,
}

# mrope sections split head_dim / 2 = 32 rotary pairs over (time, height, width), in the
# proportions the real checkpoints use (16/24/24 and 24/20/20 of 64).
_MROPE = {Family.QWEN2_5_VL: [8, 12, 12], Family.QWEN3_VL: [12, 10, 10]}


def is_tiny_model(path: Path) -> bool:
    """Whether `path` is a folder written by `build_tiny_model` (its answers are noise)."""
    return (path / TINY_MARKER).is_file()


def build_tiny_model(family: Family, out_dir: Path, *, seed: int = 0) -> Path:
    """Write a random-weight model of `family` plus its processor into `out_dir`.

    The same seed gives the same weights. Returns `out_dir`.
    """
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(family)
    ids = {tok: int(tokenizer.convert_tokens_to_ids(tok)) for tok in _NAMED_TOKENS}
    vocab_size = _round_up(len(tokenizer), 64)  # a multiple of 64, as real checkpoints pad

    torch.manual_seed(seed)
    if family is Family.QWEN2_5:
        model = _text_model(vocab_size, ids)
        tokenizer.save_pretrained(out_dir)
    else:
        model = _vision_model(family, vocab_size, ids)
        _processor(family, tokenizer).save_pretrained(out_dir)
    model.generation_config = _generation_config(ids)
    model.save_pretrained(out_dir)

    marker = {
        "family": family.value,
        "random_weights": True,
        "note": "random weights: output is noise",
    }
    (out_dir / TINY_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return out_dir


_NAMED_TOKENS = (
    "<|endoftext|>",
    "<|im_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<|vision_start|>",
    "<|vision_end|>",
)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _generation_config(ids: dict[str, int]) -> Any:
    from transformers import GenerationConfig

    # Greedy by default: a noise model gains nothing from sampling, and tests want repeats.
    return GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=False,
    )


def _text_model(vocab_size: int, ids: dict[str, int]) -> Any:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=True,  # as the small real Qwen2.5 models do
        **_TEXT,
    )
    return Qwen2ForCausalLM(config)


def _vision_model(family: Family, vocab_size: int, ids: dict[str, int]) -> Any:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
    )

    text: dict[str, Any] = {
        **_TEXT,
        "vocab_size": vocab_size,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 1_000_000.0,
            "mrope_section": _MROPE[family],
            **({"mrope_interleaved": True} if family is Family.QWEN3_VL else {}),
        },
    }
    token_ids: dict[str, Any] = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    vision: dict[str, Any] = {
        "depth": 2,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_heads": 2,
        "out_hidden_size": _TEXT["hidden_size"],
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    if family is Family.QWEN2_5_VL:
        # one windowed and one full-attention block, as the real model alternates them
        vision |= {"patch_size": 14, "window_size": 112, "fullatt_block_indexes": [1]}
        return Qwen2_5_VLForConditionalGeneration(
            Qwen2_5_VLConfig(text_config=text, vision_config=vision, **token_ids)
        )
    # 16x16 learned position grid (interpolated like the real 48x48); deepstack from block 0
    vision |= {"patch_size": 16, "num_position_embeddings": 256, "deepstack_visual_indexes": [0]}
    return Qwen3VLForConditionalGeneration(
        Qwen3VLConfig(text_config=text, vision_config=vision, **token_ids)
    )


def _processor(family: Family, tokenizer: Any) -> Any:
    from transformers import (
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    # Pixel budgets and normalisation as in the real checkpoints' preprocessor configs.
    if family is Family.QWEN2_5_VL:
        clip_mean = [0.48145466, 0.4578275, 0.40821073]
        clip_std = [0.26862954, 0.26130258, 0.27577711]
        image = Qwen2VLImageProcessor(
            patch_size=14,
            image_mean=clip_mean,
            image_std=clip_std,
            size={"shortest_edge": 3136, "longest_edge": 12845056},
        )
        video = Qwen2VLVideoProcessor(patch_size=14, image_mean=clip_mean, image_std=clip_std)
        return Qwen2_5_VLProcessor(  # type: ignore[no-untyped-call]
            image_processor=image,
            tokenizer=tokenizer,
            video_processor=video,
            chat_template=tokenizer.chat_template,
        )
    half = [0.5, 0.5, 0.5]
    image = Qwen2VLImageProcessor(
        patch_size=16,
        image_mean=half,
        image_std=half,
        size={"shortest_edge": 65536, "longest_edge": 16777216},
    )
    video3 = Qwen3VLVideoProcessor(
        patch_size=16,
        image_mean=half,
        image_std=half,
        size={"shortest_edge": 4096, "longest_edge": 25165824},
    )
    return Qwen3VLProcessor(  # type: ignore[no-untyped-call]
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video3,
        chat_template=tokenizer.chat_template,
    )
