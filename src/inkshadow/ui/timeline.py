"""The event timeline as HTML: a bar over the video's length with one mark per event, and
the same events as a list of buttons (readable, keyboard- and screen-reader-friendly).

Every mark is a <button data-ink-seek="SECONDS" data-ink-target="PLAYER_ELEM_ID">; the
script in `SEEK_JS` (run once on the HTML component) seeks that player when one is clicked.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from inkshadow.tasks.marks import Event

# Delegated, so it survives the HTML being replaced by the next result.
SEEK_JS = """
element.addEventListener('click', (event) => {
  const mark = event.target.closest('[data-ink-seek]');
  if (!mark) return;
  const player = document.querySelector('#' + mark.dataset.inkTarget + ' video');
  if (!player) return;
  player.currentTime = parseFloat(mark.dataset.inkSeek);
  player.dataset.inkSeeked = mark.dataset.inkSeek;
  player.scrollIntoView({block: 'nearest'});
});
"""


def _span(event: Event) -> str:
    if event.end > event.start:
        return f"{event.start:.2f}–{event.end:.2f} s"
    return f"{event.start:.2f} s"


def render(events: Sequence[Event], duration: float, target: str, title: str, empty: str) -> str:
    """The timeline's HTML; `target` is the elem_id of the gr.Video to seek."""
    if not events:
        return (
            f'<section class="ink-timeline"><h3>{html.escape(title)}</h3>'
            f"<p>{html.escape(empty)}</p></section>"
        )
    length = max(duration, max(e.end for e in events), 1e-6)
    marks, items = [], []
    for n, event in enumerate(events):
        left = 100.0 * event.start / length
        width = max(0.8, 100.0 * (event.end - event.start) / length)
        name = html.escape(event.label[:80])
        span = _span(event)
        attrs = (
            f'type="button" data-ink-seek="{event.start:.3f}" data-ink-target="{target}" '
            f'data-ink-event="{n}"'
        )
        marks.append(
            f'<button {attrs} class="ink-mark" style="left:{left:.3f}%;width:{width:.3f}%" '
            f'aria-label="{span} {name}" title="{span} {name}" tabindex="-1"></button>'
        )
        items.append(
            f'<li><button {attrs} class="ink-event"><span class="ink-span">{span}</span> '
            f"{name}</button></li>"
        )
    ticks = "".join(
        f'<span style="left:{100.0 * k / 4:.1f}%">{length * k / 4:.1f} s</span>' for k in range(5)
    )
    return (
        f'<section class="ink-timeline" aria-label="{html.escape(title)}">'
        f"<h3>{html.escape(title)}</h3>"
        f'<div class="ink-track">{"".join(marks)}</div>'
        f'<div class="ink-axis" aria-hidden="true">{ticks}</div>'
        f'<ol class="ink-events">{"".join(items)}</ol></section>'
    )
