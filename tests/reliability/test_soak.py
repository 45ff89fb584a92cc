"""Soak: charging sessions back to back; the daemon's memory, threads and fds stay flat."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.campaign import (
    Daemon,
    GatedCentralSystem,
    ProcSample,
    audit,
    boot,
    running_pair,
    table,
)

SHORT_S, LONG_S = 45.0, 1800.0
RSS_FLAT_KB = 2048  # issue 8: RSS flat within 2 MB after warm-up
FAST_KEYS = {"MeterValueSampleInterval": "1"}
REPORT = Path(os.environ.get("CAMPAIGN_REPORT", "/dev/null"))


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Daemon, GatedCentralSystem]]:
    with running_pair(tmp_path) as (daemon, central):
        yield daemon, central


def _quiet_sample(daemon: Daemon, reads: int = 5) -> ProcSample:
    """The low-water marks over a few reads: a control-socket client thread (ours, asking
    `status`) may still be winding down at any one read."""
    samples = [daemon.proc() for _ in range(reads)]
    return ProcSample(
        min(s.rss_kb for s in samples), min(s.threads for s in samples), min(s.fds for s in samples)
    )


def _session(daemon: Daemon, tag: str) -> None:
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag=tag)
    daemon.wait_connector(
        lambda c: c["relay"] is True and c["transaction"]["id"] is not None,
        what=f"{tag} charging, Start acknowledged",
    )
    daemon.wait_samples(2)
    daemon.do("tap", id_tag=tag)
    daemon.wait_connector(lambda c: c["transaction"] is None, what=f"{tag} stopped")
    daemon.do("unplug", connector=1)
    daemon.wait_settled()


@pytest.mark.timeout(LONG_S + 600)  # the suite's 300 s cap is for the short forms
def test_soak_sessions_back_to_back(
    pair: tuple[Daemon, GatedCentralSystem], long_form: bool
) -> None:
    daemon, central = pair
    duration = LONG_S if long_form else SHORT_S
    warm_up = min(duration / 3, 300.0)
    boot(daemon, central, **FAST_KEYS)
    began = time.monotonic()
    timeline: list[tuple[float, ProcSample]] = [(0.0, _quiet_sample(daemon))]
    tags: list[str] = []
    while (elapsed := time.monotonic() - began) < duration:
        tags.append(f"SOAK-{len(tags) % 50:02d}")  # the cache sees tags again and again
        _session(daemon, tags[-1])
        timeline.append((time.monotonic() - began, _quiet_sample(daemon)))

    warm = [s for t, s in timeline if t <= warm_up][-3:]  # the end of the warm-up
    steady = [s for t, s in timeline if t > warm_up]
    tail = steady[-max(3, len(steady) // 4) :]
    rss = [s.rss_kb for s in steady]
    rows: list[tuple[str, object]] = [
        ("duration, s", round(elapsed)),
        ("warm-up, s", round(warm_up)),
        ("sessions", len(tags)),
        ("samples after warm-up", len(steady)),
        ("RSS at start, MiB", round(timeline[0][1].rss_kb / 1024, 1)),
        ("RSS after warm-up, min..max MiB", f"{min(rss) / 1024:.1f}..{max(rss) / 1024:.1f}"),
        ("RSS spread after warm-up, KiB", max(rss) - min(rss)),
        (
            "threads end of warm-up -> end",
            f"{min(s.threads for s in warm)} -> {min(s.threads for s in tail)}",
        ),
        (
            "open fds end of warm-up -> end",
            f"{min(s.fds for s in warm)} -> {min(s.fds for s in tail)}",
        ),
    ]
    report = table(rows)
    print("\n" + report)
    with REPORT.open("a") as out:
        out.write(report + "\n")

    found = audit(central, set(tags))
    assert found.lost_starts == found.lost_stops == (), found
    assert found.sessions == len(tags) and found.meter_violations == ()
    assert found.time_violations == ()
    assert len(steady) >= 3, "enough sessions after the warm-up to judge"
    assert min(s.threads for s in tail) <= min(s.threads for s in warm), "threads grew"
    assert min(s.fds for s in tail) <= min(s.fds for s in warm), "file descriptors grew"
    if long_form:
        assert max(rss) - min(rss) <= RSS_FLAT_KB, f"RSS not flat after warm-up: {rows}"
