"""The page's look: a theme with system fonts (no font CDN) and the CSS of our own HTML
parts (banner, alerts, timeline, progress bar, status table)."""

from __future__ import annotations

import gradio as gr

_SANS = [
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Noto Sans CJK SC",
    "PingFang SC",
    "Microsoft YaHei",
    "sans-serif",
]
_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    # Plain font names: Gradio would fetch a GoogleFont from the internet.
    return gr.themes.Default(font=_SANS, font_mono=_MONO, primary_hue="indigo")


CSS = """
.gradio-container { max-width: 1440px !important; }
.ink-title h1, .ink-title p { font-size: 1.45rem; font-weight: 700; margin: 0; }
#ink-header { align-items: center; }
#ink-title { white-space: nowrap; }
#ink-lang { display: flex; align-items: center; gap: .6rem; flex-wrap: nowrap; }
#ink-lang .wrap { flex-wrap: nowrap; }
/* Message slots (alerts, notes, banner) take no room while they are empty. (No commas
   inside :has(): Gradio's CSS scoping splits selectors at every comma.) */
.ink-slot:not(:has(.ink-msg)) { display: none; }
.ink-summary { margin: 0; font-size: .92rem; color: var(--body-text-color-subdued); }
.ink-dot { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%;
  margin-right: .4rem; vertical-align: middle; }
.ink-ok { background: #1f9d55; } .ink-bad { background: #d64545; }
.ink-banner { background: #fff4ce; color: #5c3c00; border: 2px solid #e0a800;
  border-radius: 8px; padding: .4rem .8rem; font-weight: 600; }
.ink-alert { background: #fde8e8; color: #7a1111; border: 1px solid #e3a0a0;
  border-radius: 8px; padding: .5rem .8rem; white-space: pre-wrap; }
.ink-note { color: var(--body-text-color-subdued); font-size: .85rem; padding: 0; }
.ink-timeline h3 { font-size: 1rem; margin: .2rem 0 .5rem; }
.ink-track { position: relative; height: 28px; background: var(--neutral-100);
  border: 1px solid var(--neutral-300); border-radius: 6px; overflow: hidden; }
.ink-mark { position: absolute; top: 3px; bottom: 3px; min-width: 6px; border: 0;
  border-radius: 4px; background: rgba(79, 70, 229, .75); cursor: pointer; padding: 0; }
.ink-mark:hover, .ink-mark:focus { background: rgba(217, 70, 0, .9); }
.ink-axis { position: relative; height: 1.2rem; font-size: .75rem;
  color: var(--body-text-color-subdued); margin: 0 1.2rem 0 0; }
.ink-axis span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.ink-axis span:first-child { transform: none; }
.ink-events { list-style: none; padding: 0; margin: .4rem 0 0; max-height: 220px;
  overflow-y: auto; }
.ink-event { width: 100%; text-align: left; border: 1px solid var(--neutral-200);
  border-radius: 6px; padding: .3rem .5rem; margin: 2px 0; background: var(--neutral-50);
  cursor: pointer; font-size: .9rem; }
.ink-event:hover, .ink-event:focus { border-color: #4f46e5; }
.ink-span { font-variant-numeric: tabular-nums; font-weight: 600; margin-right: .4rem; }
.ink-progress { height: 18px; border-radius: 9px; background: var(--neutral-200);
  overflow: hidden; }
.ink-progress-fill { height: 100%; background: #4f46e5; transition: width .4s; }
.ink-progress[data-status="succeeded"] .ink-progress-fill { background: #1f9d55; }
.ink-progress[data-status="failed"] .ink-progress-fill { background: #d64545; }
.ink-progress-text { margin: .3rem 0 0; font-size: .9rem; }
dl.ink-status { display: grid; grid-template-columns: max-content auto; gap: .35rem 1.5rem;
  margin: .4rem 0; }
dl.ink-status dt { font-weight: 600; margin: 0; }
dl.ink-status dd { font-family: var(--font-mono); margin: 0; }
"""

# Gradio's multimodal textbox shows its label as plain text beside an unnamed textarea:
# name the textarea after it (kept in step when the language changes the label).
PAGE_JS = """
() => {
  const name = () => document.querySelectorAll('.ink-labelled').forEach((block) => {
    const text = block.querySelector('[data-testid="block-info"]');
    const field = block.querySelector('textarea');
    const label = text ? text.textContent.trim() : '';
    if (field && label && field.getAttribute('aria-label') !== label) {
      field.setAttribute('aria-label', label);
    }
  });
  new MutationObserver(name).observe(document.body,
    {subtree: true, childList: true, characterData: true});
  name();
}
"""
