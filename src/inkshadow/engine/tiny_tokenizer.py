"""An offline Qwen-style tokenizer and chat templates for the tiny random-weight models.

No tokenizer can be downloaded on the machines that build these models, so a small byte-level
BPE is trained on the spot with Qwen's pre-tokenizer and special tokens. Token ids differ from
real Qwen checkpoints; everything that reads ids from the tokenizer or config still works.
"""

from __future__ import annotations

import json
from typing import Any

from inkshadow.families import Family

# Qwen's pre-tokenizer split (from Qwen2Tokenizer), so words split the way Qwen splits them.
QWEN_SPLIT_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# In Qwen's order; <|endoftext|> first so it doubles as pad/unk the way Qwen uses it.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

VOCAB_SIZE = 640  # 256 byte symbols + merges + special tokens: small, still splits words

# A little English and Chinese, with the words our prompts use, so common words become
# single tokens and the tokenizer's behaviour on both scripts is exercised.
_CORPUS = """\
You are a helpful assistant. Describe the video. What happens in this image?
The person walks into the room, picks up a red cup and puts it on the table.
Find the start and end time in seconds when the dog jumps over the fence.
Return a JSON object with the bounding box of the car: {"bbox_2d": [12, 34, 560, 780]}.
A man is riding a bicycle along the river while the sun sets behind the mountains.
Two children are playing football in the park; a woman watches them from a bench.
Answer the question about the picture in one short sentence.
The quick brown fox jumps over the lazy dog. 0123456789 seconds, frames, boxes, time.
你是一个有帮助的助手。请描述这个视频。这张图片里发生了什么？
一个人走进房间，拿起一个红色的杯子，把它放在桌子上。
请找出狗跳过栅栏的开始时间和结束时间，以秒为单位。
一个男人在河边骑自行车，太阳在山后落下。两个孩子在公园里踢足球。
请用一句话回答关于这张图片的问题。请以 JSON 格式返回汽车的边界框。
"""

# Qwen2.5 (text): default system prompt when the caller gives none; tools are left out.
_QWEN2_5_TEMPLATE = (
    "{%- macro text(c) -%}{%- if c is string -%}{{ c }}{%- else -%}"
    "{%- for p in c -%}{%- if 'text' in p -%}{{ p['text'] }}{%- endif -%}{%- endfor -%}"
    "{%- endif -%}{%- endmacro -%}"
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + text(message['content']) + '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# Vision parts render as Qwen's placeholders; the processor expands the pad token per patch.
_VISION_PARTS = (
    "{%- for p in message['content'] -%}"
    "{%- if p['type'] == 'image' or 'image' in p or 'image_url' in p -%}"
    "{%- set image_count.value = image_count.value + 1 -%}"
    "{%- if add_vision_id -%}Picture {{ image_count.value }}: {% endif -%}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif p['type'] == 'video' or 'video' in p -%}"
    "{%- set video_count.value = video_count.value + 1 -%}"
    "{%- if add_vision_id -%}Video {{ video_count.value }}: {% endif -%}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif 'text' in p -%}{{ p['text'] }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)

_COUNTERS = (
    "{%- set image_count = namespace(value=0) -%}{%- set video_count = namespace(value=0) -%}"
)

_MESSAGE = (
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}" + _VISION_PARTS + "{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
)

# Qwen2.5-VL: default system prompt "You are a helpful assistant." when none is given.
_QWEN2_5_VL_TEMPLATE = (
    _COUNTERS + "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}" + _MESSAGE + "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

# Qwen3-VL (Instruct): no default system prompt; tools are left out.
_QWEN3_VL_TEMPLATE = (
    _COUNTERS + "{%- for message in messages -%}" + _MESSAGE + "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

_TEMPLATES = {
    Family.QWEN2_5: _QWEN2_5_TEMPLATE,
    Family.QWEN2_5_VL: _QWEN2_5_VL_TEMPLATE,
    Family.QWEN3_VL: _QWEN3_VL_TEMPLATE,
}


def chat_template(family: Family) -> str:
    """The family's chat template (Jinja), rendering what the real checkpoints render."""
    return _TEMPLATES[family]


def train_tokenizer(family: Family) -> Any:
    """Train a byte-level BPE on the built-in corpus and wrap it as a transformers tokenizer.

    Deterministic: BPE training on a fixed corpus gives the same vocabulary every time.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers import Qwen2Tokenizer

    raw = Tokenizer(models.BPE())
    raw.normalizer = normalizers.NFC()
    raw.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    raw.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE - len(SPECIAL_TOKENS),
        min_frequency=1,
        show_progress=False,
        # every byte is a symbol, so any text (any script) encodes without unknowns
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator(_CORPUS.splitlines(), trainer=trainer)

    tokenizer = Qwen2Tokenizer(
        vocab=raw.get_vocab(),
        # transformers itself passes (left, right) pairs here; its annotation says str
        merges=_merges(raw),  # type: ignore[arg-type]
        eos_token="<|im_end|>",  # chat models end their turn with <|im_end|>
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS),
        model_max_length=32768,
    )
    tokenizer.chat_template = chat_template(family)
    return tokenizer


def _merges(raw: Any) -> list[tuple[str, str]]:
    """The trained merges, read from the tokenizer's JSON (the Python API does not expose them)."""
    merges: list[tuple[str, str]] = []
    for merge in json.loads(raw.to_str())["model"]["merges"]:
        # tokenizers writes pairs as lists; older versions wrote "a b" strings
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        merges.append((left, right))
    return merges
