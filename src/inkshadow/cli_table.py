"""`inkshadow analyze --pretty`: a result as a readable table instead of JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _seconds(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else ""


def _box(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 4:
        return "[" + ", ".join(f"{v:.0f}" for v in value) + "]"
    return ""


def result_table(result: dict[str, Any]) -> Table:
    """One row per result item; columns by what the task returns."""
    items = [i for i in result.get("results") or [] if isinstance(i, dict)]
    video = result.get("video") or {}
    title = f"{result.get('task', '')} · {len(items)} result(s)"
    if video:
        title += f" · {video.get('width')}x{video.get('height')}, {video.get('duration'):.1f} s"
    table = Table(title=title, title_justify="left")
    if any("bbox" in i for i in items):
        for name in ("time (s)", "box [x1, y1, x2, y2]", "label"):
            table.add_column(name)
        for i in items:
            table.add_row(_seconds(i.get("time")), _box(i.get("bbox")), str(i.get("label", "")))
    else:
        for name in ("start (s)", "end (s)", "label / description"):
            table.add_column(name)
        for i in items:
            text = str(i.get("label") or i.get("description") or "")
            table.add_row(_seconds(i.get("start")), _seconds(i.get("end")), text)
    return table


def print_result(result: dict[str, Any], console: Console | None = None) -> None:
    out = console or Console()
    for warning in result.get("warnings") or []:
        out.print(Text.assemble(("warning: ", "yellow"), str(warning)))
    if result.get("results"):
        out.print(result_table(result))
    if result.get("text"):
        out.print(str(result["text"]), markup=False, highlight=False)
    verse = (result.get("extra") or {}).get("verse")
    if verse:
        out.print(str(verse), style="italic", markup=False, highlight=False)
