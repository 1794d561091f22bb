"""Per-request control inside one batched `generate()` call.

Hugging Face `generate()` applies one sampling configuration to a whole batch. To give every
request its own temperature, top_p, seed, stop strings, token limit and grammar, generation
runs greedy and `BatchController` (a logits processor) picks each row's token itself: it
masks the row by its grammar, samples with the row's own generator, and leaves only the
chosen token standing. The same object, as a stopping criterion, ends each row on its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from inkshadow.engine.structured import RowGrammar
from inkshadow.engine.types import Chunk, FinishReason, SamplingParams, Usage

Emit = Callable[[Chunk | BaseException | None], None]


@dataclass
class Row:
    """One request's state while its batch generates."""

    params: SamplingParams
    emit: Emit  # thread-safe hand-off to the request's consumer; None marks the end
    decode: Callable[[list[int]], str]
    eos_ids: frozenset[int]
    prompt_tokens: int = 0
    grammar: RowGrammar | None = None
    batch_size: int = 1
    cancelled: bool = False
    tokens: list[int] = field(default_factory=list)
    sent: int = 0  # characters of the decoded text already emitted
    done: bool = False
    generator: torch.Generator = field(default_factory=torch.Generator)

    def __post_init__(self) -> None:
        seed = self.params.seed
        # Unseeded rows draw a fresh seed without touching torch's global generator.
        self.generator.manual_seed(seed if seed is not None else secrets.randbits(63))

    def pick(self, logits: torch.Tensor) -> int:
        """Choose this row's next token from its logits (1-D)."""
        logits = logits.float()
        if self.grammar is not None:
            self.grammar.constrain(logits)
        temperature = self.params.temperature
        if temperature <= 1e-5:
            return int(torch.argmax(logits).item())
        probs = torch.softmax(logits / temperature, dim=-1)
        top_p = self.params.top_p
        if top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            # Keep the smallest prefix whose mass reaches top_p (always at least one token).
            keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
            sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
            choice = torch.multinomial(sorted_probs, 1, generator=self.generator)
            return int(order[choice].item())
        return int(torch.multinomial(probs, 1, generator=self.generator).item())

    def accept(self, token: int) -> None:
        """Record a chosen token, stream what became printable, and decide whether to stop."""
        if token in self.eos_ids:
            self._finish("stop", self.decode(self.tokens))
            return
        self.tokens.append(token)
        if self.grammar is not None:
            self.grammar.advance(token)
        text = self.decode(self.tokens)
        stop_at = _first_stop(text, self.params.stop)
        if stop_at is not None:
            self._finish("stop", text[:stop_at])
            return
        if self.grammar is not None and self.grammar.finished:
            self._finish("stop", text)
            return
        if len(self.tokens) >= self.params.max_tokens:
            self._finish("length", text)
            return
        self._send(_safe_prefix(text, self.params.stop))

    def _send(self, text: str) -> None:
        if len(text) > self.sent:
            self.emit(Chunk(text[self.sent :], batch_size=self.batch_size))
            self.sent = len(text)

    def _finish(self, reason: FinishReason, text: str) -> None:
        if self.done:
            return
        self._send(text)
        self.done = True
        usage = Usage(self.prompt_tokens, len(self.tokens))
        self.emit(Chunk("", finish_reason=reason, usage=usage, batch_size=self.batch_size))
        self.emit(None)

    def fail(self, exc: BaseException) -> None:
        if not self.done:
            self.done = True
            self.emit(exc)

    def end_of_generation(self) -> None:
        """generate() returned: close rows it stopped without our say (e.g. its own limit)."""
        if not self.done:
            self._finish("length", self.decode(self.tokens))


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def _safe_prefix(text: str, stops: Sequence[str]) -> str:
    """The part of text that can be shown now: no half character, no possible stop prefix."""
    end = len(text)
    while end and text[end - 1] == "\ufffd":  # an incomplete UTF-8 sequence so far
        end -= 1
    for stop in stops:
        for k in range(min(len(stop) - 1, end), 0, -1):
            if text[:end].endswith(stop[:k]):
                end -= k
                break
    return text[:end]


class BatchController:
    """A logits processor and stopping criterion for one batch of rows."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        chosen = torch.full_like(scores, float("-inf"))
        for i, row in enumerate(self.rows):
            if row.done or row.cancelled:
                chosen[i, 0] = 0.0  # finished rows are padded by generate(); any token will do
                continue
            token = row.pick(scores[i])
            chosen[i, token] = 0.0
            row.accept(token)
        return chosen

    def stopping(self) -> _RowsDone:
        return _RowsDone(self.rows)


class _RowsDone:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def __call__(
        self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any
    ) -> torch.Tensor:
        return torch.tensor(
            [row.done or row.cancelled for row in self.rows], device=input_ids.device
        )
