"""Choosing a replica: least outstanding, round robin, and consistent hashing with bounded
loads (CHWBL) for session and media affinity.

CHWBL: each replica owns many points on a hash ring; a key goes to the first replica
clockwise whose load is under `bound * (total load + 1) / replicas`, so a hot key spills to
its ring neighbour instead of overloading one replica, and a lost replica only moves the keys
it owned.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
import time
from collections.abc import Sequence

from inkshadow.gateway.upstream import Upstream

_POINTS_PER_REPLICA = 160
# Absolute slack over the CHWBL bound: at light load (a few requests in flight) the bare
# bound spills a key as soon as it has two requests at once, which throws away affinity
# (warm frames, prefix cache) for no balance gain. Engines batch; a few more are cheap.
_SLACK = 4


def hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class HashRing:
    def __init__(self, upstreams: Sequence[Upstream]) -> None:
        points: list[tuple[int, int]] = []
        for index, up in enumerate(upstreams):
            for replica in range(_POINTS_PER_REPLICA):
                points.append((hash64(f"{up.name}#{replica}".encode()), index))
        points.sort()
        self._hashes = [h for h, _ in points]
        self._owners = [i for _, i in points]
        self._upstreams = list(upstreams)

    def walk(self, key_hash: int) -> list[Upstream]:
        """Distinct replicas in ring order starting at the key's point."""
        if not self._hashes:
            return []
        start = bisect.bisect_left(self._hashes, key_hash) % len(self._hashes)
        seen: list[Upstream] = []
        count = len(self._upstreams)
        n = len(self._owners)
        for step in range(n):
            up = self._upstreams[self._owners[(start + step) % n]]
            if up not in seen:
                seen.append(up)
                if len(seen) == count:
                    break
        return seen


class Group:
    """One group of replicas (the primary group or the canary group) and its ring."""

    def __init__(self, upstreams: Sequence[Upstream]) -> None:
        self.upstreams = list(upstreams)
        self.ring = HashRing(self.upstreams)
        self._rr = 0

    def candidates(self, exclude: Sequence[Upstream]) -> list[Upstream]:
        now = time.monotonic()
        live = [u for u in self.upstreams if u.available(now) and u not in exclude]
        if live:
            return live
        # Panic mode (as Envoy): when none passes its checks, try the rest anyway rather
        # than refuse everything.
        return [u for u in self.upstreams if not u.removed and u not in exclude]

    def least_outstanding(self, exclude: Sequence[Upstream]) -> Upstream | None:
        live = self.candidates(exclude)
        if not live:
            return None
        # The least loaded, taking turns among ties instead of piling onto the first one.
        low = min(up.in_flight for up in live)
        ties = [up for up in live if up.in_flight == low]
        self._rr += 1
        return ties[self._rr % len(ties)]

    def round_robin(self, exclude: Sequence[Upstream]) -> Upstream | None:
        live = self.candidates(exclude)
        if not live:
            return None
        self._rr = (self._rr + 1) % len(live)
        return live[self._rr]

    def consistent(
        self, key_hash: int, bound: float, exclude: Sequence[Upstream]
    ) -> tuple[Upstream | None, bool]:
        """CHWBL choice. Returns (replica, True when it is the key's first choice)."""
        live = self.candidates(exclude)
        if not live:
            return None, False
        total = sum(u.in_flight for u in live)
        cap = math.ceil(bound * (total + 1) / len(live)) + _SLACK
        first = True
        for up in self.ring.walk(key_hash):
            if up in live:
                if up.in_flight < cap:
                    return up, first
                first = False
            elif not up.removed:
                first = False  # the owner is down: this is failover
        return min(live, key=lambda u: u.in_flight), False


class Balancer:
    def __init__(
        self,
        policy: str,
        bound: float,
        primary: Sequence[Upstream],
        canary: Sequence[Upstream] = (),
        canary_percent: float = 0.0,
    ) -> None:
        self.policy = policy
        self.bound = bound
        self.canary_percent = canary_percent
        self.set_upstreams(primary, canary)

    def set_upstreams(self, primary: Sequence[Upstream], canary: Sequence[Upstream]) -> None:
        self.primary = Group(primary)
        self.canary = Group(canary)

    def all_upstreams(self) -> list[Upstream]:
        return self.primary.upstreams + self.canary.upstreams

    def _group(self, key_hash: int | None) -> Group:
        if self.canary_percent <= 0 or not self.canary.upstreams:
            return self.primary
        # A keyed request always lands on the same side, so sessions do not flap.
        roll = (key_hash % 10000) / 100 if key_hash is not None else random.random() * 100
        return self.canary if roll < self.canary_percent else self.primary

    def pick(self, key: bytes | None, exclude: Sequence[Upstream]) -> tuple[Upstream | None, str]:
        """Choose a replica. Returns it and the decision's outcome label for metrics."""
        key_hash = hash64(key) if key is not None else None
        group = self._group(key_hash)
        if group is self.canary:
            choice = group.least_outstanding(exclude) if key_hash is None else None
            if key_hash is not None:
                choice, _ = group.consistent(key_hash, self.bound, exclude)
            if choice is not None:
                return choice, "canary"
            group = self.primary
        if self.policy == "round_robin":
            return group.round_robin(exclude), "round_robin"
        if key_hash is not None and self.policy in ("session", "media"):
            choice, first = group.consistent(key_hash, self.bound, exclude)
            return choice, ("hash" if first else "hash_spill")
        return group.least_outstanding(exclude), (
            "least_outstanding" if self.policy == "least_outstanding" else "no_key"
        )
