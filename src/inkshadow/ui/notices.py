"""Plain messages for the page: API errors by their `error.message`, never a traceback."""

from __future__ import annotations

import html
import logging

from inkshadow.client import ApiError, NotAvailable
from inkshadow.ui.texts import t

log = logging.getLogger(__name__)


class InputError(Exception):
    """The form is incomplete; the message says what to fill in."""


def explain(exc: BaseException, lang: str) -> str:
    """The message a person should read for `exc` (unexpected ones are logged, not shown)."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, NotAvailable):
        return t(lang, "err.not_available", route=exc.route)
    if isinstance(exc, ApiError):
        return t(lang, "err.api", message=exc.message)
    log.exception("unexpected error in a UI handler", exc_info=exc)
    return t(lang, "err.internal")


def alert(message: str) -> str:
    """An HTML alert box (announced by screen readers); empty message: nothing."""
    if not message:
        return ""
    return f'<div class="ink-msg ink-alert" role="alert">{html.escape(message)}</div>'


def note(message: str) -> str:
    if not message:
        return ""
    return f'<div class="ink-msg ink-note" role="status">{html.escape(message)}</div>'
