"""Security profiles end to end: HTTP Basic over ws and wss, and TLS client certificates."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon
from tests.support.certs import make_pki
from tests.support.net import wait_until


@contextmanager
def _pair(
    workdir: Path, csms_extra: str, **central: Any
) -> Iterator[tuple[Daemon, StrictCentralSystem]]:
    csms = StrictCentralSystem(**central)
    csms.start()
    sock_dir = Path(tempfile.mkdtemp(prefix="cpe2e-"))
    daemon = Daemon(workdir, sock_dir / "ctl.sock", csms.url, csms_extra)
    try:
        daemon.start()
        yield daemon, csms
    finally:
        daemon.stop()
        csms.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    assert not csms.violations


def _accepted(daemon: Daemon) -> None:
    daemon.wait(lambda s: s["registration"] == "Accepted", what="BootNotification Accepted")


@pytest.mark.parametrize("tls", [False, True], ids=["profile-1-ws", "profile-2-wss"])
def test_basic_auth_with_the_right_password_boots(tmp_path: Path, tls: bool) -> None:
    pki = make_pki(tmp_path, CHARGEPOINT_ID)
    extra = 'password = "s3cret-Pa55"\n' + (f'ca_file = "{pki.ca_file}"\n' if tls else "")
    context = pki.server_context() if tls else None
    with _pair(tmp_path, extra, passwords={CHARGEPOINT_ID: "s3cret-Pa55"}, ssl_context=context) as (
        daemon,
        csms,
    ):
        _accepted(daemon)
        assert csms.auth_failures == 0
        assert "s3cret-Pa55" not in daemon.log_path.read_text()  # SecretFilter, DEBUG logs


def test_a_wrong_password_never_gets_in(tmp_path: Path) -> None:
    with _pair(
        tmp_path, 'password = "wrong-password"\n', passwords={CHARGEPOINT_ID: "s3cret-Pa55"}
    ) as (daemon, csms):
        wait_until(lambda: csms.auth_failures >= 1, 10, "the refused handshake")
        # docs/transports.md: after a 401 the next try waits auth_failure_s (minutes), so a
        # wrong password does not hammer the central system
        wait_until(
            lambda: "refused our credentials (HTTP 401)" in daemon.log_path.read_text(),
            5,
            "the one-line explanation in the log",
        )
        status = daemon.status()
        assert status["connection"] == "disconnected" and status["registration"] != "Accepted"
        assert not csms.actions() and csms.auth_failures == 1
        assert "wrong-password" not in daemon.log_path.read_text()


def test_profile_3_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, CHARGEPOINT_ID)
    extra = (
        f'ca_file = "{pki.ca_file}"\ncert_file = "{pki.client_cert_file}"\n'
        f'key_file = "{pki.client_key_file}"\n'
    )
    with _pair(tmp_path, extra, ssl_context=pki.server_context(require_client_cert=True)) as (
        daemon,
        _,
    ):
        _accepted(daemon)
