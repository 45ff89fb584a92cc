"""`cpagent check-config --hardware`: what only the target can tell, one line per finding."""

from __future__ import annotations

import os
import tty
from collections.abc import Iterator

import pytest

from cpagent.commands.hardware_check import ServiceUser, check_hardware
from cpagent.config import load_config
from tests.support.certs import make_pki


@pytest.fixture
def pty_port() -> Iterator[str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def _messages(config_path, user=None) -> list[str]:
    return [str(f) for f in check_hardware(load_config(config_path), user)]


def test_a_clean_bench_config_passes_with_warnings_only(cli, write_config):
    config = write_config("""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
    """)
    result = cli("check-config", "--hardware", str(config))
    assert result.code == 0, result.err
    assert "ok: chargepoint CP-1" in result.out
    assert 'hardware: warning: gpio.pin_factory: "mock": no real pin is driven' in result.err


def test_missing_devices_and_the_uart_say_what_to_do(cli, write_config):
    config = write_config("""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
        [connector.meter]
        driver = "sdm630"
        port = "/dev/ttyUSB-none"
        [rfid]
        driver = "rdm6300"
        port = "/dev/serial0"
    """)
    if os.path.exists("/dev/serial0"):
        pytest.skip("this machine has a /dev/serial0")
    result = cli("check-config", "--hardware", str(config))
    assert result.code == 78
    assert (
        "hardware: error: connector[1].meter.port: /dev/ttyUSB-none does not exist: plug "
        "in the adapter, or use its name from `ls -l /dev/serial/by-id/`"
    ) in result.err
    assert "rfid.port: /dev/serial0 does not exist: enable the UART: raspi-config" in result.err
    assert "2 hardware error(s)" in result.err


def test_pins_off_the_header_on_the_uart_or_the_hat_eeprom(write_config):
    config = write_config("""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 14
        plug_pin = 30
        [[connector]]
        relay_pin = 22
        relay_feedback_pin = 0
        [rfid]
        driver = "pn532"
        port = "/dev/serial0"
    """)
    messages = _messages(config)
    assert any(
        "connector[1].relay_pin: GPIO14 is UART TXD, taken by the UART in use" in m
        for m in messages
    ), messages
    assert any(
        "connector[1].plug_pin: GPIO30 is not on the 40-pin header (BCM 0-27)" in m
        for m in messages
    ), messages
    assert any(
        m.startswith("warning: connector[2].relay_feedback_pin: GPIO0 is ID_SD") for m in messages
    ), messages
    assert not any("GPIO22" in m for m in messages)


def test_no_uart_clash_without_the_uart(write_config, pty_port):
    config = write_config(f"""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 14
        [rfid]
        driver = "pn532"
        port = "{pty_port}"
    """)
    assert not any("GPIO14" in m for m in _messages(config))


def test_device_the_service_user_cannot_open(write_config, pty_port):
    os.chown(pty_port, 0, 20)
    os.chmod(pty_port, 0o660)
    config = write_config(f"""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
        [connector.meter]
        driver = "sdm630"
        port = "{pty_port}"
    """)
    outsider = ServiceUser("cpagent", 999, frozenset({999}))
    messages = _messages(config, outsider)
    import grp

    group = grp.getgrgid(20).gr_name
    assert any(
        f"{pty_port} (crw-rw----, group {group}) is not readable and writable by user "
        f"cpagent: usermod -aG {group} cpagent" in m
        for m in messages
    ), messages
    member = ServiceUser("cpagent", 999, frozenset({999, 20}))
    assert not any("meter.port" in m for m in _messages(config, member))


def test_pin_factory_that_does_not_import(write_config):
    config = write_config("""
        [gpio]
        pin_factory = "pigpio"
        [[connector]]
        relay_pin = 17
    """)
    try:
        import pigpio  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pigpio is installed here")
    messages = _messages(config)
    assert any(
        "gpio.pin_factory: 'pigpio' does not import here" in m and "apt install python3-pigpio" in m
        for m in messages
    ), messages


def _tls_config(write_config, ca_file, cert_file, key_file):
    return write_config(f"""
        [mqtt]
        host = "127.0.0.1"
        tls = true
        ca_file = "{ca_file}"
        cert_file = "{cert_file}"
        key_file = "{key_file}"
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
    """)


def test_tls_files_must_load_as_certificates_and_keys(write_config, tmp_path):
    pki = make_pki(tmp_path)
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    # The CA certificate given as the key: a certificate is no private key.
    messages = _messages(_tls_config(write_config, bad, pki.client_cert_file, pki.ca_file))
    assert any(
        m.startswith("error: mqtt.ca_file:") and "does not load as PEM CA" in m for m in messages
    ), messages
    assert any(
        m.startswith("error: mqtt.cert_file:") and "does not load as a certificate and its key" in m
        for m in messages
    ), messages
    good = _tls_config(write_config, pki.ca_file, pki.client_cert_file, pki.client_key_file)
    assert not any("mqtt." in m for m in _messages(good))


def test_a_real_pin_factory_needs_the_gpio_character_device(write_config):
    config = write_config("""
        [gpio]
        pin_factory = "native"
        [[connector]]
        relay_pin = 17
    """)
    if os.path.exists("/dev/gpiochip0"):
        pytest.skip("this machine has GPIO")
    messages = _messages(config, ServiceUser("cpagent", 999, frozenset({999})))
    assert (
        "error: gpio.pin_factory: /dev/gpiochip0 does not exist: no GPIO character device: "
        "is this the Pi?" in messages
    )
