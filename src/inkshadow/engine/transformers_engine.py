"""The in-process engine: Hugging Face transformers, with requests batched together.

One engine thread owns the model. Requests that arrive while it is busy (or within
`batch_wait_ms` of the first) are rendered and generated together in one `generate()` call,
text, images and video mixed, with left padding; each row keeps its own sampling settings
(see rows.py). Tokens stream back to each request as they are chosen.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inkshadow.engine.inputs import Prepared, processor_kwargs, render
from inkshadow.engine.rows import BatchController, Row
from inkshadow.engine.structured import GrammarCompiler, check_schema
from inkshadow.engine.types import Chunk, EngineInfo, GenerationRequest
from inkshadow.errors import EngineError, InkshadowError, InvalidRequest, ServiceUnavailable
from inkshadow.families import family_from_model_type
from inkshadow.settings import Settings

log = logging.getLogger(__name__)

_STOP = object()  # tells the engine thread to exit


@dataclass
class _Job:
    request: GenerationRequest
    row: Row
    enqueued: float


class TransformersEngine:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._queue: queue.Queue[_Job | object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._crashed: BaseException | None = None
        self._info: EngineInfo | None = None
        self._model: Any = None
        self._processor: Any = None
        self._tokenizer: Any = None
        self._grammars: GrammarCompiler | None = None
        self._eos: frozenset[int] = frozenset()
        self._defaults: dict[str, float] = {}

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def info(self) -> EngineInfo:
        if self._info is None:
            raise ServiceUnavailable("the model is still loading")
        return self._info

    async def start(self) -> None:
        await asyncio.to_thread(self._load)
        self._thread = threading.Thread(target=self._run, name="inkshadow-engine", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join, 30)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._crashed is None

    def _load(self) -> None:
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForImageTextToText,
            AutoProcessor,
            AutoTokenizer,
        )

        from inkshadow.engine.tiny import is_tiny_model

        source = self._settings.model
        if not source:
            raise InvalidRequest("no model configured: pass --model or set INKSHADOW_MODEL")
        config = AutoConfig.from_pretrained(source)
        family = family_from_model_type(config.model_type)
        if family is None:
            raise InvalidRequest(
                f"model type {config.model_type!r} is not a supported Qwen family "
                "(qwen2.5, qwen2.5-vl, qwen3-vl)"
            )
        device = self._settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = {
            "bf16": torch.bfloat16,
            "fp16": torch.float16,
            "fp32": torch.float32,
            "auto": torch.bfloat16 if device == "cuda" else torch.float32,
        }[self._settings.dtype]
        model_cls = AutoModelForImageTextToText if family.is_vision else AutoModelForCausalLM
        model = model_cls.from_pretrained(source, dtype=dtype)
        model = model.to(device).eval()  # type: ignore[arg-type]
        if family.is_vision:
            processor = AutoProcessor.from_pretrained(source)  # type: ignore[no-untyped-call]
            tokenizer = processor.tokenizer
        else:
            tokenizer = AutoTokenizer.from_pretrained(source)
            processor = tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._eos = frozenset(_eos_ids(model, tokenizer))
        vocab = int(model.get_output_embeddings().weight.shape[0])
        self._grammars = GrammarCompiler(tokenizer, vocab, sorted(self._eos))
        gen = model.generation_config
        self._defaults = {
            "temperature": float(gen.temperature) if gen.do_sample and gen.temperature else 1.0,
            "top_p": float(gen.top_p) if gen.do_sample and gen.top_p else 1.0,
        }
        self._model, self._processor, self._tokenizer = model, processor, tokenizer
        tiny = Path(source).is_dir() and is_tiny_model(Path(source))
        self._info = EngineInfo(
            model=self._settings.model_name,
            family=family,
            engine="transformers",
            tiny=tiny,
            max_model_len=min(
                self._settings.max_model_len,
                int(getattr(_text_config(config), "max_position_embeddings", 32768)),
            ),
        )
        log.info(
            "model loaded",
            extra={"model": self._info.model, "family": family.value, "device": device},
        )

    # --- requests ----------------------------------------------------------------------

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        if not self.alive():
            raise ServiceUnavailable("the engine is not running")
        params = request.params
        if params.max_tokens >= self.info.max_model_len:
            raise InvalidRequest(
                f"max_tokens must be below the model's context of {self.info.max_model_len}",
                param="max_tokens",
            )
        grammar = None
        if params.response_format is not None:
            check_schema(params.response_format)
            assert self._grammars is not None
            grammar = await asyncio.to_thread(self._grammars.matcher, params.response_format)
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[Chunk | BaseException | None] = asyncio.Queue()

        def emit(item: Chunk | BaseException | None) -> None:
            loop.call_soon_threadsafe(items.put_nowait, item)

        row = Row(
            params=params,
            emit=emit,
            decode=self._decode,
            eos_ids=self._eos,
            grammar=grammar,
        )
        self._queue.put(_Job(request, row, time.monotonic()))
        try:
            while True:
                item = await items.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            row.cancelled = True  # a client that left frees its row at the next step

    def _decode(self, tokens: list[int]) -> str:
        return str(self._tokenizer.decode(tokens, skip_special_tokens=True))

    # --- engine thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                self._generate(batch)
        except BaseException as exc:  # the loop itself died: /health must say so
            self._crashed = exc
            log.exception("engine loop died")
            self._fail_pending(EngineError("the engine stopped unexpectedly"))

    def _next_batch(self) -> list[_Job] | None:
        first = self._queue.get()
        if first is _STOP:
            return None
        assert isinstance(first, _Job)
        batch = [first]
        deadline = time.monotonic() + self._settings.batch_wait_ms / 1000
        while len(batch) < self._settings.max_batch_size:
            timeout = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)
                break
            assert isinstance(item, _Job)
            batch.append(item)
        return [job for job in batch if not job.row.cancelled]

    def _fail_pending(self, exc: InkshadowError) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job):
                item.row.fail(exc)

    def _prepare(self, batch: list[_Job]) -> list[tuple[_Job, Prepared]]:
        info = self.info
        ready: list[tuple[_Job, Prepared]] = []
        for job in batch:
            try:
                ready.append((job, render(job.request.messages, info.family, self._processor)))
            except InkshadowError as exc:
                job.row.fail(exc)
            except Exception as exc:  # template errors come in many types
                log.warning("could not render a request: %s", exc)
                job.row.fail(InvalidRequest("the messages could not be rendered for this model"))
        return ready

    def _generate(self, batch: list[_Job]) -> None:
        import torch

        ready = self._prepare(batch)
        if not ready:
            return
        try:
            inputs = self._processor(**processor_kwargs([p for _, p in ready], self.info.family))
        except Exception as exc:  # third-party validation raises many types
            if len(ready) > 1:  # isolate the request the processor rejects
                for job, _ in ready:
                    self._generate([job])
                return
            log.warning("processor rejected a request: %s", exc)
            ready[0][0].row.fail(InvalidRequest("the media could not be prepared for the model"))
            return
        prompt_lens = inputs["attention_mask"].sum(dim=1).tolist()
        rows: list[Row] = []
        for (job, _), n in zip(ready, prompt_lens, strict=True):
            job.row.prompt_tokens = int(n)
            job.row.batch_size = len(ready)
            if n + job.row.params.max_tokens > self.info.max_model_len:
                job.row.fail(
                    InvalidRequest(
                        f"the prompt has {int(n)} tokens; with max_tokens "
                        f"{job.row.params.max_tokens} it exceeds the model's context of "
                        f"{self.info.max_model_len}",
                        param="messages",
                    )
                )
            rows.append(job.row)
        if all(row.done for row in rows):
            return
        controller = BatchController(rows)
        inputs = inputs.to(self._model.device)
        for key in ("pixel_values", "pixel_values_videos"):
            if key in inputs:
                inputs[key] = inputs[key].to(self._model.dtype)
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        config = GenerationConfig(  # type: ignore[no-untyped-call]
            max_new_tokens=max(r.params.max_tokens for r in rows if not r.done) + 1,
            do_sample=False,
            pad_token_id=self._tokenizer.pad_token_id,
            eos_token_id=sorted(self._eos),
        )
        try:
            with torch.inference_mode():
                self._model.generate(
                    **inputs,
                    generation_config=config,
                    logits_processor=LogitsProcessorList([controller]),
                    stopping_criteria=StoppingCriteriaList([controller.stopping()]),
                )
        except Exception as exc:  # a failed batch must not take the engine loop down
            log.exception("generation failed")
            err = EngineError(f"generation failed: {type(exc).__name__}")
            for row in rows:
                row.fail(err)
            return
        for row in rows:
            row.end_of_generation()


def _text_config(config: Any) -> Any:
    return getattr(config, "text_config", None) or config


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    configured = model.generation_config.eos_token_id
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    for token in ("<|im_end|>", "<|endoftext|>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids
