"""Fetch one media URL (http, https, data, file) into a file, refusing internal targets.

Each http(s) hop is checked, resolved once, and connected to the checked address through a
network backend that maps host names to pinned addresses, so no second DNS answer can
redirect the connection. TLS still verifies the certificate for the host name.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from inkshadow.errors import MediaFetchError, MediaTooLarge, UnsafeURL
from inkshadow.media.dataurl import decode_data_url, is_data_url
from inkshadow.media.netguard import AllowList, check_http_url, resolve_checked
from inkshadow.settings import Settings

# A transport factory gets the fetch's pins (host -> checked address) and must connect only
# to those; `pinned_transport` is the default and tests wrap it with an extra guard.
TransportFactory = Callable[[Mapping[str, str]], httpx.AsyncBaseTransport]

_REQUEST_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "inkshadow-media-fetch"}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchedMedia:
    path: Path  # file holding the bytes (the caller owns and deletes it)
    size: int
    content_type: str | None  # from the data: URL or the HTTP header


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects `host` to `pins[host]`; a host without a pin is refused, never resolved."""

    def __init__(
        self, pins: Mapping[str, str], inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._pins = pins
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = self._pins.get(host.lower())
        if address is None:
            raise httpcore.ConnectError("host was not checked before connecting")
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_transport(
    pins: Mapping[str, str],
    *,
    inner: httpcore.AsyncNetworkBackend | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go only to pinned addresses.

    TLS keeps the URL's host name for SNI and certificate checks: httpcore passes the
    origin host to `start_tls`, only the TCP connect sees the pinned address.
    """
    context = ssl_context or httpx.create_ssl_context(trust_env=False)
    transport = httpx.AsyncHTTPTransport(verify=context, trust_env=False)
    # httpx has no network-backend option, so the pool it built is swapped for one with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=4,
        network_backend=PinnedBackend(pins, inner),
    )
    return transport


class MediaFetcher:
    """Fetches media URLs into files under a caller-chosen folder."""

    def __init__(
        self, settings: Settings, *, transport_factory: TransportFactory | None = None
    ) -> None:
        self._settings = settings
        self._allow = AllowList.parse(settings.fetch_allow_hosts)
        self._transport_factory = transport_factory or self._default_transport
        self._ssl_context: ssl.SSLContext | None = None

    def _default_transport(self, pins: Mapping[str, str]) -> httpx.AsyncBaseTransport:
        if self._ssl_context is None:  # loading the CA bundle is slow: once per fetcher
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        return pinned_transport(pins, ssl_context=self._ssl_context)

    async def aclose(self) -> None:
        """Nothing is pooled between fetches (each has its own pins), so nothing to close."""

    def _cap(self, max_bytes: int | None) -> int:
        cap = self._settings.fetch_max_bytes
        if max_bytes is not None:
            if max_bytes < 1:
                raise ValueError("max_bytes must be positive")
            cap = min(cap, max_bytes)
        return cap

    async def fetch(
        self, url: str, dest_dir: Path, *, max_bytes: int | None = None
    ) -> FetchedMedia:
        cap = self._cap(max_bytes)
        if is_data_url(url):
            decoded = await asyncio.to_thread(decode_data_url, url, cap)
            path = await asyncio.to_thread(_write_new_file, dest_dir, decoded.data)
            return FetchedMedia(path, len(decoded.data), decoded.content_type)
        scheme = url.partition(":")[0].lower()
        if scheme == "file":
            return await asyncio.to_thread(self._copy_local, url, dest_dir, cap)
        if scheme in ("http", "https"):
            return await self._fetch_http(url, dest_dir, cap)
        raise UnsafeURL("media URL must be http, https or data")

    # --- http(s) ----------------------------------------------------------------------

    async def _fetch_http(self, url: str, dest_dir: Path, cap: int) -> FetchedMedia:
        timeout = self._settings.fetch_timeout_s
        pins: dict[str, str] = {}
        try:
            # The transport is used bare: httpx's client builds the next redirect request
            # itself (and fails on odd Locations) even when not following redirects.
            async with asyncio.timeout(timeout), self._transport_factory(pins) as transport:
                return await self._follow(transport, pins, url, dest_dir, cap)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise MediaFetchError(f"fetching the media URL took longer than {timeout:g} s") from exc
        except httpx.ConnectError as exc:
            raise MediaFetchError("could not connect to the media URL's host") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise MediaFetchError("the connection failed while downloading the media URL") from exc

    async def _follow(
        self,
        transport: httpx.AsyncBaseTransport,
        pins: dict[str, str],
        url: str,
        dest_dir: Path,
        cap: int,
    ) -> FetchedMedia:
        timeouts = {"timeout": httpx.Timeout(self._settings.fetch_timeout_s).as_dict()}
        current = url
        for _hop in range(self._settings.fetch_max_redirects + 1):
            target = check_http_url(current)
            pins[target.host] = await resolve_checked(target, self._allow)
            request = httpx.Request(
                "GET", target.url, headers=_REQUEST_HEADERS, extensions=timeouts
            )
            response = await transport.handle_async_request(request)
            response.request = request
            try:
                if response.is_redirect:
                    current = _redirect_target(target.url, response)
                    continue
                if response.status_code >= 400:
                    raise MediaFetchError(f"the media URL answered HTTP {response.status_code}")
                if not response.is_success:
                    raise MediaFetchError(
                        f"the media URL answered HTTP {response.status_code} without content"
                    )
                return await _save_stream(response, dest_dir, cap)
            finally:
                await response.aclose()
        raise MediaFetchError(
            f"the media URL redirected more than {self._settings.fetch_max_redirects} times"
        )

    # --- file:// ----------------------------------------------------------------------

    def _copy_local(self, url: str, dest_dir: Path, cap: int) -> FetchedMedia:
        root = self._settings.media_root
        if root is None:
            raise UnsafeURL("file URLs are not enabled on this server")
        source = _local_path(url, root)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(source, flags)
        except FileNotFoundError as exc:
            raise MediaFetchError("the file named by the file URL does not exist") from exc
        except OSError as exc:
            raise MediaFetchError("the file named by the file URL cannot be read") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UnsafeURL("file URL must name a regular file")
            if info.st_size > cap:
                raise _too_large(cap)
            src = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        with src:
            path, size = _copy_capped(src, dest_dir, cap)
        return FetchedMedia(path, size, None)


def _redirect_target(base: httpx.URL, response: httpx.Response) -> str:
    location = response.headers["Location"]
    if "\\" in location or any(ord(ch) < 0x20 for ch in location):
        raise UnsafeURL("the media URL redirected to a malformed address")
    try:
        return str(base.join(location))
    except httpx.InvalidURL as exc:
        raise UnsafeURL("the media URL redirected to a malformed address") from exc


def _local_path(url: str, root: Path) -> Path:
    """The resolved file a file:// URL names, which must lie inside `root`."""
    if "\\" in url:
        raise UnsafeURL("file URL must not contain backslashes")
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise UnsafeURL("file URL must not name a host")
    if parts.query or parts.fragment:
        raise UnsafeURL("file URL must not have a query or fragment")
    try:
        text = unquote(parts.path, errors="strict")
    except UnicodeDecodeError as exc:
        raise UnsafeURL("file URL path is not valid UTF-8") from exc
    if "\x00" in text or not text.startswith("/"):
        raise UnsafeURL("file URL must hold an absolute path")
    # resolve() collapses `..` and follows symlinks, so containment is judged on the target.
    try:
        resolved = Path(text).resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops, over-long names
        raise MediaFetchError("the file named by the file URL cannot be read") from exc
    if not resolved.is_relative_to(root.resolve()):
        raise UnsafeURL("file URL points outside the folder this server shares")
    return resolved


async def _save_stream(response: httpx.Response, dest_dir: Path, cap: int) -> FetchedMedia:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)
    fd, name = tempfile.mkstemp(prefix="fetch-", dir=dest_dir)
    path = Path(name)
    size = 0
    try:
        # Chunks are small and local disk writes brief, so they stay on the loop.
        with os.fdopen(fd, "wb") as out:
            async for chunk in response.aiter_bytes(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise _too_large(cap)
                out.write(chunk)
    except BaseException:
        _discard(path)
        raise
    return FetchedMedia(path, size, _media_type(response.headers.get("Content-Type")))


def _copy_capped(src: BinaryIO, dest_dir: Path, cap: int) -> tuple[Path, int]:
    fd, name = tempfile.mkstemp(prefix="fetch-", dir=dest_dir)
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > cap:  # the file grew after fstat
                    raise _too_large(cap)
                out.write(chunk)
    except BaseException:
        _discard(path)
        raise
    return path, size


def _write_new_file(dest_dir: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix="fetch-", dir=dest_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        _discard(Path(name))
        raise
    return Path(name)


def _discard(path: Path) -> None:
    """Remove a partial file so a failed fetch leaves nothing behind."""
    path.unlink(missing_ok=True)


def _media_type(header: str | None) -> str | None:
    if header is None:
        return None
    value = header.split(";", 1)[0].strip().lower()
    return value or None


def _too_large(cap: int) -> MediaTooLarge:
    return MediaTooLarge(f"media is larger than the {cap} byte limit")
