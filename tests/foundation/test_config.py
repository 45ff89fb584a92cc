"""Config loading: the shipped examples load, and every kind of problem is named by key path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from cpagent.config import (
    METER_DRIVERS,
    ConfigError,
    Severity,
    endpoint_url,
    load_config,
)

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
[chargepoint]
id = "CP1"
vendor = "v"
model = "m"
[csms]
url = "ws://127.0.0.1:9000/ocpp"
[[connector]]
relay_pin = 17
"""


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(textwrap.dedent(text))
    path.chmod(mode)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("name", ["cpagent.toml", "bench.toml"])
def test_shipped_configs_load(name: str) -> None:
    config = load_config(REPO / "config" / name)
    assert config.connectors and config.chargepoint.id
    assert all(p.severity is Severity.WARNING for p in config.warnings)


def test_example_is_a_pi_with_real_hardware() -> None:
    config = load_config(REPO / "config" / "cpagent.toml")
    assert config.gpio.pin_factory == "lgpio"
    assert config.connectors[0].meter.driver == "sdm630"
    assert config.rfid.driver == "rdm6300"
    assert config.control.socket == Path("/run/cpagent/control.sock")


def test_bench_paths_are_relative_to_the_config_file() -> None:
    config = load_config(REPO / "config" / "bench.toml")
    assert config.gpio.pin_factory == "mock"
    assert config.state.dir == REPO / ".bench" / "state"
    assert config.control.socket == REPO / ".bench" / "control.sock"


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.csms.protocol == "ocpp1.6" and config.csms.transport == "websocket"
    assert config.state.dir == Path("/var/lib/cpagent")
    assert config.connectors[0].meter.driver == "sim"
    assert config.connectors[0].relay_active_high is True
    assert config.rfid.driver == "none" and config.log.level == "INFO"
    assert config.path == tmp_path / "c.toml"


def test_firmware_lists_are_read_and_paths_resolved(tmp_path: Path) -> None:
    text = (
        MINIMAL + '[firmware]\ninstall_command = ["install-fw", "{file}"]\n'
        '[diagnostics]\npaths = ["logs", "/var/log/syslog"]\n'
    )
    config = load_config(write(tmp_path, text))
    assert config.firmware.install_command == ("install-fw", "{file}")
    assert config.diagnostics.paths == (tmp_path / "logs", Path("/var/log/syslog"))
    assert load_config(write(tmp_path, MINIMAL)).firmware.install_command == ()


def test_values_are_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(AttributeError):
        config.csms.url = "ws://elsewhere"  # type: ignore[misc]


CASES = [
    ("unknown section", "[bogus]\n", "bogus: unknown section"),
    ("unknown key", '[rfid]\ncolour = "red"\n', "rfid.colour: unknown key (known: driver, port"),
    (
        "misspelt key",
        "[[connector]]\nrelay_pn = 5\n",
        "connector[2].relay_pn: unknown key (did you mean relay_pin?)",
    ),
    ("misspelt section", '[csm]\nurl = "ws://x"\n', "csm: unknown section (did you mean [csms]?)"),
    (
        "wrong type",
        '[mqtt]\nhost = "h"\nport = "1883"\n',
        "mqtt.port: must be an integer, not a string",
    ),
    (
        "bool is not an int",
        "[[connector]]\nrelay_pin = true\n",
        "connector[2].relay_pin: must be an integer, not a boolean",
    ),
    (
        "missing key",
        "[[connector]]\nplug_pin = 5\n",
        "connector[2].relay_pin: missing required key",
    ),
    (
        "bad choice",
        '[[connector]]\nrelay_pin = 5\n[connector.meter]\ndriver = "abb"\n',
        "connector[2].meter.driver: must be one of " + ", ".join(METER_DRIVERS),
    ),
    (
        "pin twice",
        "[[connector]]\nrelay_pin = 17\n",
        "connector[2].relay_pin: pin 17 already used by connector[1].relay_pin",
    ),
    (
        "pin out of range",
        "[[connector]]\nrelay_pin = 99\n",
        "connector[2].relay_pin: must be a BCM",
    ),
    (
        "meter needs port",
        '[[connector]]\nrelay_pin = 5\n[connector.meter]\ndriver = "sdm120"\n',
        "connector[2].meter.port: required for driver sdm120",
    ),
    (
        "modbus unit",
        "[[connector]]\nrelay_pin = 5\n[connector.meter]\nunit = 300\n",
        "connector[2].meter.unit: must be a Modbus address",
    ),
    (
        "baudrate",
        "[[connector]]\nrelay_pin = 5\n[connector.meter]\nbaudrate = 1234\n",
        "connector[2].meter.baudrate: must be one of",
    ),
    ("rfid port", '[rfid]\ndriver = "rdm6300"\n', "rfid.port: required for driver rdm6300"),
    ("pn532 port", '[rfid]\ndriver = "pn532"\n', "rfid.port: required for driver pn532"),
    (
        "pn532 baudrate",
        '[rfid]\ndriver = "pn532"\nport = "/dev/serial0"\nbaudrate = 1234\n',
        "rfid.baudrate: must be one of",
    ),
    (
        "rdm6300 baudrate",
        '[rfid]\ndriver = "rdm6300"\nport = "/dev/serial0"\nbaudrate = 115200\n',
        "rfid.baudrate: only for driver pn532",
    ),
    ("mqtt needed", '[gpio]\npin_factory = "mock"\n', None),
    ("empty string", '[gpio]\npin_factory = ""\n', "gpio.pin_factory: must not be empty"),
    ("log level", '[log]\nlevel = "LOUD"\n', "log.level: must be one of DEBUG"),
    ("section not a table", 'log = "x"\n', "log: must be a table, not a string"),
    (
        "negative current",
        "[[connector]]\nrelay_pin = 5\nmax_current_a = -1\n",
        "connector[2].max_current_a: must be greater than 0",
    ),
    ("missing ca file", None, "csms.ca_file: no such file"),
    (
        "list item type",
        '[firmware]\ninstall_command = ["ls", 3]\n',
        "firmware.install_command[2]: must be a string, not an integer",
    ),
    (
        "list expected",
        '[diagnostics]\npaths = "/var/log"\n',
        "diagnostics.paths: must be an array, not a string",
    ),
    (
        "firmware timeout",
        "[firmware]\ntimeout_s = 0\n",
        "firmware.timeout_s: must be greater than 0",
    ),
]


@pytest.mark.parametrize(("what", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_problem_is_named_by_key_path(
    tmp_path: Path, what: str, extra: str | None, expected: str | None
) -> None:
    if extra is None:  # csms keys must go inside [csms]
        text = MINIMAL.replace("[csms]\n", '[csms]\nca_file = "nope.pem"\n')
    elif extra.startswith("["):
        text = MINIMAL + extra
    else:  # a top-level key must come before the first table
        text = extra + MINIMAL
    if expected is None:
        load_config(write(tmp_path, text))
        return
    found = problems_of(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("csms", "expected"),
    [
        ('url = "http://x"', "csms.url: must start with ws:// or wss://"),
        ('url = "wss://x"', "csms.url: wss:// needs csms.password or cert_file"),
        ('url = "ws://x"\ntransport = "mqtt"', "mqtt: missing required [mqtt] table"),
        ('url = "ws://x"\nprotocol = "ocpp9"', "csms.protocol: must be one of ocpp1.6"),
        ('url = "ws://x"\nbackoff_min_s = 5.0\nbackoff_max_s = 1.0', "csms.backoff_max_s"),
        ('url = "ws://x"\ncall_timeout_s = 0', "csms.call_timeout_s: must be greater than 0"),
        ('url = "ws://x"\ncert_file = "c.toml"', "csms.cert_file: cert_file and key_file"),
    ],
)
def test_csms_checks(tmp_path: Path, csms: str, expected: str) -> None:
    text = MINIMAL.replace('url = "ws://127.0.0.1:9000/ocpp"', csms)
    found = problems_of(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_are_reported_not_just_the_first(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        """\
        [chargepoint]
        id = "CP 1"
        vendor = 3
        [csms]
        url = "ws://x"
        speed = 1
        [[connector]]
        relay_pin = 17
        plug_pin = 17
        [connector.meter]
        driver = "nope"
        """,
    )
    assert [p.split(":")[0] for p in found] == [
        "chargepoint.vendor",
        "chargepoint.model",
        "csms.speed",
        "connector[1].meter.driver",
        "chargepoint.id",
        "connector[1].plug_pin",
    ]


@pytest.mark.parametrize("missing", ["chargepoint", "csms", "connector"])
def test_missing_required_section(tmp_path: Path, missing: str) -> None:
    lines = MINIMAL.splitlines(keepends=True)
    blocks = {"chargepoint": (0, 4), "csms": (4, 6), "connector": (6, 8)}
    start, end = blocks[missing]
    found = problems_of(tmp_path, "".join(lines[:start] + lines[end:]))
    assert any(p.startswith(f"{missing}: missing required") for p in found), found


def test_bad_toml_names_the_line(tmp_path: Path) -> None:
    found = problems_of(tmp_path, MINIMAL + "relay_pin = = 3\n")
    assert len(found) == 1 and "invalid TOML" in found[0] and "line 9" in found[0]


def test_unreadable_file(tmp_path: Path) -> None:
    found = problems_of_path(tmp_path / "absent.toml")
    assert found == [f"{tmp_path / 'absent.toml'}: cannot read: No such file or directory"]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert problems_of_path(tmp_path) == [f"{tmp_path}: cannot read: Is a directory"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, mode=0o000)
    assert "Permission denied" in problems_of_path(path)[0]


def problems_of_path(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("mode", "warned"), [(0o600, False), (0o640, False), (0o644, True), (0o604, True)]
)
def test_password_in_world_readable_file_warns(tmp_path: Path, mode: int, warned: bool) -> None:
    text = MINIMAL.replace("[csms]\n", '[csms]\npassword = "hunter2"\n')
    config = load_config(write(tmp_path, text, mode))
    messages = [str(p) for p in config.warnings if "world-readable" in str(p)]
    assert (
        messages == ["warning: csms.password: secret in a world-readable file (chmod o-r)"]
    ) is warned


def test_url_ending_in_the_id_warns(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL.replace("/ocpp", "/ocpp/CP1")))
    assert [p.path for p in config.warnings] == ["csms.url"]


def test_relative_paths_resolve_against_the_config_dir(tmp_path: Path) -> None:
    text = MINIMAL + '[state]\ndir = "s"\n[control]\nsocket = "../run/c.sock"\n'
    config = load_config(write(tmp_path, text))
    assert config.state.dir == tmp_path / "s"
    assert config.control.socket == tmp_path.parent / "run" / "c.sock"


def test_socket_path_too_long(tmp_path: Path) -> None:
    text = MINIMAL + f'[control]\nsocket = "/{"x" * 120}"\n'
    assert problems_of(tmp_path, text) == [
        "control.socket: longer than 107 bytes (Unix socket limit)"
    ]


@pytest.mark.parametrize(
    ("url", "cp_id", "expected"),
    [
        ("ws://h:9000/ocpp", "CP1", "ws://h:9000/ocpp/CP1"),
        ("ws://h:9000/ocpp/", "CP1", "ws://h:9000/ocpp/CP1"),
        ("wss://h/", "A:B", "wss://h/A%3AB"),
        ("ws://h/x?token=1", "CP1", "ws://h/x/CP1?token=1"),
    ],
)
def test_endpoint_url_appends_the_id(url: str, cp_id: str, expected: str) -> None:
    assert endpoint_url(url, cp_id) == expected


def test_mqtt_transport_needs_no_url(tmp_path: Path) -> None:
    text = MINIMAL.replace('url = "ws://127.0.0.1:9000/ocpp"', 'transport = "mqtt"')
    config = load_config(write(tmp_path, text + '[mqtt]\nhost = "127.0.0.1"\n'))
    assert config.csms.url is None and config.mqtt is not None and config.mqtt.port == 1883


def test_websocket_transport_needs_a_url(tmp_path: Path) -> None:
    text = MINIMAL.replace('url = "ws://127.0.0.1:9000/ocpp"', "")
    assert problems_of(tmp_path, text) == [
        'csms.url: missing required key (csms.transport = "websocket")'
    ]


def test_a_quoted_key_with_a_newline_stays_one_line(tmp_path: Path) -> None:
    found = problems_of(tmp_path, '"a\\nb" = 1\n' + MINIMAL)
    assert found == ["a\\nb: unknown section"]


DEEP = ["a = " + "[" * 10_000, "a = " + "{b = " * 5000 + "1" + "}" * 5000]


@pytest.mark.parametrize("text", DEEP, ids=["deep-array", "deep-inline-table"])
def test_values_nested_too_deeply(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert problems_of_path(path) == [f"{path}: invalid TOML: values nested too deeply"]


@pytest.mark.parametrize("key", ["dir", "port"])
def test_a_nul_in_a_path_or_port(tmp_path: Path, key: str) -> None:
    table = (
        '[state]\ndir = "a\\u0000b"\n'
        if key == "dir"
        else (
            "[[connector]]\nrelay_pin = 5\n[connector.meter]\n"
            'driver = "sdm630"\nport = "/dev/a\\u0000"\n'
        )
    )
    found = problems_of(tmp_path, MINIMAL + table)
    where = "state.dir" if key == "dir" else "connector[2].meter.port"
    assert found == [f"{where}: must not contain a NUL character"]


MQTT = MINIMAL.replace('url = "ws://127.0.0.1:9000/ocpp"\n', 'transport = "mqtt"\n') + (
    '[mqtt]\nhost = "127.0.0.1"\n'
)


def warnings_of(path: Path) -> list[str]:
    return [str(p) for p in load_config(path).warnings]


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        (
            MINIMAL.replace("[csms]\n", '[csms]\npassword = "hunter2"\n'),
            0o600,
            "csms.password: sent in clear over ws://",
        ),
        (MINIMAL, 0o620, "writable by group or others"),
        (MINIMAL, 0o602, "writable by group or others"),
        (
            MQTT.replace('host = "127.0.0.1"\n', 'host = "h"\nusername = "CP1"\npassword = "p"\n'),
            0o600,
            "mqtt.password: sent in clear without mqtt.tls",
        ),
        (MQTT, 0o600, "mqtt.username: none and no client certificate"),
        (
            MQTT.replace('host = "127.0.0.1"\n', 'host = "h"\nusername = "CP2"\n'),
            0o600,
            "mqtt.username: is not the chargepoint id",
        ),
    ],
)
def test_security_warnings(tmp_path: Path, text: str, mode: int, expected: str) -> None:
    assert any(expected in w for w in warnings_of(write(tmp_path, text, mode))), expected


@pytest.mark.parametrize(("key_mode", "warned"), [(0o600, False), (0o640, False), (0o644, True)])
def test_a_tls_key_readable_by_others_warns(tmp_path: Path, key_mode: int, warned: bool) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("x")
    (tmp_path / "client.key").chmod(key_mode)
    text = MINIMAL.replace(
        'url = "ws://127.0.0.1:9000/ocpp"\n',
        'url = "wss://h/ocpp"\ncert_file = "client.pem"\nkey_file = "client.key"\n',
    )
    found = [w for w in warnings_of(write(tmp_path, text)) if "readable by every user" in w]
    assert bool(found) is warned, found


def test_a_safe_config_has_no_security_warning(tmp_path: Path) -> None:
    text = MQTT.replace(
        'host = "127.0.0.1"\n', 'host = "h"\nusername = "CP1"\npassword = "p"\ntls = true\n'
    )
    assert warnings_of(write(tmp_path, text, 0o640)) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'cert_file = "nope.pem"\nkey_file = "nope.key"\ntls = true\n',
            "mqtt.cert_file: no such file",
        ),
        ('password = "p"\n', "mqtt.username: missing: mqtt.password is set"),
    ],
)
def test_mqtt_tls_and_credential_checks(tmp_path: Path, extra: str, expected: str) -> None:
    problems = problems_of(tmp_path, MQTT + extra)
    assert any(expected in p for p in problems), problems


def test_check_config_prints_the_security_warnings_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cpagent.cli import main

    for name in ("client.pem", "client.key"):
        (tmp_path / name).write_text("x")
    (tmp_path / "client.key").chmod(0o644)
    text = MINIMAL.replace(
        "[csms]\n",
        '[csms]\npassword = "hunter2"\ncert_file = "client.pem"\nkey_file = "client.key"\n',
    )
    path = write(tmp_path, text, 0o664)
    assert main(["check-config", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}: warning: csms.password: sent in clear over ws://" in err
    assert f"{path}: warning: {path}: writable by group or others" in err
    assert "warning: csms.key_file:" in err and "readable by every user" in err
    assert "hunter2" not in err
