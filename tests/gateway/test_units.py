"""Pure units: affinity keys, hashing with bounded loads, admission, keys, limits."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from pathlib import Path

import pytest

from inkshadow.auth import KeyVerifier, hash_key
from inkshadow.errors import AuthenticationError, InvalidRequest, RateLimited
from inkshadow.gateway.admission import Admission
from inkshadow.gateway.affinity import media_key, session_key
from inkshadow.gateway.balancer import Balancer
from inkshadow.gateway.limits import MemoryLimiter, RedisLimiter
from inkshadow.gateway.metrics import GatewayMetrics
from inkshadow.gateway.upstream import Upstream
from inkshadow.settings import Settings


def _video_request(url: str, fps: float = 2.0, question: str = "what happens?") -> bytes:
    return json.dumps(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "video_url", "video_url": {"url": url}, "fps": fps},
                        {"type": "text", "text": question},
                    ],
                }
            ],
        }
    ).encode()


def test_media_key_names_video_and_sampling_not_question() -> None:
    a = media_key(_video_request("https://x.test/v.mp4", question="who?"))
    b = media_key(_video_request("https://x.test/v.mp4", question="where?"))
    c = media_key(_video_request("https://x.test/v.mp4", fps=4.0))
    d = media_key(_video_request("https://x.test/other.mp4"))
    assert a is not None and a == b
    assert a != c and a != d
    assert media_key(b'{"messages":[{"role":"user","content":"hi"}]}') is None


def test_media_key_file_ids_and_data_urls_cheaply() -> None:
    assert media_key(b'{"file_id": "file-abc", "max_frames": 32}') == (
        b"f:file-abc\np:max_frames=32"
    )
    big = "data:video/mp4;base64," + "A" * 5_000_000
    key = media_key(_video_request(big))
    assert key is not None and len(key) < 5000  # a prefix and the length, not the bytes
    assert key != media_key(_video_request(big + "B"))


def test_session_key_sources() -> None:
    hdr = [(b"x-session-id", b"s1")]
    assert session_key(hdr, b"", b"x-session-id", b"sid") == b"h:s1"
    cookie = [(b"cookie", b"a=1; sid=abc")]
    assert session_key(cookie, b"", b"x-session-id", b"sid") == b"c:abc"
    assert session_key([], b'{"user": "u7"}', b"x-session-id", b"sid") == b"s:u7"
    assert session_key([], b"{}", b"x-session-id", b"sid") is None


def _ups(n: int) -> list[Upstream]:
    m = GatewayMetrics()
    return [Upstream(f"http://127.0.0.1:{9000 + i}", m.for_upstream) for i in range(n)]


def test_consistent_hash_is_sticky_and_bounded() -> None:
    ups = _ups(3)
    b = Balancer("session", 1.25, ups)
    first, outcome = b.pick(b"h:user-1", [])
    assert outcome == "hash"
    assert all(b.pick(b"h:user-1", [])[0] is first for _ in range(20))
    # Load the owner far past the bound: the key spills to a neighbour.
    assert first is not None
    first.in_flight = 60
    spilled, outcome = b.pick(b"h:user-1", [])
    assert spilled is not first and outcome == "hash_spill"
    # Removing one replica only moves the keys it owned.
    first.in_flight = 0
    keys = [b"k%d" % i for i in range(300)]
    before = {k: b.pick(k, [])[0] for k in keys}
    gone = ups[0]
    gone.ready = False
    after = {k: b.pick(k, [])[0] for k in keys}
    moved = [k for k in keys if before[k] is not after[k]]
    assert moved and all(before[k] is gone for k in moved)


def test_least_outstanding_and_canary_split() -> None:
    ups = _ups(3)
    ups[0].in_flight, ups[1].in_flight, ups[2].in_flight = 5, 1, 3
    b = Balancer("least_outstanding", 1.25, ups)
    assert b.pick(None, [])[0] is ups[1]
    assert b.pick(None, [ups[1]])[0] is ups[2]
    canary = _ups(4)[3:]
    b = Balancer("least_outstanding", 1.25, ups, canary, canary_percent=20)
    hits = sum(b.pick(b"key-%d" % i, [])[0] is canary[0] for i in range(5000))
    assert 800 < hits < 1200
    assert all(b.pick(b"sticky", [])[0] is b.pick(b"sticky", [])[0] for _ in range(10))
    # Ties take turns: with loads [0, 0, 1] the two idle replicas share the picks evenly.
    ups = _ups(3)
    ups[2].in_flight = 1
    b = Balancer("least_outstanding", 1.25, ups)
    picks = [b.pick(None, [])[0] for _ in range(600)]
    assert picks.count(ups[0]) == picks.count(ups[1]) == 300


async def test_admission_queue_then_429() -> None:
    adm = Admission(max_concurrent=1, queue_size=1, timeout=0.2)
    await adm.acquire()
    waiter = asyncio.ensure_future(adm.acquire())
    await asyncio.sleep(0)
    with pytest.raises(RateLimited) as full:
        await adm.acquire()  # queue is full: at once
    assert full.value.retry_after >= 1
    adm.release()  # hands the slot to the waiter
    await asyncio.wait_for(waiter, 1)
    assert adm.active == 1
    with pytest.raises(RateLimited):
        await adm.acquire()  # waits 0.2 s in the queue, then gives up
    adm.release()
    assert adm.active == 0


def test_key_verifier_plain_and_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# team keys\nsha256:{hash_key('file-key')}\n\n")
    v = KeyVerifier.from_settings(Settings(api_keys=["plain-key"], api_keys_file=keys_file))
    assert v.enabled
    kid = v.verify_authorization("Bearer plain-key")
    assert kid == "key-" + hashlib.sha256(b"plain-key").hexdigest()[:12]
    assert v.verify_authorization(b"bearer file-key") is not None
    for bad in (None, "", "Bearer wrong", "Basic plain-key", "plain-key"):
        with pytest.raises(AuthenticationError) as err:
            v.verify_authorization(bad)
        assert "plain-key" not in err.value.message
    assert KeyVerifier.from_settings(Settings()).verify_authorization(None) is None
    keys_file.write_text("not-a-digest-but-a-secret\n")
    with pytest.raises(InvalidRequest) as bad_file:
        KeyVerifier.from_settings(Settings(api_keys_file=keys_file))
    assert "secret" not in bad_file.value.message


async def test_memory_limiter_rpm_and_concurrency() -> None:
    lim = MemoryLimiter(rpm=3, concurrency=2)
    a = await lim.acquire("k")
    b = await lim.acquire("k")
    with pytest.raises(RateLimited, match="concurrent"):
        await lim.acquire("k")
    await lim.release("k", a)
    c = await lim.acquire("k")  # the third token
    await lim.release("k", b)
    await lim.release("k", c)
    await lim.acquire("other")  # budgets are per key
    with pytest.raises(RateLimited, match="rate limit") as err:
        await lim.acquire("k")
    assert 0 < err.value.retry_after <= 20


async def test_memory_limiter_forgets_idle_clients() -> None:
    lim = MemoryLimiter(rpm=100_000, concurrency=0)
    for n in range(5000):
        await lim.acquire(f"10.0.{n // 256}.{n % 256}")
    # Age every bucket past a minute: the next sweep drops them all but the newest.
    lim._buckets = {k: (t, last - 61.0) for k, (t, last) in lim._buckets.items()}
    for _ in range(lim.SWEEP_EVERY):
        await lim.acquire("fresh")
    assert set(lim._buckets) == {"fresh"}


def test_ejection_doubles_up_to_the_cap() -> None:
    up = _ups(1)[0]
    delays = []
    for _ in range(4):
        assert not up.failed(2, 1.0, 4.0)  # first failure of a pair: still in
        before = time.monotonic()
        assert up.failed(2, 1.0, 4.0)
        delays.append(round(up.ejected_until - before))
        assert not up.available(time.monotonic())
    assert delays == [1, 2, 4, 4]
    assert up.stats.ejections == 4
    up.succeeded(4.0)
    assert up.failures == 0


async def test_redis_limiter_leases_and_windows(redis_url: str) -> None:
    lim = RedisLimiter(redis_url, rpm=0, concurrency=2, lease_s=60)
    key = "unit-" + uuid.uuid4().hex
    try:
        a = await lim.acquire(key)
        await lim.acquire(key)
        with pytest.raises(RateLimited, match="concurrent"):
            await lim.acquire(key)
        await lim.release(key, a)
        await lim.acquire(key)
    finally:
        await lim.close()
    rpm = RedisLimiter(redis_url, rpm=2, concurrency=0, lease_s=60)
    try:
        if time.time() % 60 > 58:  # windows are clock minutes: start inside one
            await asyncio.sleep(60 - time.time() % 60 + 0.05)
        await rpm.acquire(key)
        await rpm.acquire(key)
        with pytest.raises(RateLimited, match="rate limit"):
            await rpm.acquire(key)
    finally:
        await rpm.close()
