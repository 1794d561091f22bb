"""The language switch: every translatable property of every component, registered once, so
one handler can relabel the whole page."""

from __future__ import annotations

from typing import Any, TypeVar

import gradio as gr
from gradio.blocks import Block

from inkshadow.ui.texts import DEFAULT_LANG, t, task_choices

B = TypeVar("B", bound=Block)
TASK_CHOICES = "@tasks"  # a Dropdown's choices rather than a text


class Labels:
    def __init__(self, lang: str = DEFAULT_LANG) -> None:
        self.lang = lang  # the language the page is first built in
        self._items: list[tuple[Block, dict[str, str]]] = []

    def __call__(self, key: str, **values: object) -> str:
        return t(self.lang, key, **values)

    def add(self, block: B, **keys: str) -> B:
        """Register `block`: attribute name -> text key (or TASK_CHOICES)."""
        self._items.append((block, keys))
        return block

    @property
    def blocks(self) -> list[Block]:
        return [block for block, _ in self._items]

    def updates(self, lang: str) -> list[dict[str, Any]]:
        out = []
        for _, keys in self._items:
            props: dict[str, Any] = {}
            for attr, key in keys.items():
                props[attr] = task_choices(lang) if key == TASK_CHOICES else t(lang, key)
            out.append(gr.update(**props))
        return out
