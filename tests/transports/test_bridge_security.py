"""Who may speak for a chargepoint: broker ACL (mosquitto), credentials file, relay caps."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.bridge import Bridge
from cpagent.bridge_credentials import (
    ChargepointCredentials,
    CredentialsError,
    load_credentials,
    read_secret_file,
)
from cpagent.commands.bridge import add_bridge_arguments, bridge_from_args
from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import FrameReceived, TransportUp
from cpagent.transports.mqtt import BrokerLogin, MqttTransport, Topics
from tests.support.central_system import CentralSystem
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt_peer import MqttPeer
from tests.support.net import wait_until
from tests.support.recorder import EventRecorder

REPO = Path(__file__).resolve().parents[2]
ACL = (REPO / "config" / "mosquitto.acl").read_text()
PASSWORDS = {"CP1": "cp1-pass", "CP2": "cp2-pass", "cpagent-bridge": "bridge-pass"}
CP1, CP2 = Topics.for_chargepoint("ocpp", "CP1"), Topics.for_chargepoint("ocpp", "CP2")
FAST = BackoffPolicy(initial_s=0.01, max_s=0.05, stable_after_s=1.0)


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "acl-broker", passwords=PASSWORDS, acl=ACL)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def chargepoint(
    broker: Mosquitto, name: str, recorder: EventRecorder, **options: object
) -> MqttTransport:
    transport = MqttTransport(
        broker.host,
        broker.port,
        name,
        recorder.post,
        keepalive_s=5,
        reconnect_min_s=1,
        reconnect_max_s=1,
        login=BrokerLogin(username=name, password=PASSWORDS[name]),
        **options,
    )  # type: ignore[arg-type]
    transport.start()
    return transport


def test_readme_shows_the_acl_the_tests_use() -> None:
    readme = (REPO / "README.md").read_text()
    rules = [line for line in ACL.splitlines() if line and not line.startswith("#")]
    assert all(rule in readme for rule in rules)
    assert "pattern read ocpp/%u/down" in rules


def test_another_chargepoint_cannot_publish_to_my_down(acl_broker: Mosquitto) -> None:
    mine = EventRecorder()
    transport = chargepoint(acl_broker, "CP1", mine, require_csms_online=False)
    try:
        mine.wait_for(TransportUp, timeout=10)
        with (
            MqttPeer(
                acl_broker.host,
                acl_broker.port,
                [CP2.down],
                client_id="CP2",
                username="CP2",
                password=PASSWORDS["CP2"],
            ) as other,
            MqttPeer(
                acl_broker.host,
                acl_broker.port,
                ["ocpp/+/state"],
                client_id="bridge",
                username="cpagent-bridge",
                password=PASSWORDS["cpagent-bridge"],
            ) as br,
        ):
            other.publish(CP1.down, '[2,"x","RemoteStartTransaction",{"idTag":"STRANGER"}]')
            br.publish(CP1.down, "from-the-bridge")  # after the forged one was refused
            assert mine.wait_for(FrameReceived, timeout=10).text == "from-the-bridge"
            assert [e.text for e in mine.of(FrameReceived)] == ["from-the-bridge"]
    finally:
        transport.stop(2.0)


def test_another_chargepoint_cannot_read_my_up(acl_broker: Mosquitto) -> None:
    mine = EventRecorder()
    transport = chargepoint(acl_broker, "CP1", mine, require_csms_online=False)
    try:
        mine.wait_for(TransportUp, timeout=10)
        with (
            MqttPeer(
                acl_broker.host,
                acl_broker.port,
                [CP1.up, CP2.down],
                client_id="CP2",
                username="CP2",
                password=PASSWORDS["CP2"],
            ) as other,
            MqttPeer(
                acl_broker.host,
                acl_broker.port,
                ["ocpp/+/up"],
                client_id="bridge",
                username="cpagent-bridge",
                password=PASSWORDS["cpagent-bridge"],
            ) as br,
        ):
            assert transport.send('[2,"1","Authorize",{"idTag":"04A1B2C3D4"}]')
            br.wait_for_text(CP1.up, '[2,"1","Authorize",{"idTag":"04A1B2C3D4"}]')
            br.publish(CP2.down, "barrier")  # reaches CP2 after anything CP1's up could
            other.wait_for_text(CP2.down, "barrier")
            assert other.messages(CP1.up) == []
    finally:
        transport.stop(2.0)


def test_the_bridge_works_within_the_acl(acl_broker: Mosquitto) -> None:
    with CentralSystem(passwords={"CP1": "csms-cp1"}) as central:
        bridge = Bridge(
            acl_broker.host,
            acl_broker.port,
            central.url,
            backoff=FAST,
            ping_interval_s=0,
            mqtt_login=BrokerLogin(username="cpagent-bridge", password=PASSWORDS["cpagent-bridge"]),
            credentials={"CP1": ChargepointCredentials(password="csms-cp1")},
        )
        bridge.start()
        mine = EventRecorder()
        transport = chargepoint(acl_broker, "CP1", mine)
        try:
            mine.wait_for(TransportUp, timeout=10)  # `csms` online came through the ACL
            assert central.connected_ids == ["CP1"] and central.auth_failures == 0
        finally:
            transport.stop(2.0)
            bridge.stop(2.0)


def test_chargepoints_without_credentials_are_refused(
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with CentralSystem() as central:
        bridge = Bridge(
            mosquitto.host,
            mosquitto.port,
            central.url,
            backoff=FAST,
            ping_interval_s=0,
            credentials={"CP1": ChargepointCredentials()},
        )
        bridge.start()
        try:
            with MqttPeer(mosquitto.host, mosquitto.port, ["x/y"], client_id="forger") as forger:
                for index in range(20):
                    forger.publish(f"ocpp/FAKE{index}/state", "online", retain=True)
                    forger.publish(f"ocpp/FAKE{index}/up", '[2,"1","Heartbeat",{}]')
                forger.publish("ocpp/CP1/state", "online", retain=True)
                wait_until(lambda: central.connected_ids == ["CP1"], 10, "CP1 relayed")
                wait_until(lambda: bridge.refused_count >= 40, 10, "every forged id refused")
            assert bridge.chargepoints == ["CP1"]
            assert "not relaying 'FAKE3': no entry in the credentials file" in caplog.text
        finally:
            bridge.stop(2.0)


def test_relays_and_threads_are_capped(mosquitto: Mosquitto) -> None:
    with CentralSystem() as central:
        bridge = Bridge(
            mosquitto.host,
            mosquitto.port,
            central.url,
            backoff=FAST,
            ping_interval_s=0,
            allow_unknown=True,
            max_chargepoints=3,
        )
        threads_before = threading.active_count()
        bridge.start()
        try:
            with MqttPeer(mosquitto.host, mosquitto.port, ["x/y"], client_id="flood") as flood:
                for index in range(30):
                    flood.publish(f"ocpp/CP{index}/state", "online", retain=True)
                wait_until(lambda: bridge.refused_count >= 27, 10, "27 refused")
            assert len(bridge.chargepoints) == 3
            wait_until(lambda: len(central.connected_ids) == 3, 10, "3 WebSockets")
            # per relayed link: the runner, its writer and its ping watcher; + paho's loop
            assert threading.active_count() - threads_before <= 3 * 3 + 2
        finally:
            bridge.stop(2.0)


def test_the_bridge_needs_credentials_or_the_bench_flag() -> None:
    with pytest.raises(ValueError, match="credentials"):
        Bridge("127.0.0.1", 1883, "ws://127.0.0.1:9")


def write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("mode", "ok"), [(0o600, True), (0o400, True), (0o640, False), (0o644, False), (0o606, False)]
)
def test_the_credentials_file_must_be_private(tmp_path: Path, mode: int, ok: bool) -> None:
    file = write(tmp_path / "credentials.toml", '[CP1]\npassword = "p"\n', mode)
    if ok:
        assert load_credentials(file) == {"CP1": ChargepointCredentials(password="p")}
    else:
        with pytest.raises(CredentialsError, match="chmod 600"):
            load_credentials(file)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[CP1]\npasword = "p"\n', "unknown key 'pasword'"),
        ("[CP1]\n", "needs a password or cert_file"),
        ('[CP1]\ncert_file = "c.pem"\n', "together"),
        ('[CP1]\ncert_file = "no.pem"\nkey_file = "no.key"\n', "no such file"),
        ('["a/b"]\npassword = "p"\n', "topic level"),
        ('CP1 = "p"\n', "must be a table"),
        ("[CP1\n", "Expected"),
        ('[CP1]\npassword = ""\n', "non-empty"),
    ],
)
def test_bad_credentials_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        load_credentials(write(tmp_path / "c.toml", text, 0o600))


def test_a_client_certificate_entry_is_read(tmp_path: Path) -> None:
    write(tmp_path / "c.pem", "cert", 0o644)
    write(tmp_path / "c.key", "key", 0o600)
    file = write(tmp_path / "c.toml", '[CP1]\ncert_file = "c.pem"\nkey_file = "c.key"\n', 0o600)
    entry = load_credentials(file)["CP1"]
    assert (entry.cert_file, entry.key_file) == (tmp_path / "c.pem", tmp_path / "c.key")
    options = Bridge(
        "127.0.0.1", 1883, "wss://h/ocpp", credentials={"CP1": entry}
    ).websocket_options("CP1")
    assert options["security_profile"] == 3 and options["key_file"] == str(tmp_path / "c.key")


def test_a_password_file_must_be_private(tmp_path: Path) -> None:
    assert read_secret_file(write(tmp_path / "pw", "s3cret\n", 0o600)) == "s3cret"
    with pytest.raises(CredentialsError, match="chmod 600"):
        read_secret_file(write(tmp_path / "pw2", "s3cret\n", 0o644))


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ([], 2),
        (["--credentials", "{dir}/open.toml"], 78),
        (["--max-chargepoints", "0", "--allow-unknown-chargepoints"], 2),
    ],
)
def test_bridge_command_refuses_unsafe_settings(
    tmp_path: Path,
    extra: list[str],
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write(tmp_path / "open.toml", '[CP1]\npassword = "p"\n', 0o644)
    parser = argparse.ArgumentParser()
    add_bridge_arguments(parser)
    args = parser.parse_args(
        [
            "--mqtt",
            "127.0.0.1:1",
            "--csms",
            "ws://127.0.0.1:9",
            *(e.format(dir=tmp_path) for e in extra),
        ]
    )
    with caplog.at_level(logging.ERROR):
        assert bridge_from_args(args) == status
    assert caplog.text
