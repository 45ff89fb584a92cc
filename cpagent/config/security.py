"""Security warnings on a valid configuration: secrets sent in clear, files others can use."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cpagent.config.listen import ListenError, parse_listen
from cpagent.config.rules import Problem, Severity


def security_warnings(sections: dict[str, Any], file: Path | None, mode: int) -> list[Problem]:
    """Warnings (never errors: a bench may run this way on purpose) for `check-config`/`run`."""
    found: list[Problem] = []
    add = found.append
    csms, mqtt = sections.get("csms"), sections.get("mqtt")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        add(
            Problem(
                str(file or "config"),
                "writable by group or others: whoever can edit it "
                "chooses firmware.install_command, run as the service user (chmod go-w)",
                Severity.WARNING,
            )
        )
    if (
        csms is not None
        and csms.transport == "websocket"
        and csms.password is not None
        and csms.url is not None
        and urlsplit(csms.url).scheme == "ws"
    ):
        add(
            Problem(
                "csms.password",
                "sent in clear over ws:// (HTTP Basic, OCPP security "
                "profile 1): anyone on the network path can read it; use wss://",
                Severity.WARNING,
            )
        )
    if mqtt is not None and csms is not None and csms.transport == "mqtt":
        if mqtt.password is not None and not mqtt.tls:
            add(Problem("mqtt.password", "sent in clear without mqtt.tls = true", Severity.WARNING))
        if mqtt.username is None and mqtt.cert_file is None and csms.cert_file is None:
            add(
                Problem(
                    "mqtt.username",
                    "none and no client certificate: on a broker that "
                    "takes anonymous clients anyone can publish frames to this chargepoint",
                    Severity.WARNING,
                )
            )
    web = sections.get("web")
    if web is not None and web.password is not None and not _loopback(web.listen):
        add(
            Problem(
                "web.password",
                "sent unencrypted on every request (HTTP Basic over plain HTTP): anyone on "
                "the LAN path can read it; use a network you trust, or a TLS reverse proxy "
                "in front with listen on 127.0.0.1",
                Severity.WARNING,
            )
        )
    for name, table in (("csms", csms), ("mqtt", mqtt)):
        key_file = getattr(table, "key_file", None)
        if key_file is None:
            continue
        try:
            key_mode = key_file.stat().st_mode
        except OSError:
            continue  # a missing file is already an error
        if key_mode & stat.S_IROTH:
            add(
                Problem(
                    f"{name}.key_file",
                    f"{key_file} is readable by every user: chmod o-r (0600, or 0640 root:cpagent)",
                    Severity.WARNING,
                )
            )
    return found


def _loopback(listen: str) -> bool:
    try:
        return parse_listen(listen).loopback
    except ListenError:
        return False  # already an error
