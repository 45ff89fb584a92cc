"""Every way the daemon process can end leaves the contactor open; one daemon per state dir.

The relay is observed on hw.mock_board: the mock GPIO line keeps its level in the state dir
after the process that drove it is gone, as a released Raspberry Pi line may, so a test can
see what a killed daemon left behind and what `cpagent safe-off` then did.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.mock_board import BOARD_FILE, read_board
from tests.reliability.campaign import Daemon, GatedCentralSystem, boot, running_pair
from tests.support.daemon import REPO
from tests.support.net import wait_until

RELAY = "GPIO17"  # connector 1's relay_pin in the campaign config (active-high)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Daemon, GatedCentralSystem]]:
    with running_pair(tmp_path) as (daemon, central):
        yield daemon, central


def board(daemon: Daemon) -> dict[str, bool]:
    return read_board(daemon.workdir / "state" / BOARD_FILE)


def charging(daemon: Daemon, central: GatedCentralSystem, tag: str = "TAG-1") -> int:
    """Boot, plug, tap: a transaction acknowledged, relay closed; its transactionId."""
    boot(daemon, central, MeterValueSampleInterval="1")
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag=tag)
    conn = daemon.wait_connector(
        lambda c: c["relay"] is True and c["transaction"]["id"],
        what="charging, StartTransaction acknowledged",
    )
    assert board(daemon)[RELAY] is True, "the mock line shows the closed relay"
    tx_id: int = conn["transaction"]["id"]
    return tx_id


def cli(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpagent", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("signum", "code"),
    [
        (signal.SIGTERM, 0),
        (signal.SIGINT, 0),
        (signal.SIGHUP, 75),  # stop, and systemd restarts it with the edited config
        (signal.SIGQUIT, 128 + signal.SIGQUIT),
        (signal.SIGUSR1, 128 + signal.SIGUSR1),
        (signal.SIGUSR2, 128 + signal.SIGUSR2),
        (signal.SIGALRM, 128 + signal.SIGALRM),
        (signal.SIGRTMIN + 3, 128 + signal.SIGRTMIN + 3),
    ],
)
def test_every_terminating_signal_stops_gracefully_with_the_contactor_open(
    pair: tuple[Daemon, GatedCentralSystem], signum: int, code: int
) -> None:
    daemon, central = pair
    tx_id = charging(daemon, central)
    daemon.process.send_signal(signum)  # type: ignore[union-attr]
    assert daemon.wait_exit() == code, daemon.log_tail()
    assert board(daemon)[RELAY] is False, "relay left energised"
    stop = central.wait_call("StopTransaction", lambda p: p["transactionId"] == tx_id)
    assert stop.payload["reason"] == "Reboot" and stop.answer is not None


def _blocked(status: str) -> int:
    return int(
        next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16
    )


def test_stop_signals_reach_the_main_thread_alone(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    """Every worker thread blocks the stop signals, so the kernel hands a kill, Ctrl-C or
    systemd's SIGTERM to the main thread, whose wait it interrupts at once. Taken by a
    worker, the signal's handler ran only when the main thread's wait timed out, seconds
    later (a demo's agent was killed for it)."""
    daemon, central = pair
    charging(daemon, central)  # owner, pollers, transport, control threads all running
    tasks = Path(f"/proc/{daemon.pid}/task")
    masks = {int(t.name): _blocked((t / "status").read_text()) for t in tasks.iterdir()}
    stop_bits = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    assert masks.pop(daemon.pid) & stop_bits == 0  # the main thread takes them
    assert len(masks) >= 4, masks
    assert all(mask & stop_bits == stop_bits for mask in masks.values()), masks


def test_sigpipe_and_sigxfsz_do_not_kill_the_daemon(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    daemon, central = pair
    charging(daemon, central)
    for signum in (signal.SIGPIPE, signal.SIGXFSZ):
        daemon.process.send_signal(signum)  # type: ignore[union-attr]
    daemon.wait_connector(lambda c: c["relay"] is True, what="still charging after signals")
    assert daemon.process.poll() is None  # type: ignore[union-attr]


def test_a_watchdog_abort_opens_the_relay_before_the_process_dies(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    daemon, central = pair
    charging(daemon, central)
    daemon.process.send_signal(signal.SIGABRT)  # type: ignore[union-attr]
    assert daemon.wait_exit() == -signal.SIGABRT  # died by the signal: systemd sees an abort
    assert board(daemon)[RELAY] is False
    assert "SIGABRT: owner loop presumed hung; opening every relay" in daemon.last_run_log()


def test_after_sigkill_the_line_stays_energised_until_safe_off_drives_it_off(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    daemon, central = pair
    charging(daemon, central)
    daemon.kill9()
    assert board(daemon)[RELAY] is True, "SIGKILL ran no code: the line kept its level"
    done = cli("safe-off", "--config", str(daemon.config_path))
    assert done.returncode == 0, done.stderr
    assert "connector1 relay (GPIO17, active-high): de-energised" in done.stdout
    assert board(daemon)[RELAY] is False


def test_safe_off_by_hand_stops_a_live_daemon_first_and_says_so(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    daemon, central = pair
    tx_id = charging(daemon, central)
    done = cli("safe-off", "--config", str(daemon.config_path))
    assert done.returncode == 0, done.stderr
    assert f"cpagent pid {daemon.pid} was running" in done.stdout, done.stdout
    assert daemon.wait_exit() == 0
    assert board(daemon)[RELAY] is False
    central.wait_call("StopTransaction", lambda p: p["transactionId"] == tx_id)


def test_safe_off_reports_a_missing_device_and_still_exits_0(tmp_path: Path) -> None:
    config = tmp_path / "cpagent.toml"
    text = (REPO / "config" / "bench.toml").read_text()
    config.write_text(
        text.replace('pin_factory = "mock"', 'pin_factory = "lgpio"').replace(
            '"../.bench/', f'"{tmp_path}/'
        )
    )
    done = cli("safe-off", "--config", str(config))
    assert done.returncode == 0
    assert "gpio:" in done.stderr and "not made safe: gpio" in done.stderr, done.stderr


def test_a_second_daemon_on_the_same_state_dir_is_refused_before_touching_it(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    daemon, central = pair
    tx_id = charging(daemon, central)
    db = daemon.workdir / "state" / "cpagent.db"
    before = db.read_bytes()
    second = cli("run", "--config", str(daemon.config_path), timeout=20)
    assert second.returncode == 71, second.stderr
    refused = [line for line in second.stderr.splitlines() if "cannot start" in line]
    assert len(refused) == 1 and f"cpagent pid {daemon.pid}" in refused[0], second.stderr
    assert "PowerLoss" not in second.stderr and db.read_bytes() == before
    # the first daemon's transaction is intact and its real Stop goes out, once
    conn = daemon.connector()
    assert conn["relay"] is True and conn["transaction"]["id"] == tx_id
    daemon.do("tap", id_tag="TAG-1")
    stop = central.wait_call("StopTransaction", lambda p: p["transactionId"] == tx_id)
    assert stop.payload["reason"] == "Local"
    daemon.wait_settled()
    stops = [c for c in central.calls("StopTransaction") if c.payload["transactionId"] == tx_id]
    assert len(stops) == 1, stops


def test_the_lock_of_a_killed_daemon_does_not_block_the_next_start(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    daemon, central = pair
    charging(daemon, central)
    daemon.kill9()
    first = daemon.start()["connectors"][0]
    assert first["relay"] is False
    wait_until(lambda: central.calls("StopTransaction"), 15, "the PowerLoss stop")
    assert central.calls("StopTransaction")[0].payload["reason"] == "PowerLoss"
