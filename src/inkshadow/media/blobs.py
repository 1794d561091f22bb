"""Content-addressed blob store: uploaded and fetched media, named by their sha256.

Two backends, chosen by `settings.blob_store`: a local folder (default `data_dir/blobs`) and
an S3-compatible bucket (`s3://bucket/prefix`, boto3 imported lazily). Decoders need a file
on disk, so the S3 store keeps a local copy of what it reads or writes in
`data_dir/blob-cache`, verified against the hash when downloaded.

Bytes always arrive through a `StagedFile` (a temp file in the store's staging folder that
hashes and counts as it is written), so nothing is ever held whole in memory and committing
is a rename on the same filesystem.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

from inkshadow.errors import InvalidRequest, MediaTooLarge, NotFound
from inkshadow.settings import Settings

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BOTO_HINT = "the s3:// blob store needs boto3: pip install boto3"


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int


def check_sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise InvalidRequest("a blob is named by 64 lowercase hex digits (sha256)")
    return value


def _too_large(cap: int) -> MediaTooLarge:
    return MediaTooLarge(f"the file is larger than the {cap} byte limit")


class StagedFile:
    """A new file in a staging folder; sha256 and size are computed as bytes are written."""

    def __init__(
        self,
        folder: Path,
        cap: int | None = None,
        too_large: Callable[[int], Exception] = _too_large,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="stage-", dir=folder)
        self.path = Path(name)
        self._out: BinaryIO = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._cap = cap
        self._too_large = too_large
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._cap is not None and self.size > self._cap:
            raise self._too_large(self._cap)
        self._hash.update(chunk)
        self._out.write(chunk)

    def copy_from(self, src: BinaryIO) -> None:
        while chunk := src.read(CHUNK):
            self.write(chunk)

    def close(self) -> BlobRef:
        if not self._out.closed:
            self._out.close()
        return BlobRef(self._hash.hexdigest(), self.size)

    def discard(self) -> None:
        if not self._out.closed:
            self._out.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()


def hash_file(path: Path) -> BlobRef:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return BlobRef(digest.hexdigest(), size)


class BlobStore(Protocol):
    def staging_dir(self) -> Path:
        """A folder on the store's local filesystem: files made here commit by rename."""

    def stage(self, cap: int | None = None) -> StagedFile: ...

    def commit(self, staged: StagedFile) -> BlobRef:
        """Close the staged file and keep its bytes under their hash (idempotent)."""

    def put_file(self, path: Path, *, move: bool = False) -> BlobRef: ...

    def stat(self, sha256: str) -> BlobRef | None: ...

    def exists(self, sha256: str) -> bool: ...

    def local_path(self, sha256: str) -> Path:
        """A local file holding the blob; raises NotFound when there is none."""

    def open(self, sha256: str) -> BinaryIO: ...

    def delete(self, sha256: str) -> bool: ...

    def put_meta(self, sha256: str, meta: dict[str, Any]) -> None: ...

    def get_meta(self, sha256: str) -> dict[str, Any] | None: ...


def _missing() -> NotFound:
    return NotFound("no such file", code="file_not_found")


class LocalBlobStore:
    """Blobs as files: root/objects/ab/<sha256>, metadata in root/meta/<sha256>.json."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("objects", "meta", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / "objects" / sha256[:2] / sha256

    def staging_dir(self) -> Path:
        return self.root / "tmp"

    def stage(self, cap: int | None = None) -> StagedFile:
        return StagedFile(self.staging_dir(), cap)

    def commit(self, staged: StagedFile) -> BlobRef:
        ref = staged.close()
        self._adopt(staged.path, ref)
        return ref

    def _adopt(self, path: Path, ref: BlobRef) -> None:
        dest = self._path(ref.sha256)
        if dest.exists():
            path.unlink(missing_ok=True)  # same content already kept
            return
        dest.parent.mkdir(exist_ok=True)
        os.replace(path, dest)

    def put_file(self, path: Path, *, move: bool = False) -> BlobRef:
        same_fs = path.parent.stat().st_dev == self.staging_dir().stat().st_dev
        if move and same_fs:
            ref = hash_file(path)
            self._adopt(path, ref)
            return ref
        with self.stage() as staged, path.open("rb") as src:
            staged.copy_from(src)  # one pass: copy and hash together
            ref = self.commit(staged)
        if move:
            path.unlink(missing_ok=True)
        return ref

    def stat(self, sha256: str) -> BlobRef | None:
        try:
            return BlobRef(sha256, self._path(sha256).stat().st_size)
        except FileNotFoundError:
            return None

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def local_path(self, sha256: str) -> Path:
        path = self._path(sha256)
        if not path.is_file():
            raise _missing()
        return path

    def open(self, sha256: str) -> BinaryIO:
        return self.local_path(sha256).open("rb")

    def delete(self, sha256: str) -> bool:
        path = self._path(sha256)
        (self.root / "meta" / f"{sha256}.json").unlink(missing_ok=True)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def put_meta(self, sha256: str, meta: dict[str, Any]) -> None:
        check_sha256(sha256)
        with self.stage() as staged:
            staged.write(json.dumps(meta).encode())
            staged.close()
            os.replace(staged.path, self.root / "meta" / f"{sha256}.json")

    def get_meta(self, sha256: str) -> dict[str, Any] | None:
        check_sha256(sha256)
        try:
            data: dict[str, Any] = json.loads((self.root / "meta" / f"{sha256}.json").read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return data


class S3BlobStore:
    """Blobs in an S3-compatible bucket under `prefix/objects/`, with a local read-through
    copy (a LocalBlobStore) because decoders need files."""

    def __init__(self, bucket: str, prefix: str, local: LocalBlobStore, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.local = local
        self._s3 = client
        # Imported by name: boto3 ships no type information and is optional.
        self._client_error: type[Exception] = importlib.import_module(
            "botocore.exceptions"
        ).ClientError

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _object(self, sha256: str) -> str:
        return self._key("objects", sha256[:2], check_sha256(sha256))

    def staging_dir(self) -> Path:
        return self.local.staging_dir()

    def stage(self, cap: int | None = None) -> StagedFile:
        return self.local.stage(cap)

    def commit(self, staged: StagedFile) -> BlobRef:
        ref = self.local.commit(staged)
        self._upload(ref)
        return ref

    def put_file(self, path: Path, *, move: bool = False) -> BlobRef:
        ref = self.local.put_file(path, move=move)
        self._upload(ref)
        return ref

    def _upload(self, ref: BlobRef) -> None:
        if self._head(ref.sha256) is None:
            self._s3.upload_file(
                str(self.local.local_path(ref.sha256)), self.bucket, self._object(ref.sha256)
            )

    def _head(self, sha256: str) -> int | None:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._object(sha256))
        except self._client_error as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in (
                "404",
                "NoSuchKey",
                "NotFound",
            ):
                return None
            raise
        return int(head["ContentLength"])

    def stat(self, sha256: str) -> BlobRef | None:
        size = self._head(sha256)
        return None if size is None else BlobRef(sha256, size)

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def local_path(self, sha256: str) -> Path:
        if self.local.exists(sha256):
            return self.local.local_path(sha256)
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._object(sha256))["Body"]
        except self._client_error as exc:
            raise _missing() from exc
        with self.local.stage() as staged:
            for chunk in body.iter_chunks(CHUNK):
                staged.write(chunk)
            ref = staged.close()
            if ref.sha256 != sha256:  # a damaged or tampered object is never used
                raise InvalidRequest("the stored file does not match its hash")
            self.local.commit(staged)
        return self.local.local_path(sha256)

    def open(self, sha256: str) -> BinaryIO:
        return self.local_path(sha256).open("rb")

    def delete(self, sha256: str) -> bool:
        found = self.exists(sha256)
        self._s3.delete_object(Bucket=self.bucket, Key=self._object(sha256))
        self._s3.delete_object(Bucket=self.bucket, Key=self._key("meta", f"{sha256}.json"))
        self.local.delete(sha256)
        return found

    def put_meta(self, sha256: str, meta: dict[str, Any]) -> None:
        key = self._key("meta", f"{check_sha256(sha256)}.json")
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(meta).encode())

    def get_meta(self, sha256: str) -> dict[str, Any] | None:
        key = self._key("meta", f"{check_sha256(sha256)}.json")
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            data: dict[str, Any] = json.loads(body)
        except (self._client_error, ValueError):
            return None
        return data


def open_blob_store(settings: Settings) -> BlobStore:
    """The store named by `settings.blob_store`: empty, a folder, or s3://bucket/prefix."""
    spec = settings.blob_store.strip()
    if not spec:
        return LocalBlobStore(settings.data_dir / "blobs")
    if not spec.startswith("s3://"):
        return LocalBlobStore(Path(spec))
    bucket, _, prefix = spec[len("s3://") :].partition("/")
    if not bucket:
        raise InvalidRequest("blob_store must look like s3://bucket/prefix")
    try:
        boto3 = importlib.import_module("boto3")
    except ImportError as exc:
        raise InvalidRequest(_BOTO_HINT) from exc
    # Credentials and region come from boto3's own chain (env, profile, instance role).
    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    return S3BlobStore(bucket, prefix, LocalBlobStore(settings.data_dir / "blob-cache"), client)
