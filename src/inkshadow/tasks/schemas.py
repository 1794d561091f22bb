"""JSON schemas the answers are constrained to, and the token budget each one needs.

Every string and list is bounded so that a constrained answer always fits its token
budget: a model that never closes a string (random weights do this) still ends with valid
JSON instead of being cut off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]
# Bump when prompts, schemas, parsing or mapping change what an analysis answers: cached
# answers of the old version are then never served.
ANSWER_SCHEMA_VERSION = 1
TIME_STEP = 0.01  # seconds: finer than any frame interval a sampler keeps


@dataclass(frozen=True)
class TaskLimits:
    """Bounds on one answer. Lower them to make answers (and tests) shorter."""

    answer_chars: int = 1500
    verse_chars: int = 300
    label_chars: int = 60
    description_chars: int = 200
    summary_chars: int = 600
    max_spans: int = 10
    max_boxes: int = 12
    max_track: int = 64


def string(max_chars: int) -> Schema:
    return {"type": "string", "maxLength": max_chars}


def seconds(lo: float, hi: float) -> Schema:
    """A time in seconds; multipleOf bounds the digits (a model that never stops writing
    decimals would otherwise run out of tokens mid-number)."""
    return {"type": "number", "minimum": lo, "maximum": hi, "multipleOf": TIME_STEP}


def obj(**props: Schema) -> Schema:
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def array(items: Schema, max_items: int) -> Schema:
    return {"type": "array", "items": items, "maxItems": max_items}


def box(max_x: int, max_y: int) -> Schema:
    """[x1, y1, x2, y2] as integers, as both families write them."""
    coords = [{"type": "integer", "minimum": 0, "maximum": m} for m in (max_x, max_y) * 2]
    return {
        "type": "array",
        "prefixItems": coords,
        "items": False,
        "minItems": 4,
        "maxItems": 4,
    }


def token_budget(schema: Schema) -> int:
    """An upper bound on the tokens of any answer the schema admits (compact JSON). A
    character can take up to 3 byte-level tokens (UTF-8), a number at most ~12."""
    kind = schema.get("type")
    if kind == "string":
        return 3 * int(schema.get("maxLength", 256)) + 2
    if kind == "integer":
        return 6
    if kind == "number":
        return 12  # bounded by minimum/maximum and multipleOf
    if kind == "array":
        if "prefixItems" in schema:
            return sum(token_budget(s) + 1 for s in schema["prefixItems"]) + 2
        return int(schema.get("maxItems", 16)) * (token_budget(schema["items"]) + 1) + 2
    if kind == "object":
        props = schema.get("properties", {})
        return sum(len(k) + 3 + token_budget(s) for k, s in props.items()) + 2
    return 64
