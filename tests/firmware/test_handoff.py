"""Firmware install under NoNewPrivileges: the daemon writes a request, a root unit installs.

A thread stands in for cpagent-firmware-install.path (it runs the `apply` step once the
request file exists, as PathExists= would); the units themselves are checked with
systemd-analyze."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.firmware.handoff import REQUEST, apply_request, request_install
from tests.support.net import wait_until

REPO = Path(__file__).resolve().parents[2]
UNITS = [
    REPO / "systemd" / n
    for n in ("cpagent-firmware-install.path", "cpagent-firmware-install.service")
]


def installer(tmp_path: Path, status: int) -> list[str]:
    """An installer that records what it was given and exits `status`."""
    script = tmp_path / "install.sh"
    script.write_text(
        f'#!/bin/sh\ncp "$1" "{tmp_path}/installed.bin"\necho "flashing $1" >&2\nexit {status}\n'
    )
    script.chmod(0o755)
    return [str(script)]


class PathUnit:
    """Runs apply_request once per request file, like the .path + .service pair."""

    def __init__(self, spool: Path, argv: list[str], work_dir: Path) -> None:
        self.outcomes: list[tuple[bool, str] | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(spool, argv, work_dir))
        self._thread.start()

    def _run(self, spool: Path, argv: list[str], work_dir: Path) -> None:
        while not self._stop.wait(0.02):  # PathExists= polling stand-in
            if (spool / REQUEST).exists():
                self.outcomes.append(
                    apply_request(argv, spool=spool, work_dir=work_dir, timeout_s=10)
                )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    download = tmp_path / "firmware"
    download.mkdir()
    path = download / "cp-1.2.bin"
    path.write_bytes(b"FIRMWARE-1.2")
    return path


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "firmware-install"


@pytest.fixture
def unit_ok(tmp_path: Path, spool: Path) -> Iterator[PathUnit]:
    unit = PathUnit(spool, installer(tmp_path, 0), tmp_path / "work")
    yield unit
    unit.stop()


def test_the_request_is_installed_and_the_daemon_reads_the_verdict(
    tmp_path: Path, image: Path, spool: Path, unit_ok: PathUnit
) -> None:
    ok, detail = request_install(image, spool=spool, timeout_s=10, poll_s=0.02)
    assert ok, detail
    assert "exit 0" in detail and "flashing" in detail
    assert (tmp_path / "installed.bin").read_bytes() == b"FIRMWARE-1.2"
    assert sorted(p.name for p in spool.iterdir()) == []  # request, image and result gone
    assert not image.exists()  # moved into the spool, then removed after the install


def test_a_failed_install_is_reported(tmp_path: Path, image: Path, spool: Path) -> None:
    unit = PathUnit(spool, installer(tmp_path, 3), tmp_path / "work")
    try:
        ok, detail = request_install(image, spool=spool, timeout_s=10, poll_s=0.02)
    finally:
        unit.stop()
    assert not ok and "exit 3" in detail


def test_no_install_unit_means_a_clear_timeout(image: Path, spool: Path) -> None:
    ok, detail = request_install(image, spool=spool, timeout_s=0.3, poll_s=0.02)
    assert not ok and "is cpagent-firmware-install.path enabled?" in detail
    assert not (spool / REQUEST).exists()  # withdrawn: a late unit finds nothing


@pytest.mark.parametrize(
    ("request_body", "why"),
    [
        ({"id": "0" * 32, "image": "../../etc/shadow"}, "image name"),
        ({"id": "0" * 32, "image": "image-" + "1" * 32}, "refused: image"),  # absent / symlink
        ({"id": "not-an-id", "image": "x"}, "malformed"),
    ],
)
def test_the_root_side_distrusts_the_request(
    tmp_path: Path, spool: Path, request_body: dict[str, str], why: str
) -> None:
    spool.mkdir()
    (spool / ("image-" + "1" * 32)).symlink_to("/etc/hostname")
    (spool / REQUEST).write_text(json.dumps(request_body))
    outcome = apply_request(installer(tmp_path, 0), spool=spool, work_dir=tmp_path / "w")
    assert outcome is not None and outcome[0] is False and why in outcome[1]
    assert not (tmp_path / "installed.bin").exists()
    assert not (spool / REQUEST).exists()  # taken: the path unit does not fire again


def test_nothing_pending_is_not_an_error(tmp_path: Path, spool: Path) -> None:
    spool.mkdir()
    assert apply_request(["true"], spool=spool, work_dir=tmp_path / "w") is None


def test_the_command_line_runs_both_sides(tmp_path: Path, image: Path, spool: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    request = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cpagent",
            "firmware-install",
            "request",
            str(image),
            "--spool",
            str(spool),
            "--timeout",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_until(lambda: (spool / REQUEST).exists(), 15, "the request file")
        apply = subprocess.run(
            [
                sys.executable,
                "-m",
                "cpagent",
                "firmware-install",
                "apply",
                "--spool",
                str(spool),
                "--work-dir",
                str(tmp_path / "w"),
                "--",
                *installer(tmp_path, 0),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert apply.returncode == 0 and apply.stdout.startswith("installed: "), apply.stderr
        out, err = request.communicate(timeout=20)
    finally:
        if request.poll() is None:
            request.kill()
    assert request.returncode == 0, err
    assert "exit 0" in out


def test_the_daemon_unit_keeps_no_new_privileges() -> None:
    unit = (REPO / "systemd" / "cpagent.service").read_text()
    assert "NoNewPrivileges=true" in unit
    config = (REPO / "config" / "cpagent.toml").read_text()
    assert '"firmware-install", "request", "{file}"' in config
    assert "sudo" not in config


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_the_install_units_verify_silently(tmp_path: Path) -> None:
    for unit in UNITS:  # ExecStart= must exist here: this Python, and /bin/true as installer
        text = unit.read_text().replace("/usr/local/bin/cpagent ", f"{sys.executable} -m cpagent ")
        (tmp_path / unit.name).write_text(
            text.replace("/usr/local/sbin/cpagent-install", "/bin/true")
        )
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (result.stdout + result.stderr).strip() == ""
    service = (tmp_path / "cpagent-firmware-install.service").read_text()
    assert "NoNewPrivileges=true" in service and "PrivateNetwork=true" in service
