"""The diagnostics bundle: a .tar.gz of the configured log files, secrets and card ids left out."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import re
import sqlite3
import subprocess
import tarfile
import time
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cpagent.redact import Redactor, is_secret_key, mask_id_tags

MAX_FILE_BYTES = 4 * 1024 * 1024  # the tail of each file that goes in (logs grow without bound)
MAX_FILES = 200  # per configured directory
SECRET_SUFFIXES = frozenset({".pem", ".key", ".p12", ".pfx", ".crt"})  # TLS material: never
# The state database holds card ids, transactions and central-system settings: never shipped,
# nor its WAL/SHM/journal, nor editor and package-manager backups of config files.
STATE_FILE = re.compile(r"\.(?:db|sqlite3?)(?:-wal|-shm|-journal)?$", re.IGNORECASE)
BACKUP_FILE = re.compile(
    r"(?:~|\.bak|\.orig|\.old|\.sw[a-p]|\.dpkg-(?:old|dist|new)|"
    r"\.rpm(?:save|new|orig)|\.save)$|^#.*#$",
    re.IGNORECASE,
)
MARKER = "<redacted>"
_REDACTOR = Redactor(marker=MARKER)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TAG_QUERIES = (
    "SELECT id_tag, parent FROM local_list",
    "SELECT id_tag, parent FROM auth_cache",
    "SELECT id_tag, parent FROM reservations",
    "SELECT id_tag, NULL FROM transactions",
)


def redact(text: str) -> str:
    """A TOML config re-written with every secret replaced, whatever the TOML form (inline
    tables, arrays, multi-line strings): values of keys naming a password, secret, token, key
    file, ...; URL userinfo and `--password x` inside any string. Comments do not survive.
    Text that is not valid TOML comes back as one line saying so: never raw."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        return f"# left out: not valid TOML ({exc}), so it cannot be redacted safely\n"
    return _emit(_clean(data))


def _clean(value: Any, key: str = "") -> Any:
    if key and is_secret_key(key):
        return MARKER
    if isinstance(value, dict):
        return {k: _clean(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _REDACTOR.redact(value)
    return value


def _emit(data: dict[str, Any]) -> str:
    """TOML text for `data` (what tomllib produced): scalars, then tables, arrays of tables."""
    lines: list[str] = []
    _emit_table(data, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit_table(
    table: dict[str, Any], path: list[str], lines: list[str], header: str | None = None
) -> None:
    if header is not None:
        lines += ["", header]
    nested = {}
    for key, value in table.items():
        if isinstance(value, dict) or _is_table_array(value):
            nested[key] = value
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested.items():
        name = ".".join(_key(k) for k in [*path, key])
        if isinstance(value, dict):
            _emit_table(value, [*path, key], lines, f"[{name}]")
        else:
            for item in value:
                _emit_table(item, [*path, key], lines, f"[[{name}]]")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else repr(value)  # repr gives inf / -inf as TOML does
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's


def known_id_tags(databases: Iterable[Path]) -> set[str]:
    """Card ids in state databases (local list, cache, reservations, transactions), read
    without writing: what must be masked wherever it appears in the bundle."""
    tags: set[str] = set()
    for path in databases:
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        except sqlite3.Error:
            continue
        with contextlib.closing(db):
            for query in _TAG_QUERIES:
                try:
                    rows = db.execute(query).fetchall()
                except sqlite3.Error:
                    continue
                tags.update(v for row in rows for v in row if isinstance(v, str) and v)
    return tags


def _scrub(data: bytes, tags: set[str]) -> bytes | None:
    """Text with secrets redacted and card ids masked; None for binary data (unscannable)."""
    if b"\0" in data:
        return None
    text = data.decode("utf-8", "replace")
    return mask_id_tags(_REDACTOR.redact(text), tags).encode()


def journal_argv(unit: str, start_wall: float | None, stop_wall: float | None) -> list[str]:
    """journalctl for `unit` within the requested window (GetDiagnostics startTime/stopTime)."""
    argv = ["journalctl", "--no-pager", "--output=short-iso", f"--unit={unit}"]
    if start_wall is not None:
        argv.append(f"--since=@{int(start_wall)}")
    if stop_wall is not None:
        argv.append(f"--until=@{int(stop_wall) + 1}")
    return argv


def _journal(argv: list[str], limit: int, timeout_s: float) -> tuple[bytes | None, str | None]:
    """(output tail, None) or (None, why not): the journal is where a systemd unit logs."""
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"journal: {argv[0]}: {exc}"
    if done.returncode != 0:
        return None, f"journal: {argv[0]} exit {done.returncode}"
    return done.stdout[-limit:], None  # scrubbed by the caller like every other member


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file())
        yield from found[:MAX_FILES]
    elif path.is_file():
        yield path


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _tail(path: Path, limit: int) -> tuple[bytes, bool]:
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - limit))
        return fh.read(limit), size > limit


def _leave_out(f: Path, config: Path | None) -> str | None:
    """Why file `f` never goes in (raw), or None."""
    name = f.name
    if f.resolve() == config or f.suffix.lower() in SECRET_SUFFIXES:
        return "secret"
    if STATE_FILE.search(name):
        return "state database: card ids, transactions"
    if BACKUP_FILE.search(name):
        return "backup or editor copy: may hold secrets"
    return None


def build_bundle(
    paths: Iterable[str | Path],
    dest: Path,
    *,
    config_path: str | Path | None = None,
    start_wall: float | None = None,
    stop_wall: float | None = None,
    journal_unit: str | None = None,
    timeout_s: float = 30.0,
    max_file_bytes: int = MAX_FILE_BYTES,
    state_dir: str | Path | None = None,
) -> Path:
    """Write `dest` (.tar.gz): each file under `paths` (directories walked), the last
    `max_file_bytes` of each, a redacted copy of `config_path`, and MANIFEST.txt saying what was
    left out and why. Files last modified before `start_wall` are skipped (they hold nothing from
    the requested window). Never shipped: the config file raw, TLS key/certificate files, the
    state database with its WAL/SHM, config backups (*.bak, *~, *.orig, *.swp ...) and binary
    files. In everything shipped (files, config, journal) secrets are redacted in structured
    places and card ids masked to their last 4 characters: the values of idTag-like keys, and
    every id known to the state database(s) under `paths` or in `state_dir`.
    With `journal_unit`, the unit's journal for the window goes in as journal.txt."""
    config = Path(config_path).resolve() if config_path is not None else None
    notes: list[str] = []
    now = time.time()
    chosen: list[Path] = []
    databases = [Path(state_dir) / "cpagent.db"] if state_dir is not None else []
    for root in paths:
        root_path = Path(root)
        if not root_path.exists():
            notes.append(f"missing: {root_path}")
            continue
        for f in _files(root_path):
            why = _leave_out(f, config)
            if why is None:
                chosen.append(f)
                continue
            notes.append(f"left out ({why}): {f}")
            if STATE_FILE.search(f.name) and f.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
                databases.append(f)
    tags = known_id_tags(d for d in databases if d.is_file())
    with tarfile.open(dest, "w:gz") as tar:
        for f in chosen:
            try:
                mtime = f.stat().st_mtime
                if start_wall is not None and mtime < start_wall:
                    notes.append(f"left out (before startTime): {f}")
                    continue
                data, cut = _tail(f, max_file_bytes)
            except OSError as exc:
                notes.append(f"unreadable: {f}: {exc.strerror}")
                continue
            scrubbed = _scrub(data, tags)
            if scrubbed is None:
                notes.append(f"left out (binary: cannot be checked for secrets): {f}")
                continue
            if cut:
                notes.append(f"truncated to the last {max_file_bytes} bytes: {f}")
            _add_bytes(tar, "files" + str(f.resolve()), scrubbed, mtime)
        if config is not None:
            try:
                text = config.read_text(encoding="utf-8", errors="replace")
                shipped = mask_id_tags(redact(text), tags)
                _add_bytes(tar, f"config/{config.name}.redacted", shipped.encode(), now)
            except OSError as exc:
                notes.append(f"config unreadable: {config}: {exc.strerror}")
        if journal_unit is not None:
            journal, why = _journal(
                journal_argv(journal_unit, start_wall, stop_wall), max_file_bytes, timeout_s
            )
            scrubbed = _scrub(journal, tags) if journal is not None else None
            if scrubbed is not None:
                _add_bytes(tar, "journal.txt", scrubbed, now)
            else:
                notes.append(str(why or "journal: binary output left out"))
        manifest = mask_id_tags(_REDACTOR.redact("\n".join(notes) + "\n"), tags)
        _add_bytes(tar, "MANIFEST.txt", manifest.encode(), now)
    return dest
