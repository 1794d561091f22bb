"""Per-row control inside a batch: stop strings, token limits, streaming without half
characters or half stop strings, per-row seeds."""

from __future__ import annotations

import torch

from inkshadow.engine.rows import BatchController, Row, _safe_prefix
from inkshadow.engine.types import Chunk, SamplingParams

ALPHABET = "abcdefgh XY\ufffd"
EOS = 99


def decode(tokens: list[int]) -> str:
    return "".join(ALPHABET[t] for t in tokens)


def make_row(**params: object) -> tuple[Row, list[Chunk | BaseException | None]]:
    out: list[Chunk | BaseException | None] = []
    row = Row(
        params=SamplingParams(**params),  # type: ignore[arg-type]
        emit=out.append,
        decode=decode,
        eos_ids=frozenset({EOS}),
    )
    return row, out


def text_of(out: list[Chunk | BaseException | None]) -> str:
    return "".join(c.text for c in out if isinstance(c, Chunk))


def final(out: list[Chunk | BaseException | None]) -> Chunk:
    chunks = [c for c in out if isinstance(c, Chunk)]
    assert out[-1] is None
    return chunks[-1]


def test_stop_string_cuts_and_is_never_streamed() -> None:
    row, out = make_row(stop=("XY",), max_tokens=50)
    for token in [0, 1, 9]:  # "abX": X may begin the stop string, so it is held back
        row.accept(token)
    assert text_of(out) == "ab"
    row.accept(10)  # "abXY"
    assert row.done and text_of(out) == "ab"
    assert final(out).finish_reason == "stop"


def test_held_back_prefix_is_released_when_no_stop_follows() -> None:
    row, out = make_row(stop=("XY",), max_tokens=50)
    for token in [0, 9, 2]:
        row.accept(token)
    assert text_of(out) == "aXc"
    row.accept(EOS)
    assert final(out).finish_reason == "stop" and final(out).usage is not None


def test_max_tokens_gives_length() -> None:
    row, out = make_row(max_tokens=3)
    for token in [0, 1, 2]:
        row.accept(token)
    assert row.done and text_of(out) == "abc"
    done = final(out)
    assert done.finish_reason == "length" and done.usage is not None
    assert done.usage.completion_tokens == 3


def test_incomplete_characters_are_held_back() -> None:
    assert _safe_prefix("ab\ufffd", ()) == "ab"
    assert _safe_prefix("abX", ("XY",)) == "ab"
    assert _safe_prefix("abXZ", ("XY",)) == "abXZ"


def test_controller_picks_per_row_and_seeds_repeat() -> None:
    logits = torch.randn(1, len(ALPHABET))

    def sample(seed: int) -> list[int]:
        row, _ = make_row(temperature=1.0, seed=seed, max_tokens=100)
        greedy, _ = make_row(temperature=0.0, max_tokens=100)
        ctl = BatchController([row, greedy])
        picks = []
        for _ in range(20):
            scores = ctl(torch.zeros(2, 1, dtype=torch.long), logits.repeat(2, 1))
            # Exactly one token stands per row: the chosen one.
            assert int(torch.isfinite(scores).sum()) == 2
            picks.append(int(scores[0].argmax()))
            assert int(scores[1].argmax()) == int(logits[0].argmax())
        return picks

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)
