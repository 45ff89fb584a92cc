"""The command line: help everywhere, exit codes, and the real daemon under SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent import __version__
from cpagent.cli import main

from .test_notify import FakeManager

REPO = Path(__file__).resolve().parents[2]
HELP_COMMANDS = [
    [],
    ["run"],
    ["check-config"],
    ["status"],
    ["ctl"],
    *[["ctl", action] for action in ("plug", "unplug", "tap", "fault", "clear-fault", "ev-load")],
]


@pytest.mark.parametrize("words", HELP_COMMANDS, ids=lambda w: " ".join(w) or "cpagent")
def test_every_command_has_help(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*words, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: cpagent")
    if len(words) < 2:
        assert "examples:" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"cpagent {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["ctl"],
        ["ctl", "plug"],
        ["ctl", "plug", "zero"],
        ["ctl", "plug", "0"],
        ["--log-level", "LOUD", "status"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_check_config_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(REPO / "config" / "bench.toml")]) == 0
    assert "ws://127.0.0.1:9000/ocpp/BENCH-1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command", [["check-config", "{}"], ["run", "--config", "{}"], ["status", "--config", "{}"]]
)
def test_bad_config_exits_78_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[chargepoint]\nid = "x"\n[csms]\nurl = 5\n')
    assert main([part.format(bad) for part in command]) == 78
    err = capsys.readouterr().err.splitlines()
    assert f"{bad}: chargepoint.vendor: missing required key" in err
    assert f"{bad}: csms.url: must be a string, not an integer" in err
    assert f"{bad}: connector: missing required [[connector]] table (at least one)" in err
    assert err[-1] == f"cpagent: {bad}: 4 error(s)"


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--json"],
        ["ctl", "plug", "1"],
        ["ctl", "tap", "AB"],
        ["ctl", "plug", "1", "--socket", "{}"],
    ],
)
def test_no_daemon_is_one_line_and_exit_69(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    sock = tmp_path / "none.sock"
    argv = [part.format(sock) for part in command]
    if "--socket" not in argv:
        argv[1:1] = ["--socket", str(sock)]
    assert main(argv) == 69
    err = capsys.readouterr().err
    assert err == f"cpagent: cpagent is not running (no control socket at {sock})\n"


@pytest.fixture
def app(request: pytest.FixtureRequest) -> str:
    """Which application `cpagent run --app` runs."""
    name: str = request.param
    return name


@pytest.fixture
def daemon_process(
    bench_config: Path, tmp_path: Path, app: str
) -> Iterator[tuple[subprocess.Popen[str], FakeManager]]:
    """`python -m cpagent run` as systemd would start it: NOTIFY_SOCKET and a 0.2 s watchdog."""
    manager = FakeManager(str(tmp_path / "notify.sock"))
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "WATCHDOG_USEC": "400000",
        "JOURNAL_STREAM": "0:0",
        "PYTHONPATH": str(REPO),
    }
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpagent", "run", "--config", str(bench_config), "--app", app],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    yield proc, manager
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=20)
    manager.close()


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpagent", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )


STOP_LINES = {
    "chargepoint": "<6>cpagent.daemon.ocpp_app: chargepoint stopping: signal {}",
    "bench": "<6>cpagent.daemon.bench_app: bench application stopping: signal {}",
}


@pytest.mark.parametrize(
    ("app", "stop_signal"),
    [("chargepoint", signal.SIGTERM), ("bench", signal.SIGINT)],
    indirect=["app"],
    ids=["chargepoint-SIGTERM", "bench-SIGINT"],
)
def test_real_daemon_status_ctl_and_stop_signal(
    daemon_process: tuple[subprocess.Popen[str], FakeManager],
    bench_config: Path,
    app: str,
    stop_signal: signal.Signals,
) -> None:
    proc, manager = daemon_process
    before_ready = manager.receive_until("READY=1")
    assert before_ready[-1] == "READY=1\nSTATUS=running; connecting to CSMS"

    status = cli("status", "--json", "--config", str(bench_config))
    assert status.returncode == 0, status.stderr
    answer = json.loads(status.stdout)
    assert [c["relay"] for c in answer["connectors"]] == [False, False]
    assert answer["connection"] == "disconnected" and answer["chargepoint"] == "TEST-1"

    plug = cli("ctl", "--config", str(bench_config), "plug", "1")
    assert plug.returncode == 0 and json.loads(plug.stdout) == {"connector": 1, "plugged": True}
    human = cli("status", "--config", str(bench_config))
    assert "connector 1: " in human.stdout and "relay open" in human.stdout

    assert "WATCHDOG=1" in manager.receive_until("WATCHDOG=1")
    proc.send_signal(stop_signal)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert manager.receive_until("STOPPING=1")[-1].startswith("STOPPING=1")
    # journald format: priority prefixes, no timestamps, and the orderly stop logged
    assert STOP_LINES[app].format(stop_signal.name) in err.splitlines()
    assert "<6>cpagent.daemon.runner: cpagent stopped" in err.splitlines()
    gone = cli("status", "--config", str(bench_config))
    assert gone.returncode == 69 and gone.stderr.startswith("cpagent: cpagent is not running")


def test_status_for_people() -> None:
    from cpagent.commands.status import render

    text = render(
        {
            "chargepoint": "CP1",
            "connection": "connected",
            "subprotocol": "ocpp1.6",
            "registration": "Accepted",
            "queue_depth": 0,
            "queued_messages": 2,
            "last_error": "connector2: PowerMeterFailure: timeout",
            "connectors": [
                {
                    "id": 1,
                    "status": "Charging",
                    "relay": True,
                    "plugged": True,
                    "fault": None,
                    "meter": {"energy_wh": 1234.5, "power_w": 7360.0},
                    "transaction": {"id": 17, "id_tag": "AABBCCDDEE"},
                },
                {
                    "id": 2,
                    "status": "Faulted",
                    "relay": False,
                    "plugged": None,
                    "fault": "PowerMeterFailure",
                    "meter": None,
                    "transaction": None,
                },
            ],
        }
    )
    assert text.splitlines() == [  # an answer without the link facts (an older daemon)
        "chargepoint CP1",
        "CSMS: connected (ocpp1.6), registration accepted",
        "connector 1: Charging, relay closed (energised), plugged, 1.234 kWh, 7360 W, "
        "transaction 17 for AABBCCDDEE",
        "connector 2: Faulted, relay open, no plug input, no meter reading yet, "
        "fault PowerMeterFailure",
        "transaction messages waiting for the CSMS: 2",  # shown once: no inbox depth
        "last error: connector2: PowerMeterFailure: timeout",
    ]


def test_status_for_people_shows_the_pilot_and_the_current_offered() -> None:
    from cpagent.commands.status import render

    conn = {
        "id": 1,
        "status": "SuspendedEV",
        "relay": True,
        "plugged": True,
        "pilot": "B",
        "offered_current_a": 16.0,
        "meter": None,
        "transaction": None,
    }
    lines = render({"chargepoint": "CP1", "connectors": [conn]}).splitlines()
    (line,) = [line for line in lines if line.startswith("connector 1:")]
    assert line == (
        "connector 1: SuspendedEV, relay closed (energised), plugged, no meter reading yet, "
        "pilot B, offering 16 A"
    )


def test_a_missing_config_file_is_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = tmp_path / "absent.toml"
    assert main(["sessions", "--config", str(absent)]) == 78
    first = capsys.readouterr().err.splitlines()[0]
    assert first == f"{absent}: cannot read: No such file or directory"


def test_no_installed_config_but_a_checkout_names_the_bench_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if Path("/etc/cpagent/cpagent.toml").exists():
        pytest.skip("this machine has an installed config")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "bench.toml").write_text("# bench\n")
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path / "docs")
    assert main(["sessions"]) == 78
    assert capsys.readouterr().err.splitlines()[-1] == (
        "cpagent: /etc/cpagent/cpagent.toml: 1 error(s); "
        "on the bench: --config ../config/bench.toml"
    )
