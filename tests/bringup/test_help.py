"""Every bring-up command has --help with examples, and the CLI imports only what it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.bringup.conftest import REPO

COMMANDS = [
    ("probe",),
    ("probe", "meter"),
    ("probe", "evse"),
    ("probe", "rfid"),
    ("test",),
    ("test", "relay"),
    ("test", "pilot"),
    ("check-config",),
]


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_help_has_examples(cli, words):
    with pytest.raises(SystemExit) as exit_info:
        cli(*words, "--help")
    assert exit_info.value.code == 0


@pytest.mark.parametrize(
    "words, expected",
    [
        (("probe", "meter"), "--scan"),
        (("probe", "evse"), "Probing offers 0 A"),
        (("probe", "rfid"), "--count"),
        (("test", "relay"), "de-energised when the command ends"),
        (("test", "pilot"), "then 0 A"),
        (("check-config",), "--hardware"),
    ],
)
def test_help_text(capsys, words, expected):
    from cpagent.cli import main

    with pytest.raises(SystemExit):
        main([*words, "--help"])
    out = capsys.readouterr().out
    assert expected in out and "examples:" in out


def test_probe_imports_no_daemon_or_protocol_code():
    code = (
        "import sys; from cpagent.cli import build_parser; build_parser('probe');"
        "print(sorted(m for m in sys.modules if m.startswith(('cpagent.daemon.loop', "
        "'cpagent.chargepoint', 'cpagent.core', 'cpagent.transports', 'pymodbus'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO)},
        check=True,
    ).stdout
    assert out.strip() == "[]"
