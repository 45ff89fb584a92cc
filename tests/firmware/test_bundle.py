"""The diagnostics bundle, built from a state dir seeded with secrets and card ids, scanned."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from cpagent.chargepoint.authorization import AuthorizationStatus, IdTagInfo
from cpagent.chargepoint.store import Store
from cpagent.firmware.bundle import build_bundle

SECRETS = ("hunter2", "dXNlcjpodW50ZXIy", "/etc/cpagent/secret-client.key")
TAGS = ("04A1B2C3D4", "DEADBEEF99", "PARENT0042", "CARD000777")
CONFIG = """\
[chargepoint]
id = "CP1"
[csms]
url = "wss://CP1:hunter2@csms.example/ocpp"
key_file = "/etc/cpagent/secret-client.key"
mqtt = { host = "broker", password = "hunter2" }
"""


def seed(state: Path) -> Path:
    """A state dir as the daemon leaves it, plus what people leave next to a config."""
    state.mkdir()
    store = Store.open(state / "cpagent.db")
    store.save_local_list(
        1, [("04A1B2C3D4", IdTagInfo(AuthorizationStatus.ACCEPTED, None, "PARENT0042"))]
    )
    store.begin_transaction(1, "DEADBEEF99", 0.0, {"connectorId": 1, "idTag": "DEADBEEF99"})
    store.close()
    (state / "cpagent.db-wal").write_bytes(b"WAL hunter2 04A1B2C3D4")
    (state / "cpagent.db-shm").write_bytes(b"SHM")
    logs = state / "logs"
    logs.mkdir()
    (logs / "cpagent.log").write_text(
        "INFO connected to wss://CP1:hunter2@csms.example/ocpp\n"
        'DEBUG -> [2,"1","Authorize",{"idTag":"CARD000777"}]\n'
        "INFO card 04A1B2C3D4 accepted; Authorization: Basic dXNlcjpodW50ZXIy\n"
        "INFO transaction for DEADBEEF99 (parent PARENT0042) started\n"
        "INFO charging started on connector 1\n"
    )
    for backup in (
        "cpagent.toml.bak",
        "cpagent.toml~",
        "cpagent.toml.orig",
        ".cpagent.toml.swp",
        "cpagent.toml.dpkg-old",
    ):
        (state / backup).write_text(CONFIG)
    (state / "core.bin").write_bytes(b"\x00\x01hunter2")
    config = state.parent / "cpagent.toml"
    config.write_text(CONFIG)
    return config


def members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle, "r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()
            for m in tar.getmembers()  # type: ignore[union-attr]
            if m.isfile()
        }


def test_the_bundle_ships_no_secret_and_no_full_card_id(tmp_path: Path) -> None:
    config = seed(tmp_path / "state")
    bundle = build_bundle([tmp_path / "state"], tmp_path / "d.tar.gz", config_path=config)
    files = members(bundle)
    everything = b"\n".join([*files.values(), *(n.encode() for n in files)])
    for secret in SECRETS:
        assert secret.encode() not in everything, secret
    for tag in TAGS:
        assert tag.encode() not in everything, tag
        assert ("****" + tag[-4:]).encode() in everything, tag  # still tells cards apart
    names = list(files)
    assert not any(
        n.endswith((".db", "-wal", "-shm", ".bak", "~", ".orig", ".swp", "dpkg-old", ".bin"))
        for n in names
    ), names
    log = next(v for n, v in files.items() if n.endswith("/logs/cpagent.log")).decode()
    assert "charging started on connector 1" in log and "csms.example/ocpp" in log
    manifest = files["MANIFEST.txt"].decode()
    assert "left out (state database" in manifest and "left out (backup" in manifest
    assert "left out (binary" in manifest
    redacted = files["config/cpagent.toml.redacted"].decode()
    assert 'password = "<redacted>"' in redacted and 'host = "broker"' in redacted


def test_card_ids_known_only_to_a_state_dir_outside_the_paths_are_masked(tmp_path: Path) -> None:
    seed(tmp_path / "state")
    logs = tmp_path / "state" / "logs"
    bundle = build_bundle([logs], tmp_path / "d.tar.gz", state_dir=tmp_path / "state")
    log = b"".join(members(bundle).values())
    assert b"04A1B2C3D4" not in log and b"DEADBEEF99" not in log and b"****C3D4" in log


def test_a_journal_is_scrubbed_like_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "journalctl"
    fake.write_text('#!/bin/sh\necho \'Authorize {"idTag": "CARD000777"} password=hunter2\'\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    bundle = build_bundle([], tmp_path / "d.tar.gz", journal_unit="cpagent.service")
    journal = members(bundle)["journal.txt"]
    assert b"CARD000777" not in journal and b"hunter2" not in journal and b"****0777" in journal
