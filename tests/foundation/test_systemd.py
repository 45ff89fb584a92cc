"""The unit file: the keys the product promises, and `systemd-analyze verify` has nothing to say."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "cpagent.service"


def service_keys() -> dict[str, list[str]]:
    """[Service] key -> values (repeated keys such as DeviceAllow= keep every value)."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("Restart", "on-failure"),
        ("RestartPreventExitStatus", "78 65"),
        ("ExecStopPost", "/usr/local/bin/cpagent safe-off --config /etc/cpagent/cpagent.toml"),
        ("User", "cpagent"),
        ("SupplementaryGroups", "gpio dialout spi"),
        ("StateDirectory", "cpagent"),
        ("RuntimeDirectory", "cpagent"),
        ("ConfigurationDirectory", "cpagent"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "true"),
        ("PrivateTmp", "true"),
        ("DevicePolicy", "closed"),
        ("Environment", "LG_WD=%t/cpagent"),
        ("ExecStart", "/usr/local/bin/cpagent run --config /etc/cpagent/cpagent.toml"),
    ],
)
def test_unit_has_the_promised_settings(key: str, value: str) -> None:
    assert value in service_keys().get(key, []), (key, service_keys().get(key))


def test_watchdog_is_set_and_devices_are_gpio_and_serial_only() -> None:
    keys = service_keys()
    assert int(keys["WatchdogSec"][0]) > 0
    devices = {v.split()[0] for v in keys["DeviceAllow"]}
    assert "char-gpiochip" in devices
    assert {"char-ttyS", "char-ttyUSB", "char-ttyAMA"} <= devices
    assert all("gpio" in d or "tty" in d or d == "char-spidev" for d in devices)


def test_unit_parses_as_ini() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text())
    assert {"Unit", "Service", "Install"} <= set(parser.sections())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    # verify exits 0 even for misspelt keys (DESIGN field notes): the output is the verdict.
    # In a temp copy ExecStart points at this Python, since cpagent is not installed here.
    text = UNIT.read_text()
    for key in ("ExecStart", "ExecStopPost"):
        text = text.replace(f"{key}=/usr/local/bin/cpagent ", f"{key}={sys.executable} -m cpagent ")
    copy = tmp_path / "cpagent.service"
    copy.write_text(text)
    result = _verify(copy)
    assert result == "", result


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_the_verify_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "cpagent.service"
    broken.write_text(UNIT.read_text().replace("Type=notify", "Typ=notify"))
    assert "Unknown key 'Typ'" in _verify(broken)


def _verify(unit: Path) -> str:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    return (result.stdout + result.stderr).strip()


def security_score(unit: Path) -> float:
    """The overall exposure `systemd-analyze security --offline=yes` gives `unit` (0-10)."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_security_scores_at_most_2_5() -> None:
    assert security_score(UNIT) <= 2.5


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CapabilityBoundingSet", ""),
        ("SystemCallFilter", "@system-service"),
        ("SystemCallArchitectures", "native"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("UMask", "0077"),
        ("ProtectProc", "invisible"),
        ("MemoryDenyWriteExecute", "true"),
    ],
)
def test_unit_is_hardened(key: str, value: str) -> None:
    assert value in service_keys().get(key, []), (key, service_keys().get(key))


def test_the_daemon_keeps_what_it_needs_under_the_hardening() -> None:
    keys = service_keys()
    # /proc/sys/kernel/random/boot_id is read at start (transaction ids per OS boot).
    assert "ProcSubset" not in keys
    # the peer uid of control-socket clients must stay real (ctl permission check).
    assert keys.get("PrivateUsers", ["false"]) == ["false"]
    assert "AF_NETLINK" not in keys["RestrictAddressFamilies"][0]


def test_exit_statuses_that_need_a_person_are_not_restarted() -> None:
    from cpagent.daemon.runner import EX_CONFIG, EX_DATAERR, EX_OSERR

    prevented = {int(v) for v in service_keys()["RestartPreventExitStatus"][0].split()}
    assert {EX_CONFIG, EX_DATAERR} <= prevented  # bad config, refused state store
    assert EX_OSERR not in prevented  # another daemon on the state dir: retry later
