"""`cpagent probe rfid` against the PN532 twin and an RDM6300 frame source on ptys."""

from __future__ import annotations

import contextlib
import os
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.rfid.frames import encode_frame
from hw.rfid.pn532_twin import Pn532Twin


@pytest.fixture
def pn532(tmp_path: Path) -> Iterator[Pn532Twin]:
    twin = Pn532Twin(tmp_path / "ttyNFC").start()
    yield twin
    twin.close()


class Rdm6300Card:
    """An RDM6300 with a card held in front of it: it repeats the card's frame, as the
    module does while a tag is in the field."""

    def __init__(self, tag: str) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self._frame = encode_frame(tag)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):  # the module's own repeat rate, not a test wait
            with contextlib.suppress(OSError):
                os.write(self.master, self._frame)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def test_pn532_prints_identity_and_the_card_uid_as_id_tag(cli, pn532):
    pn532.place("04A2B3C4D5E6F7")  # a 7-byte NTAG UID
    result = cli(
        "probe",
        "rfid",
        "--driver",
        "pn532",
        "--port",
        pn532.port,
        "--count",
        "1",
        "--timeout",
        "10",
    )
    assert result.code == 0, result.err
    assert result.out == "04A2B3C4D5E6F7\n"
    assert f"PN532 firmware 1.6 (IC 0x32) on {pn532.port} at 115200 baud" in result.err


def test_pn532_port_and_driver_from_the_config(cli, pn532, write_config):
    config = write_config(f"""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
        [rfid]
        driver = "pn532"
        port = "{pn532.port}"
    """)
    pn532.place("DEADBEEF")
    result = cli("probe", "rfid", "--config", str(config), "--count", "1", "--timeout", "10")
    assert result.code == 0, result.err
    assert result.out == "DEADBEEF\n"


def test_no_card_within_the_timeout_exits_1(cli, pn532):
    result = cli("probe", "rfid", "--driver", "pn532", "--port", pn532.port, "--timeout", "0.5")
    assert result.code == 1
    assert "0 card(s) within 0.5 s (wanted a card)" in result.err
    assert result.out == ""


def test_something_that_is_not_a_pn532_gets_the_wiring_hint(cli, tmp_path):
    master, slave = os.openpty()  # an adapter with nothing answering behind it
    try:
        tty.setraw(slave)
        result = cli(
            "probe", "rfid", "--driver", "pn532", "--port", os.ttyname(slave), "--timeout", "4"
        )
    finally:
        os.close(master)
        os.close(slave)
    assert result.code == 1
    assert "no answer from a PN532" in result.err and "HSU (UART)" in result.err


def test_rdm6300_prints_each_presentation_once(cli):
    card = Rdm6300Card("0F00A1B2C3")
    try:
        result = cli(
            "probe",
            "rfid",
            "--driver",
            "rdm6300",
            "--port",
            card.port,
            "--count",
            "1",
            "--timeout",
            "10",
        )
    finally:
        card.close()
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["0F00A1B2C3"]


def test_refuses_while_the_daemon_holds_the_reader(cli, pn532, write_config, tmp_path, lock_holder):
    config = write_config(f"""
        [[connector]]
        relay_pin = 17
        [rfid]
        driver = "pn532"
        port = "{pn532.port}"
    """)
    daemon = lock_holder(tmp_path / "state")
    result = cli("probe", "rfid", "--config", str(config), "--count", "1", "--timeout", "1")
    assert result.code == 75
    assert f"(pid {daemon.pid}) holds the devices" in result.err


def test_missing_reader_port(cli, tmp_path):
    result = cli("probe", "rfid", "--driver", "rdm6300", "--port", str(tmp_path / "ttyS9"))
    assert result.code == 69
    assert "does not exist" in result.err
