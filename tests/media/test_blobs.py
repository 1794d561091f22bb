"""The content-addressed blob store: local folder and S3 (moto's real HTTP server)."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inkshadow.errors import InvalidRequest, MediaTooLarge, NotFound
from inkshadow.media.blobs import BlobStore, LocalBlobStore, S3BlobStore, open_blob_store
from inkshadow.settings import Settings


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_default_store_is_local_under_data_dir(tmp_path: Path) -> None:
    store = open_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"
    folder = open_blob_store(Settings(data_dir=tmp_path, blob_store=str(tmp_path / "b")))
    assert isinstance(folder, LocalBlobStore) and folder.root == tmp_path / "b"


def check_store(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    sha = hashlib.sha256(data).hexdigest()
    src = write(tmp_path / "src.bin", data)
    ref = store.put_file(src)
    assert (ref.sha256, ref.size) == (sha, len(data))
    assert src.exists()  # copied, not moved
    assert store.exists(sha) and store.stat(sha) == ref
    assert store.local_path(sha).read_bytes() == data
    with store.open(sha) as f:
        assert f.read(5) == data[:5]
    # Same content again: same name, nothing new.
    again = write(store.staging_dir() / "again.bin", data)
    assert store.put_file(again, move=True) == ref
    assert not again.exists()
    store.put_meta(sha, {"filename": "a.mp4"})
    assert store.get_meta(sha) == {"filename": "a.mp4"}
    assert store.delete(sha)
    assert not store.exists(sha) and store.get_meta(sha) is None
    with pytest.raises(NotFound):
        store.local_path(sha)
    with pytest.raises(InvalidRequest):
        store.exists("../../etc/passwd")


def test_local_store(tmp_path: Path) -> None:
    check_store(LocalBlobStore(tmp_path / "blobs"), tmp_path)


def test_stage_cap_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(MediaTooLarge), store.stage(cap=10) as staged:
        staged.write(b"x" * 8)
        staged.write(b"x" * 8)
    assert list(store.staging_dir().iterdir()) == []
    with store.stage(cap=10) as staged:
        staged.write(b"0123456789")
        ref = store.commit(staged)
    assert ref.sha256 == hashlib.sha256(b"0123456789").hexdigest()


def test_put_file_memory_is_bounded(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    with src.open("wb") as f:
        for _ in range(48):
            f.write(os.urandom(1024 * 1024))
    store = LocalBlobStore(tmp_path / "blobs")
    tracemalloc.start()
    try:
        ref = store.put_file(src)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ref.size == 48 * 1024 * 1024
    assert peak < 4 * 1024 * 1024, peak  # chunks, never the whole file


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    from tests.conftest import free_port

    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"ink-{tmp_path.name.lower().replace('_', '-')}"[:60]
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    yield Settings(
        data_dir=tmp_path / "data", blob_store=f"s3://{bucket}/media", s3_endpoint_url=s3_endpoint
    )


def test_s3_store(s3_settings: Settings, tmp_path: Path) -> None:
    store = open_blob_store(s3_settings)
    assert isinstance(store, S3BlobStore)
    check_store(store, tmp_path)


def test_s3_downloads_and_verifies(s3_settings: Settings, tmp_path: Path) -> None:
    store = open_blob_store(s3_settings)
    assert isinstance(store, S3BlobStore)
    data = b"video bytes" * 1000
    ref = store.put_file(write(tmp_path / "v.bin", data))
    client: Any = store._s3
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert keys == [f"media/objects/{ref.sha256[:2]}/{ref.sha256}"]
    # A second replica has no local copy: it downloads, verifying the hash.
    other = open_blob_store(s3_settings.model_copy(update={"data_dir": tmp_path / "replica"}))
    assert other.local_path(ref.sha256).read_bytes() == data
    # A tampered object is refused, not used.
    client.put_object(Bucket=store.bucket, Key=keys[0], Body=b"evil")
    third = open_blob_store(s3_settings.model_copy(update={"data_dir": tmp_path / "third"}))
    with pytest.raises(InvalidRequest):
        third.local_path(ref.sha256)
    with pytest.raises(NotFound):
        third.local_path("0" * 64)
