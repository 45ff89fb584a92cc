"""The bridge's credentials file: chargepoint id -> how it authenticates to the central system."""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cpagent.transports.mqtt import check_topic_level

EXAMPLE = """\
# /etc/cpagent-bridge/credentials.toml, mode 0600: one table per chargepoint id
[CP-0001]
password = "the AuthorizationKey the central system knows"   # OCPP security profile 1/2
[CP-0002]
cert_file = "CP-0002.pem"                                     # profile 3 (wss:// only)
key_file = "CP-0002.key"
"""
KEYS = ("password", "cert_file", "key_file")


class CredentialsError(Exception):
    """The credentials file (or a secret file) is unusable; the message says why."""


@dataclass(frozen=True, slots=True)
class ChargepointCredentials:
    """What the bridge presents to the central system for one chargepoint."""

    password: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


def check_private(path: Path) -> os.stat_result:
    """Refuse a secret file that group or others may read or write (0600 / 0400 only)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise CredentialsError(f"{path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsError(f"{path}: not a regular file")
    if info.st_mode & 0o077:
        raise CredentialsError(
            f"{path}: mode {stat.S_IMODE(info.st_mode):04o} lets other users "
            "read or change secrets; chmod 600 it"
        )
    return info


def read_secret_file(path: str | Path) -> str:
    """The first line of a 0600 file (e.g. the bridge's broker password), stripped."""
    file = Path(path)
    check_private(file)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{file}: {exc}") from None
    if not lines or not lines[0].strip():
        raise CredentialsError(f"{file}: empty")
    return lines[0].strip()


def load_credentials(path: str | Path) -> dict[str, ChargepointCredentials]:
    """Read and check the credentials file; raise CredentialsError naming the first problem."""
    file = Path(path).absolute()
    check_private(file)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CredentialsError(f"{file}: {exc}") from None
    found: dict[str, ChargepointCredentials] = {}
    for chargepoint_id, table in data.items():
        where = f"{file}: [{chargepoint_id}]"
        try:
            check_topic_level(chargepoint_id)
        except ValueError as exc:
            raise CredentialsError(f"{where}: {exc}") from None
        if not isinstance(table, dict):
            raise CredentialsError(f"{where}: must be a table (password and/or cert_file)")
        found[chargepoint_id] = _entry(table, where, file.parent)
    return found


def _entry(table: dict[str, object], where: str, base: Path) -> ChargepointCredentials:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise CredentialsError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    values: dict[str, str | None] = {}
    for name in KEYS:
        value = table.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise CredentialsError(f"{where}.{name}: must be a non-empty string")
        values[name] = value if isinstance(value, str) else None
    password = values["password"]
    cert = base / values["cert_file"] if values["cert_file"] else None
    key = base / values["key_file"] if values["key_file"] else None
    if (cert is None) != (key is None):
        raise CredentialsError(f"{where}: cert_file and key_file must be given together")
    if password is None and cert is None:
        raise CredentialsError(f"{where}: needs a password or cert_file and key_file")
    for file in (cert, key):
        if file is not None and not file.is_file():
            raise CredentialsError(f"{where}: no such file: {file}")
    if key is not None:
        check_private(key)
    return ChargepointCredentials(password, cert, key)
