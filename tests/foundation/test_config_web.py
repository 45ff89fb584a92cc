"""`[web]`: the local page's config contract: off by default, loopback open, the network
only with a password, which is a secret like `csms.password`."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cpagent.cli import main
from cpagent.config import ConfigError, load_config
from cpagent.daemon.logs import SecretFilter
from tests.foundation.test_config import MINIMAL, write

REPO = Path(__file__).resolve().parents[2]
NETWORK_ERROR = (
    "web.listen: 0.0.0.0:8080 is reachable from the network: set [web] password (asked for "
    "by every page except /metrics), or listen on 127.0.0.1 to keep the page on this machine"
)


def problems(tmp_path: Path, web: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, MINIMAL + web))
    return [str(p) for p in info.value.problems]


def test_the_page_is_off_without_the_section(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).web is None


def test_an_empty_section_listens_on_loopback_8080(tmp_path: Path) -> None:
    web = load_config(write(tmp_path, MINIMAL + "[web]\n")).web
    assert web is not None and (web.listen, web.password) == ("127.0.0.1:8080", None)


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "[::1]:9000", "localhost:0"])
def test_loopback_needs_no_password(tmp_path: Path, listen: str) -> None:
    web = load_config(write(tmp_path, MINIMAL + f'[web]\nlisten = "{listen}"\n')).web
    assert web is not None and web.listen == listen


def test_the_network_without_a_password_is_an_error_by_key_path(tmp_path: Path) -> None:
    assert problems(tmp_path, '[web]\nlisten = "0.0.0.0:8080"\n') == [NETWORK_ERROR]


@pytest.mark.parametrize(
    ("listen", "error"),
    [
        ("[::]:8080", "web.listen: [::]:8080 is reachable from the network: set [web] password"),
        ("charger.local:80", "web.listen: charger.local:80 is reachable from the network"),
        ("8080", "web.listen: '8080': expected host:port, e.g. 127.0.0.1:8080"),
        ("::1:8080", "web.listen: '::1:8080': write an IPv6 address in brackets"),
        ("127.0.0.1:70000", "web.listen: '127.0.0.1:70000': port must be 0-65535"),
        (":8080", "web.listen: ':8080': give an address, e.g. 127.0.0.1:8080"),
    ],
)
def test_a_listen_value_that_cannot_work_is_named(tmp_path: Path, listen: str, error: str) -> None:
    found = problems(tmp_path, f'[web]\nlisten = "{listen}"\n')
    assert len(found) == 1 and found[0].startswith(error), found


def test_unknown_keys_and_types_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path, "[web]\nlisten = 8080\npasword = 'x'\n")
    assert "web.pasword: unknown key (did you mean password?)" in found
    assert "web.listen: must be a string, not an integer" in found


def test_the_network_with_a_password_loads_and_warns_it_travels_in_clear(tmp_path: Path) -> None:
    text = MINIMAL + '[web]\nlisten = "0.0.0.0:8080"\npassword = "page-Pa55word"\n'
    config = load_config(write(tmp_path, text))
    assert config.web is not None and config.web.password == "page-Pa55word"
    warnings = [str(w) for w in config.warnings if w.path == "web.password"]
    assert len(warnings) == 1 and "unencrypted" in warnings[0], warnings


def test_a_password_in_a_world_readable_file_warns(tmp_path: Path) -> None:
    text = MINIMAL + '[web]\npassword = "page-Pa55word"\n'
    config = load_config(write(tmp_path, text, 0o644))
    assert "warning: web.password: secret in a world-readable file (chmod o-r)" in [
        str(w) for w in config.warnings
    ]


def test_check_config_exits_78_for_the_network_without_a_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL + '[web]\nlisten = "0.0.0.0:8080"\n')
    assert main(["check-config", str(path)]) == 78
    assert f"{path}: {NETWORK_ERROR}" in capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("web", "said"),
    [
        ("", "over websocket\n"),
        ('[web]\nlisten = "[::1]:8080"\n', "over websocket, web page on [::1]:8080\n"),
        (
            '[web]\nlisten = "0.0.0.0:80"\npassword = "page-Pa55word"\n',
            "over websocket, web page on 0.0.0.0:80 (password)\n",
        ),
    ],
)
def test_check_config_says_where_the_page_listens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], web: str, said: str
) -> None:
    assert main(["check-config", str(write(tmp_path, MINIMAL + web))]) == 0
    out = capsys.readouterr().out
    assert out.endswith(said) and "page-Pa55word" not in out


def test_run_refuses_the_network_without_a_password_before_anything_starts(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, MINIMAL + '[web]\nlisten = "0.0.0.0:8080"\n')
    done = subprocess.run(
        [sys.executable, "-m", "cpagent", "run", "--config", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 78, done.stderr
    assert NETWORK_ERROR in done.stderr


def test_the_page_password_is_redacted_from_the_daemon_log(tmp_path: Path) -> None:
    """`cpagent run` hands [web] password to the log filter as it does csms.password."""
    from cpagent.commands.run import log_secrets

    text = MINIMAL.replace("[csms]\n", '[csms]\npassword = "csms-Pa55word"\n')
    config = load_config(write(tmp_path, text + '[web]\npassword = "page-Pa55word"\n'))
    assert set(log_secrets(config)) == {"csms-Pa55word", "page-Pa55word"}
    record = logging.LogRecord("t", logging.INFO, "", 0, "web said page-Pa55word", None, None)
    SecretFilter(log_secrets(config)).filter(record)
    assert "page-Pa55word" not in record.getMessage()


def test_the_page_password_is_left_out_of_the_diagnostics_bundle_config() -> None:
    from cpagent.firmware.bundle import redact

    text = MINIMAL + '[web]\nlisten = "0.0.0.0:8080"\npassword = "page-Pa55word"\n'
    shipped = redact(text)
    assert "page-Pa55word" not in shipped and 'listen = "0.0.0.0:8080"' in shipped
