"""Model families and the facts about them that preprocessing and parsing depend on."""

from __future__ import annotations

from enum import StrEnum


class Family(StrEnum):
    QWEN2_5 = "qwen2.5"
    QWEN2_5_VL = "qwen2.5-vl"
    QWEN3_VL = "qwen3-vl"

    @property
    def is_vision(self) -> bool:
        return self is not Family.QWEN2_5

    @property
    def patch_factor(self) -> int:
        """Side of one merged visual token in pixels: smart_resize rounds to multiples of it."""
        return 32 if self is Family.QWEN3_VL else 28


_MODEL_TYPES = {
    "qwen2": Family.QWEN2_5,
    "qwen2_5_vl": Family.QWEN2_5_VL,
    "qwen3_vl": Family.QWEN3_VL,
}


def family_from_model_type(model_type: str) -> Family | None:
    """Map a Hugging Face `config.model_type` to a family, or None when we do not know it."""
    return _MODEL_TYPES.get(model_type)
