"""Job ids list in submission order, even for a burst inside one millisecond."""

from __future__ import annotations

from inkshadow.jobs.queue import JobIds


def test_ids_increase_within_a_millisecond_and_across_a_clock_step_back() -> None:
    ids = JobIds()
    made = [ids(1000.0001) for _ in range(500)]
    made += [ids(999.0)]  # the clock stepped back
    made += [ids(1000.5)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(len(i) == 32 and i.startswith("job_") for i in made)
    # A new millisecond draws fresh randomness: ids are not guessable from the previous one.
    a, b = ids(2000.0), ids(2000.002)
    assert a[:16] != b[:16]
