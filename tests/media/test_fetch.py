"""MediaFetcher against real loopback servers: what is refused never reaches the canary."""

from __future__ import annotations

import base64
import ipaddress
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inkshadow.errors import MediaError, MediaFetchError, MediaTooLarge, UnsafeURL
from inkshadow.media.fetch import MediaFetcher, pinned_transport
from inkshadow.media.netguard import AllowList, check_http_url, is_public_ip
from inkshadow.settings import Settings

from .conftest import (
    PNG_BYTES,
    Canary,
    Content,
    LoopbackOnly,
    MakeFetcher,
    ServerState,
    is_empty,
    make_server,
    serving,
    wait_for,
)

REFUSED = [
    "http://127.1:{port}/",
    "http://2130706433:{port}/",
    "http://017700000001:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://0x7f000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://%31%32%37.0.0.1:{port}/",
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://LOCALHOST.:{port}/",
    "http://canary.localhost:{port}/",
    "http://0.0.0.0:{port}/",
    "http://[::1]:{port6}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://[::]:{port}/",
    "http://[fe80::1%25lo]:{port}/",
    "http://allowed\\@127.0.0.1:{port}/",
    "http://user@127.0.0.1:{port}/",
    "http://user:secret@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}\t/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "ftp://127.0.0.1:{port}/",
    "gopher://127.0.0.1:{port}/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "//127.0.0.1:{port}/",
]


def _fill(template: str, canary: Canary) -> str:
    return template.format(port=canary.port, port6=canary.port6 or canary.port)


@pytest.mark.parametrize("template", REFUSED)
async def test_refused_urls_never_reach_the_canary(
    template: str, canary: Canary, make_fetcher: MakeFetcher, dest: Path
) -> None:
    url = _fill(template, canary)
    with pytest.raises(UnsafeURL) as caught:
        await make_fetcher().fetch(url, dest)
    assert canary.hits == []
    assert is_empty(dest)
    message = caught.value.message
    # Nothing the user did not type: no resolved address, no exception repr.
    if "127.0.0.1" not in url:
        assert "127.0.0.1" not in message
    assert "Error" not in message and "<" not in message


async def test_loopback_refused_even_with_other_hosts_allowed(
    canary: Canary, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2", "example.org"])
    with pytest.raises(UnsafeURL):
        await fetcher.fetch(f"http://127.0.0.1:{canary.port}/", dest)
    assert canary.hits == []


async def test_allowed_host_fetch(content: Content, make_fetcher: MakeFetcher, dest: Path) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"])
    got = await fetcher.fetch(f"{content.base}/ok", dest)
    assert got.path.parent == dest
    assert got.path.read_bytes() == PNG_BYTES
    assert got.size == len(PNG_BYTES)
    assert got.content_type == "image/png"


async def test_allowed_by_cidr(content: Content, make_fetcher: MakeFetcher, dest: Path) -> None:
    fetcher = make_fetcher(fetch_allow_hosts="127.0.0.0/30")
    got = await fetcher.fetch(f"{content.base}/ok", dest)
    assert got.size == len(PNG_BYTES)


async def test_allowed_by_host_name(canary: Canary, make_fetcher: MakeFetcher, dest: Path) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["localhost"])
    got = await fetcher.fetch(f"http://localhost:{canary.port}/by-name", dest)
    assert got.path.read_bytes() == b"canary"
    assert canary.hits == ["/by-name"]


async def test_allowed_ipv6_literal(canary: Canary, make_fetcher: MakeFetcher, dest: Path) -> None:
    if canary.port6 is None:
        pytest.skip("no IPv6 loopback on this machine")
    fetcher = make_fetcher(fetch_allow_hosts=["::1"])
    got = await fetcher.fetch(f"http://[::1]:{canary.port6}/v6", dest)
    assert got.path.read_bytes() == b"canary"
    assert canary.hits == ["/v6"]


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://2130706433:{port}/",
        "http://[::1]:{port6}/",
        "http://user@127.0.0.2:{content}/ok",
        "http:\\\\127.0.0.1:{port}/",
        "file:///etc/passwd",
        "data:text/plain;base64,aGk=",
        "ftp://127.0.0.1:{port}/",
    ],
)
async def test_redirect_to_refused_target_is_checked(
    location: str, canary: Canary, content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    target = location.format(
        port=canary.port, port6=canary.port6 or canary.port, content=content.port
    )
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"])
    url = str(httpx.URL(f"{content.base}/redirect", params={"to": target}))
    with pytest.raises(UnsafeURL):
        await fetcher.fetch(url, dest)
    assert canary.hits == []
    assert len(content.state.hits) == 1
    assert is_empty(dest)


async def test_redirects_followed_within_cap(
    content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"], fetch_max_redirects=3)
    got = await fetcher.fetch(f"{content.base}/chain/2", dest)
    assert got.path.read_bytes() == PNG_BYTES
    assert content.state.hits == ["/chain/2", "/chain/1", "/chain/0", "/ok"]


async def test_redirect_cap(content: Content, make_fetcher: MakeFetcher, dest: Path) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"], fetch_max_redirects=2)
    with pytest.raises(MediaFetchError, match="redirected more than 2 times"):
        await fetcher.fetch(f"{content.base}/loop/0", dest)
    assert content.state.hits == ["/loop/0", "/loop/1", "/loop/2"]


async def test_no_redirects_allowed(
    content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"], fetch_max_redirects=0)
    with pytest.raises(MediaFetchError):
        await fetcher.fetch(f"{content.base}/chain/0", dest)
    assert content.state.hits == ["/chain/0"]


async def test_deadline_on_slow_server(
    content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"], fetch_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(MediaFetchError, match=r"longer than 0\.5 s"):
        await fetcher.fetch(f"{content.base}/slow", dest)
    assert time.monotonic() - started < 2.5
    assert is_empty(dest)


async def test_deadline_covers_the_whole_redirect_chain(
    content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    # Five hops of 0.3 s each: every hop beats 1 s, the chain does not.
    fetcher = make_fetcher(
        fetch_allow_hosts=["127.0.0.2"], fetch_timeout_s=1.0, fetch_max_redirects=10
    )
    started = time.monotonic()
    with pytest.raises(MediaFetchError, match="longer than"):
        await fetcher.fetch(f"{content.base}/drip/5", dest)
    assert time.monotonic() - started < 2.5
    assert len(content.state.hits) < 6


async def test_byte_cap_stops_endless_stream(
    content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(
        fetch_allow_hosts=["127.0.0.2"], fetch_max_bytes=256 * 1024, fetch_timeout_s=10.0
    )
    started = time.monotonic()
    with pytest.raises(MediaTooLarge, match="262144 byte"):
        await fetcher.fetch(f"{content.base}/forever", dest)
    assert time.monotonic() - started < 3
    assert is_empty(dest)
    # The server notices the hang-up: the fetch closed the connection instead of draining.
    assert wait_for(content.state.forever_done, 5)
    assert content.state.forever_sent < 32 * 1024 * 1024


async def test_declared_length_over_cap_refused_before_reading(
    content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"], fetch_max_bytes=1000)
    started = time.monotonic()
    with pytest.raises(MediaTooLarge):
        await fetcher.fetch(f"{content.base}/declared", dest)
    assert time.monotonic() - started < 2
    assert is_empty(dest)


async def test_max_bytes_lowers_but_never_raises_the_cap(
    content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    roomy = make_fetcher(fetch_allow_hosts=["127.0.0.2"])
    with pytest.raises(MediaTooLarge):
        await roomy.fetch(f"{content.base}/ok", dest, max_bytes=10)
    tight = make_fetcher(fetch_allow_hosts=["127.0.0.2"], fetch_max_bytes=10)
    with pytest.raises(MediaTooLarge):
        await tight.fetch(f"{content.base}/ok", dest, max_bytes=10**6)


@pytest.mark.parametrize("status", [404, 500])
async def test_http_error_status(
    status: int, content: Content, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"])
    with pytest.raises(MediaFetchError, match=f"HTTP {status}"):
        await fetcher.fetch(f"{content.base}/status/{status}", dest)
    assert is_empty(dest)


async def test_connection_refused(make_fetcher: MakeFetcher, dest: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
    fetcher = make_fetcher(fetch_allow_hosts=["127.0.0.2"])
    with pytest.raises(MediaFetchError) as caught:
        await fetcher.fetch(f"http://127.0.0.2:{port}/", dest)
    assert "could not connect" in caught.value.message
    assert "Errno" not in caught.value.message


async def test_data_url_through_fetcher(make_fetcher: MakeFetcher, dest: Path) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()
    got = await make_fetcher().fetch(url, dest)
    assert got.path.read_bytes() == PNG_BYTES
    assert got.content_type == "image/png"
    with pytest.raises(MediaTooLarge):
        await make_fetcher().fetch(url, dest, max_bytes=10)


async def test_pinned_transport_connects_to_the_pin_without_resolving(
    content: Content, guard: LoopbackOnly
) -> None:
    # `.invalid` never resolves; reaching the server proves the pin, not DNS, was used.
    pins = {"media.invalid": "127.0.0.2"}
    async with httpx.AsyncClient(transport=pinned_transport(pins, inner=guard)) as client:
        response = await client.get(f"http://media.invalid:{content.port}/ok")
        assert response.content == PNG_BYTES
        assert content.state.hits == ["/ok"]
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://other.invalid:{content.port}/ok")
    assert content.state.hits == ["/ok"]
    assert guard.refused == []


# --- file:// ----------------------------------------------------------------------------


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a b.png").write_bytes(PNG_BYTES)
    (tmp_path / "secret.txt").write_text("outside")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    (root / "inside-link").symlink_to(root / "sub" / "a b.png")
    return root


async def test_file_url_refused_without_media_root(
    media_root: Path, make_fetcher: MakeFetcher, dest: Path
) -> None:
    with pytest.raises(UnsafeURL, match="not enabled"):
        await make_fetcher().fetch(f"file://{media_root}/sub/a%20b.png", dest)


async def test_file_url_inside_root(
    media_root: Path, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(media_root=media_root)
    for url in (
        f"file://{media_root}/sub/a%20b.png",
        f"file://localhost{media_root}/sub/a%20b.png",
        f"file://{media_root}/inside-link",
        f"file://{media_root}/sub/../sub/a%20b.png",
    ):
        got = await fetcher.fetch(url, dest)
        assert got.path.parent == dest
        assert got.path.read_bytes() == PNG_BYTES
        assert got.size == len(PNG_BYTES)
        got.path.unlink()
    assert (media_root / "sub" / "a b.png").exists()  # the original is never handed out


@pytest.mark.parametrize(
    "suffix",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/sub/%2E%2E/%2e%2e/secret.txt",
        "/escape",
        "/..%2fsecret.txt",
        "/sub\\..\\..\\secret.txt",
    ],
)
async def test_file_url_escape_refused(
    suffix: str, media_root: Path, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(media_root=media_root)
    with pytest.raises(UnsafeURL) as caught:
        await fetcher.fetch(f"file://{media_root}{suffix}", dest)
    assert str(media_root.parent) not in caught.value.message
    assert is_empty(dest)


async def test_file_url_other_failures(
    media_root: Path, make_fetcher: MakeFetcher, dest: Path
) -> None:
    fetcher = make_fetcher(media_root=media_root, fetch_max_bytes=10)
    with pytest.raises(UnsafeURL):
        await fetcher.fetch(f"file://elsewhere{media_root}/sub/a%20b.png", dest)
    with pytest.raises(UnsafeURL, match="regular file"):
        await fetcher.fetch(f"file://{media_root}/sub", dest)
    (media_root / "loop").symlink_to(media_root / "loop")
    with pytest.raises(MediaFetchError):
        await fetcher.fetch(f"file://{media_root}/loop", dest)
    os.mkfifo(media_root / "pipe")
    with pytest.raises(UnsafeURL, match="regular file"):
        await fetcher.fetch(f"file://{media_root}/pipe", dest)
    with pytest.raises(MediaFetchError, match="does not exist") as caught:
        await fetcher.fetch(f"file://{media_root}/nope.png", dest)
    assert str(media_root) not in caught.value.message
    with pytest.raises(MediaTooLarge):
        await fetcher.fetch(f"file://{media_root}/sub/a%20b.png", dest)
    assert is_empty(dest)


# --- address policy and URL form, no traffic --------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("2002:808:808::", True),  # 6to4 of a public address
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("100.100.100.200", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("224.0.0.251", False),
        ("239.255.255.250", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::808:808", False),  # NAT64 is reserved: refused wholesale
        ("2002:7f00:1::", False),
        ("2002:a9fe:a9fe::", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo to 127.0.0.1
    ],
)
def test_is_public_ip(address: str, public: bool) -> None:
    assert is_public_ip(ipaddress.ip_address(address)) is public


def test_check_http_url_forms() -> None:
    target = check_http_url("HTTPS://Bücher.Example/a?b=c")
    assert target.host == "xn--bcher-kva.example"
    assert target.port == 443
    assert check_http_url("http://[2606:4700::1111]:8080/").host == "2606:4700::1111"
    for bad in (
        "http://exa mple.com/",
        "http://ex\u200dample.com/",  # ZWJ has no place in an IDNA label
        "http:///path",
        "http://a..b/",
        "http://-a.com/",
    ):
        with pytest.raises(UnsafeURL):
            check_http_url(bad)


def test_allow_list_parsing() -> None:
    allow = AllowList.parse(["Media.Internal.", "10.0.0.0/8", "[::1]", "192.168.1.5", " "])
    assert allow.allows_name("media.internal")
    assert allow.allows_ip(ipaddress.ip_address("10.2.3.4"))
    assert allow.allows_ip(ipaddress.ip_address("::ffff:10.2.3.4"))
    assert allow.allows_ip(ipaddress.ip_address("::1"))
    assert allow.allows_ip(ipaddress.ip_address("192.168.1.5"))
    assert not allow.allows_ip(ipaddress.ip_address("192.168.1.6"))


def test_media_error_tree() -> None:
    # The fetch errors are client errors the API can map by type.
    assert issubclass(UnsafeURL, MediaError) and issubclass(MediaFetchError, MediaError)


# --- TLS keeps the host name while connecting to the pinned address ---------------------


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, ServerState]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = _self_signed(tmp_path, "localhost")
    state = ServerState()
    server = make_server("127.0.0.1", state)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving([server]):
        yield server.server_address[1], cert, state


@pytest.mark.parametrize("trusted_name", ["localhost", "other.test"])
async def test_tls_checks_the_host_name_not_the_pinned_address(
    trusted_name: str,
    tls_server: tuple[int, Path, ServerState],
    guard: LoopbackOnly,
    tmp_path: Path,
    dest: Path,
) -> None:
    port, cert, state = tls_server
    # Trust the server's own certificate (for "localhost"), or another one.
    trusted = cert if trusted_name == "localhost" else _self_signed(tmp_path, trusted_name)[0]
    context = ssl.create_default_context(cafile=str(trusted))
    fetcher = MediaFetcher(
        Settings(fetch_allow_hosts=["localhost"], fetch_timeout_s=5.0),
        transport_factory=lambda pins: pinned_transport(pins, inner=guard, ssl_context=context),
    )
    url = f"https://localhost:{port}/ok"
    if trusted_name == "localhost":
        # The certificate names only "localhost": verifying against 127.0.0.1 would fail.
        got = await fetcher.fetch(url, dest)
        assert got.path.read_bytes() == PNG_BYTES
        assert state.hits == ["/ok"]
    else:
        with pytest.raises(MediaFetchError):
            await fetcher.fetch(url, dest)
        assert state.hits == []
