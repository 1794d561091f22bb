"""Balancing policies against real replicas: least outstanding, round robin, session and
media affinity (with failover), canary split."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

import httpx

from tests.gateway.conftest import Cluster


async def _send_all(
    url: str,
    bodies: list[dict[str, object]],
    concurrency: int,
    headers: Callable[[int], dict[str, str]] | None = None,
) -> list[str]:
    """POST every body (at most `concurrency` at once); the replica name of each answer."""
    names: list[str] = [""] * len(bodies)
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:

        async def one(i: int) -> None:
            async with sem:
                h = headers(i) if headers else None
                r = await client.post("/v1/chat/completions", json=bodies[i], headers=h)
                assert r.status_code == 200, r.text
                names[i] = r.json()["upstream"]

        await asyncio.gather(*(one(i) for i in range(len(bodies))))
    return names


def _video(n: int, question: int) -> dict[str, object]:
    return {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "video_url", "video_url": {"url": f"https://cdn.test/v{n}.mp4"}},
                    {"type": "text", "text": f"question {question}"},
                ],
            }
        ],
        "fps": 2,
    }


async def test_least_outstanding_avoids_the_slow_replica(cluster: Cluster) -> None:
    ups = [cluster.upstream(n) for n in "abc"]
    ups[0].control(latency_ms=300)
    for up in ups[1:]:
        up.control(latency_ms=20)
    gw = cluster.gateway(ups)
    names = await _send_all(gw.url, [{}] * 150, concurrency=12)
    counts = collections.Counter(names)
    assert counts["a"] < 0.15 * len(names), counts  # round robin would give it a third


async def test_round_robin_spreads_evenly(cluster: Cluster) -> None:
    ups = [cluster.upstream(n) for n in "abc"]
    gw = cluster.gateway(ups, policy="round_robin")
    counts = collections.Counter(await _send_all(gw.url, [{}] * 90, concurrency=1))
    assert all(25 <= counts[n] <= 35 for n in "abc"), counts


async def test_session_affinity_sticks_and_fails_over(cluster: Cluster) -> None:
    ups = {n: cluster.upstream(n) for n in "abc"}
    gw = cluster.gateway(list(ups.values()), policy="session")
    sessions = [f"s{i}" for i in range(12)]
    order = [s for s in sessions for _ in range(5)]
    names = await _send_all(
        gw.url, [{}] * len(order), 3, headers=lambda i: {"x-session-id": order[i]}
    )
    owner: dict[str, set[str]] = collections.defaultdict(set)
    for session, name in zip(order, names, strict=True):
        owner[session].add(name)
    assert all(len(v) == 1 for v in owner.values()), owner
    assert len({next(iter(v)) for v in owner.values()}) >= 2  # keys spread over replicas
    # Kill the owner of s0: its session moves to one other replica and stays there.
    victim = next(iter(owner["s0"]))
    ups[victim].stop()
    moved = await _send_all(gw.url, [{}] * 6, 1, headers=lambda i: {"x-session-id": "s0"})
    assert len(set(moved)) == 1 and moved[0] != victim, moved
    # Sessions owned by survivors did not move.
    for session, names_ in owner.items():
        name = next(iter(names_))
        if name != victim:
            again = await _send_all(
                gw.url, [{}], 1, headers=lambda i, s=session: {"x-session-id": s}
            )
            assert again == [name]


async def test_media_affinity_hits_the_replica_holding_the_video(cluster: Cluster) -> None:
    ups = [cluster.upstream(n) for n in "abc"]
    gw = cluster.gateway(ups, policy="media")
    bodies = [_video(v, q) for q in range(10) for v in range(6)]
    names = await _send_all(gw.url, bodies, concurrency=4)
    per_video: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for i, name in enumerate(names):
        per_video[i % 6][name] += 1
    hits = sum(c.most_common(1)[0][1] for c in per_video.values())
    assert hits / len(names) >= 0.9, per_video
    assert len({c.most_common(1)[0][0] for c in per_video.values()}) >= 2
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(gw.url + "/metrics")).text
    assert 'inkshadow_gateway_policy_decisions_total{outcome="hash",policy="media"}' in metrics


async def test_canary_gets_its_share(cluster: Cluster) -> None:
    main, canary = cluster.upstream("main"), cluster.upstream("canary")
    gw = cluster.gateway(
        [main],
        env={
            "INKSHADOW_GATEWAY_CANARY_UPSTREAMS": canary.url,
            "INKSHADOW_GATEWAY_CANARY_PERCENT": "25",
        },
    )
    counts = collections.Counter(await _send_all(gw.url, [{}] * 400, concurrency=8))
    assert 0.15 <= counts["canary"] / 400 <= 0.35, counts
