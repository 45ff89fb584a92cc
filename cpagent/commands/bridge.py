"""`cpagent bridge`: its command line, turned into a running cpagent.bridge.Bridge."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from cpagent.bridge import EX_CONFIG, MAX_CHARGEPOINTS, run_bridge
from cpagent.bridge_credentials import (
    EXAMPLE,
    CredentialsError,
    load_credentials,
    read_secret_file,
)
from cpagent.transports.frame_cap import MAX_FRAME_BYTES
from cpagent.transports.mqtt import PACKET_OVERHEAD, BrokerLogin

log = logging.getLogger("cpagent.bridge")


def parse_host_port(text: str, default_port: int = 1883) -> tuple[str, int]:
    """`HOST:PORT` (or `HOST`, or `[v6]:PORT`) for --mqtt; raises ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or host.count(":") and not host.startswith("["):
        host, port = text, str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def add_bridge_arguments(parser: argparse.ArgumentParser) -> None:
    """The `cpagent bridge` options."""
    parser.add_argument(
        "--mqtt",
        required=True,
        metavar="HOST:PORT",
        help="MQTT broker the chargepoints use (port defaults to 1883)",
    )
    parser.add_argument(
        "--csms",
        required=True,
        metavar="URL",
        help="central system base url (ws:// or wss://); each chargepoint "
        "connects to URL/<chargepoint id>",
    )
    parser.add_argument(
        "--topic-prefix",
        default="ocpp",
        help="MQTT topic prefix, as [mqtt] topic_prefix (default: ocpp)",
    )
    parser.add_argument(
        "--protocol",
        default="ocpp1.6",
        choices=["ocpp1.6", "ocpp2.0.1", "ocpp2.1"],
        help="OCPP-J subprotocol offered to the central system",
    )
    parser.add_argument("--ca-file", help="CA certificate(s) to verify a wss:// central system")
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        help="TOML file, mode 0600: [<chargepoint id>] password = ... and/or "
        "cert_file/key_file, what the bridge presents to the central "
        "system for each chargepoint; ids without an entry are refused",
    )
    parser.add_argument(
        "--allow-unknown-chargepoints",
        action="store_true",
        help="bench only: relay any chargepoint id, without credentials for "
        "those not in --credentials",
    )
    parser.add_argument(
        "--max-chargepoints",
        type=int,
        default=MAX_CHARGEPOINTS,
        metavar="N",
        help=f"relay at most N chargepoints at once (default {MAX_CHARGEPOINTS})",
    )
    parser.add_argument("--mqtt-username", help="broker username (the ACL's bridge user)")
    parser.add_argument(
        "--mqtt-password-file",
        metavar="FILE",
        help="file (mode 0600) whose first line is the broker password",
    )
    parser.add_argument("--mqtt-tls", action="store_true", help="TLS >= 1.2 to the broker")
    parser.add_argument("--mqtt-ca-file", help="CA certificate(s) to verify the broker")
    parser.add_argument("--mqtt-cert-file", help="TLS client certificate for the broker")
    parser.add_argument("--mqtt-key-file", help="its private key (mode 0600)")
    parser.add_argument(
        "--max-frame-bytes",
        type=int,
        default=MAX_FRAME_BYTES,
        metavar="N",
        help="largest message taken from the central system (WebSocket close "
        "1009 beyond) or the broker (MQTT Maximum Packet Size, plus "
        f"{PACKET_OVERHEAD} for the packet's header); default "
        f"{MAX_FRAME_BYTES}",
    )


def bridge_from_args(args: argparse.Namespace) -> int:
    """Run the bridge from parsed `add_bridge_arguments` options; the exit status."""
    try:
        host, port = parse_host_port(args.mqtt)
    except ValueError as exc:
        log.error("bridge: --mqtt: %s", exc)
        return 2
    if args.credentials is None and not args.allow_unknown_chargepoints:
        log.error("bridge: give --credentials FILE (or --allow-unknown-chargepoints on a bench)")
        return 2
    if args.max_frame_bytes < 1:
        log.error("bridge: --max-frame-bytes: must be at least 1")
        return 2
    if args.max_chargepoints < 1 or (args.mqtt_cert_file is None) != (args.mqtt_key_file is None):
        log.error(
            "bridge: --max-chargepoints must be >= 1; --mqtt-cert-file and "
            "--mqtt-key-file go together"
        )
        return 2
    try:
        credentials = load_credentials(args.credentials) if args.credentials else {}
        password = read_secret_file(args.mqtt_password_file) if args.mqtt_password_file else None
    except CredentialsError as exc:
        log.error("bridge: %s", exc)
        return EX_CONFIG
    run_bridge(
        host,
        port,
        args.csms,
        topic_prefix=args.topic_prefix,
        subprotocol=args.protocol,
        csms_ca_file=args.ca_file,
        credentials=credentials,
        allow_unknown=args.allow_unknown_chargepoints,
        max_chargepoints=args.max_chargepoints,
        mqtt_login=BrokerLogin(
            username=args.mqtt_username,
            password=password,
            tls=args.mqtt_tls,
            ca_file=args.mqtt_ca_file,
            cert_file=args.mqtt_cert_file,
            key_file=args.mqtt_key_file,
        ),
        max_frame_bytes=args.max_frame_bytes,
    )
    return 0


def register(subparsers: Any) -> None:
    """Add `cpagent bridge` to the command line."""
    parser = subparsers.add_parser(
        "bridge",
        help="relay chargepoints on an MQTT broker to a WebSocket central system",
        description="For every chargepoint seen on the MQTT broker, open a WebSocket to the "
        "central system at URL/<chargepoint id> and relay OCPP frames both ways, "
        "mirroring online/offline. Runs until SIGTERM or Ctrl-C.",
        epilog="exit codes: 0 stopped, 2 bad option, 78 unusable credentials or password "
        "file\n\nexamples:\n"
        "  cpagent bridge --mqtt 127.0.0.1:1883 --csms wss://csms.example/ocpp \\\n"
        "      --credentials /etc/cpagent-bridge/credentials.toml --mqtt-tls \\\n"
        "      --mqtt-username cpagent-bridge \\\n"
        "      --mqtt-password-file /etc/cpagent-bridge/mqtt-password\n"
        "  cpagent bridge --mqtt 127.0.0.1:1883 --csms ws://127.0.0.1:9000 "
        "--allow-unknown-chargepoints   (bench)\n\n"
        "credentials file (mode 0600):\n" + EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_bridge_arguments(parser)
    parser.set_defaults(func=bridge_from_args)
