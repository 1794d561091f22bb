"""Prompts per family and task: valid bounded schemas, the family's coordinate convention."""

from __future__ import annotations

import json

import jsonschema
import pytest

from inkshadow.errors import InvalidRequest
from inkshadow.families import Family
from inkshadow.tasks.prompts import PromptContext, task_prompt
from inkshadow.tasks.schemas import TaskLimits
from inkshadow.tasks.types import TaskName, TaskSpec

TASKS = ("ask", "temporal", "spatial", "track", "describe")


def video_ctx(family: Family) -> PromptContext:
    return PromptContext(family, "video", 392, 280, time_lo=10.0, time_hi=20.5, frames=8)


@pytest.mark.parametrize("family", [Family.QWEN2_5_VL, Family.QWEN3_VL])
@pytest.mark.parametrize("task", TASKS)
def test_schemas_are_valid_and_bounded(family: Family, task: str) -> None:
    prompt = task_prompt(TaskSpec(task, "穿红衣服的人"), video_ctx(family), TaskLimits())  # type: ignore[arg-type]
    jsonschema.Draft202012Validator.check_schema(prompt.schema)
    assert "穿红衣服的人" in prompt.text or task == "describe"
    assert 16 < prompt.max_tokens < 12_000
    text = json.dumps(prompt.schema)
    assert '"type": "string"' not in text or "maxLength" in text


def test_family_conventions_in_prompts() -> None:
    q25 = task_prompt(TaskSpec("spatial", "dog"), video_ctx(Family.QWEN2_5_VL), TaskLimits())
    q3 = task_prompt(TaskSpec("spatial", "dog"), video_ctx(Family.QWEN3_VL), TaskLimits())
    assert "392x280" in q25.text and "0 to 1000" in q3.text
    assert q25.schema["items"]["properties"]["bbox_2d"]["prefixItems"][0]["maximum"] == 392
    assert q3.schema["items"]["properties"]["bbox_2d"]["prefixItems"][0]["maximum"] == 1000
    assert "<t seconds>" in q3.text and "from the start of this video" in q25.text


def test_poetic_ask_asks_for_a_verse() -> None:
    prompt = task_prompt(
        TaskSpec("ask", "这是什么?", "poetic"), video_ctx(Family.QWEN3_VL), TaskLimits()
    )
    assert set(prompt.schema["required"]) == {"answer", "verse"}
    valid = {"answer": "一只猫", "verse": "月下猫影"}
    jsonschema.validate(valid, prompt.schema)


def test_video_only_tasks_refuse_images() -> None:
    ctx = PromptContext(Family.QWEN2_5_VL, "images", 448, 448)
    tasks: tuple[TaskName, ...] = ("temporal", "track")
    for task in tasks:
        with pytest.raises(InvalidRequest):
            task_prompt(TaskSpec(task, "x"), ctx, TaskLimits())
