"""A card session through the real PN532 driver on its pty twin, against the `ocpp` CSMS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.rfid.pn532_twin import Pn532Twin
from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import Daemon, cli
from tests.support.net import wait_until

SIM_READER = '[rfid]\ndriver = "sim"\n'
UID = "04A1B2C3D4E5F6"  # a 7-byte NTAG UID: the idTag is its upper-case hex, 14 characters


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Pn532Twin]:
    device = Pn532Twin(tmp_path / "ttyNFC").start()
    yield device
    device.close()


@pytest.fixture
def pn532_daemon(daemon: Daemon, twin: Pn532Twin) -> Daemon:
    """The e2e daemon with `[rfid] driver = "pn532"` on the twin's port instead of the sim."""
    text = daemon.config_path.read_text()
    assert SIM_READER in text
    daemon.config_path.write_text(
        text.replace(SIM_READER, f'[rfid]\ndriver = "pn532"\nport = "{twin.port}"\n')
    )
    return daemon


def _polled(twin: Pn532Twin, more: int) -> None:
    target = twin.polls_answered + more
    wait_until(lambda: twin.polls_answered >= target, 10, f"{more} more polls of the twin")


def test_a_card_on_the_pn532_authorizes_and_starts_a_transaction(
    pn532_daemon: Daemon, csms: StrictCentralSystem, twin: Pn532Twin
) -> None:
    boot(pn532_daemon, csms)
    _polled(twin, 3)  # the daemon set the reader up and polls it
    assert twin.sam_mode == 0x01
    done = cli("ctl", "--config", str(pn532_daemon.config_path), "plug", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    csms.wait_status(1, "Preparing")

    twin.place(UID)  # held in the field: polled again and again
    assert csms.wait_call("Authorize") == {"idTag": UID}
    start = csms.wait_call("StartTransaction")
    assert (start["connectorId"], start["idTag"]) == (1, UID)
    pn532_daemon.wait_connector(lambda c: c["relay"] is True, what="relay closed")
    csms.wait_status(1, "Charging")
    _polled(twin, 10)  # held for about two seconds more: no second presentation
    assert len(csms.calls("Authorize")) == 1 and len(csms.calls("StartTransaction")) == 1


def test_the_reader_pulled_out_is_reported_and_comes_back(
    pn532_daemon: Daemon, csms: StrictCentralSystem, twin: Pn532Twin
) -> None:
    boot(pn532_daemon, csms)
    _polled(twin, 3)

    def reports() -> list[str]:
        return [p["errorCode"] for p in csms.calls("StatusNotification") if p["connectorId"] == 0]

    twin.unplug()
    wait_until(lambda: "ReaderFailure" in reports(), 10, "ReaderFailure on connector 0")
    twin.plug_in()
    wait_until(lambda: reports()[-1:] == ["NoError"], 15, f"NoError again (got {reports()})")
    twin.place(UID)
    assert csms.wait_call("Authorize", timeout=15) == {"idTag": UID}
