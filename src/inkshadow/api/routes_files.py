"""OpenAI-style files: `POST /v1/files` (multipart, streamed to disk under a byte cap),
`GET /v1/files/{id}`, `DELETE /v1/files/{id}`.

The body is parsed as it arrives (python-multipart's push parser), straight into a staged
file that hashes as it writes, so an upload costs one chunk of memory and one pass over its
bytes, and the cap answers 413 as soon as it is passed, not after the whole body arrived.
A file's id is `file-<sha256>`: uploading the same bytes twice gives the same file.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from inkshadow.api.state import AppState
from inkshadow.errors import InvalidRequest, MediaTooLarge, NotFound
from inkshadow.media.blobs import BlobStore, StagedFile
from inkshadow.media.library import file_id, parse_file_id
from inkshadow.settings import Settings

router = APIRouter()

_FIELD_CAP = 1024  # bytes of a non-file form field (purpose)
_PURPOSES = frozenset({"vision", "user_data", "assistants", "batch", "fine-tune"})


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ink
    return state


class _Upload:
    """Callbacks of the multipart parser: the `file` part goes to a staged file, small
    fields to memory; anything else is refused."""

    def __init__(self, store: BlobStore, cap: int) -> None:
        self._store = store
        self._cap = cap
        self.staged: StagedFile | None = None
        self.filename = "upload"
        self.fields: dict[str, bytearray] = {}
        self._header: list[bytes] = [b"", b""]
        self._disposition: dict[bytes, bytes] = {}
        self._target: bytearray | StagedFile | None = None
        self.complete = False  # the closing boundary arrived: a cut body is not a file

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add(0, d[s:e]),
            "on_header_value": lambda d, s, e: self._add(1, d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_end": self._end,
        }

    def _end(self) -> None:
        self.complete = True

    def _add(self, which: int, data: bytes) -> None:
        self._header[which] += data

    def _part_begin(self) -> None:
        self._disposition = {}
        self._target = None

    def _header_end(self) -> None:
        name, value = self._header
        self._header = [b"", b""]
        if name.strip().lower() == b"content-disposition":
            self._disposition = parse_options_header(value)[1]

    def _headers_done(self) -> None:
        name = self._disposition.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            if self.staged is not None:
                raise InvalidRequest("send one file per upload", param="file")
            raw = self._disposition.get(b"filename", b"upload")
            # Kept for display only: never used as a path.
            self.filename = raw.decode("utf-8", "replace").replace("\\", "/").split("/")[-1][:255]
            self.staged = self._store.stage(self._cap)
            self._target = self.staged
        elif name and len(self.fields) < 8:
            self._target = self.fields.setdefault(name, bytearray())
        else:
            self._target = None  # fields we do not use are skipped, as OpenAI clients vary

    def _data(self, data: bytes, start: int, end: int) -> None:
        target = self._target
        if isinstance(target, StagedFile):
            target.write(data[start:end])
        elif target is not None:
            if len(target) + end - start > _FIELD_CAP:
                raise InvalidRequest("a form field is too long")
            target += data[start:end]

    def field(self, name: str) -> str | None:
        value = self.fields.get(name)
        return None if value is None else value.decode("utf-8", "replace").strip()


def _file_object(sha256: str, size: int, meta: dict[str, Any] | None) -> dict[str, Any]:
    meta = meta or {}
    return {
        "id": file_id(sha256),
        "object": "file",
        "bytes": size,
        "created_at": int(meta.get("created_at", 0)),
        "filename": str(meta.get("filename", "upload")),
        "purpose": str(meta.get("purpose", "vision")),
        "status": "processed",
    }


async def _receive(request: Request, upload: _Upload, boundary: bytes) -> None:
    parser = MultipartParser(boundary, upload.callbacks())
    try:
        async for chunk in request.stream():
            # Small chunks, brief local writes: kept on the loop like the URL fetcher's.
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidRequest("the multipart body is malformed", param="file") from exc
    if not upload.complete:
        raise InvalidRequest("the multipart body ends before its closing boundary", param="file")


UPLOAD_ROUTE = "/v1/files"
UPLOAD_FRAMING_BYTES = 64 * 1024  # multipart boundaries and part headers around a file


def upload_body_cap(settings: Settings) -> int:
    """Bytes an upload request body may carry: the file cap plus the form's framing."""
    return settings.upload_max_bytes + UPLOAD_FRAMING_BYTES


@router.post(UPLOAD_ROUTE)
async def create_file(request: Request) -> dict[str, Any]:
    state = _state(request)
    store = state.library.store
    cap = state.settings.upload_max_bytes
    mime, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise InvalidRequest("upload a file as multipart/form-data with a 'file' field")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > upload_body_cap(state.settings):
        raise MediaTooLarge(f"the file is larger than the {cap} byte limit", param="file")
    upload = _Upload(store, cap)
    try:
        await _receive(request, upload, boundary)
        if upload.staged is None:
            raise InvalidRequest("the upload has no 'file' field", param="file")
        if upload.staged.size == 0:
            raise InvalidRequest("the uploaded file is empty", param="file")
        purpose = upload.field("purpose") or "vision"
        if purpose not in _PURPOSES:
            raise InvalidRequest(f"unknown purpose {purpose[:40]!r}", param="purpose")
        ref = await asyncio.to_thread(store.commit, upload.staged)
    except BaseException:
        if upload.staged is not None:
            upload.staged.discard()
        raise
    meta = await asyncio.to_thread(store.get_meta, ref.sha256)
    if meta is None:  # the first upload of these bytes names them
        meta = {"filename": upload.filename, "purpose": purpose, "created_at": int(time.time())}
        await asyncio.to_thread(store.put_meta, ref.sha256, meta)
    return _file_object(ref.sha256, ref.size, meta)


def _sha(value: str) -> str:
    sha256 = parse_file_id(value)
    if sha256 is None:
        raise NotFound(f"no file with id {value[:80]}", param="file_id", code="file_not_found")
    return sha256


@router.get("/v1/files/{file_id_}")
async def get_file(file_id_: str, request: Request) -> dict[str, Any]:
    store = _state(request).library.store
    sha256 = _sha(file_id_)
    ref = await asyncio.to_thread(store.stat, sha256)
    if ref is None:
        raise NotFound(f"no file with id {file_id_}", param="file_id", code="file_not_found")
    return _file_object(sha256, ref.size, await asyncio.to_thread(store.get_meta, sha256))


@router.delete("/v1/files/{file_id_}")
async def delete_file(file_id_: str, request: Request) -> dict[str, Any]:
    store = _state(request).library.store
    sha256 = _sha(file_id_)
    if not await asyncio.to_thread(store.delete, sha256):
        raise NotFound(f"no file with id {file_id_}", param="file_id", code="file_not_found")
    return {"id": file_id(sha256), "object": "file", "deleted": True}
