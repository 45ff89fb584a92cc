"""The diagnostics bundle: a .tar.gz of the configured log/state files, secrets left out."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

MAX_FILE_BYTES = 4 * 1024 * 1024  # the tail of each file that goes in (logs grow without bound)
MAX_FILES = 200  # per configured directory
SECRET_SUFFIXES = frozenset({".pem", ".key", ".p12", ".pfx", ".crt"})  # TLS material: never
_SECRET_KEY = re.compile(r"pass|secret|token|key|credential|auth", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z0-9_.\"'-]+)(\s*=\s*)(.*)$")
_USERINFO = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@")


def redact(text: str) -> str:
    """A TOML/INI-like text with secret values replaced: any key naming a password, secret,
    token, key, credential or auth, and any password inside a URL's userinfo."""
    out = []
    for line in text.splitlines():
        m = _ASSIGNMENT.match(line)
        if m and _SECRET_KEY.search(m.group(2)):
            line = f'{m.group(1)}{m.group(2)}{m.group(3)}"<redacted>"'
        out.append(_USERINFO.sub(r"\1<redacted>@", line))
    return "\n".join(out) + "\n"


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
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"journal: {argv[0]}: {exc}"
    if done.returncode != 0:
        return None, f"journal: {argv[0]} exit {done.returncode}"
    text = _USERINFO.sub(r"\1<redacted>@", done.stdout[-limit:].decode("utf-8", "replace"))
    return text.encode(), None


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


def build_bundle(paths: Iterable[str | Path], dest: Path, *, config_path: str | Path | None = None,
                 start_wall: float | None = None, stop_wall: float | None = None,
                 journal_unit: str | None = None, timeout_s: float = 30.0,
                 max_file_bytes: int = MAX_FILE_BYTES) -> Path:
    """Write `dest` (.tar.gz): each file under `paths` (directories walked), the last
    `max_file_bytes` of each, a redacted copy of `config_path`, and MANIFEST.txt saying what was
    left out and why. Files last modified before `start_wall` are skipped (they hold nothing from
    the requested window); the config file and TLS key/certificate files never go in raw.
    With `journal_unit`, the unit's journal for the window goes in as journal.txt."""
    config = Path(config_path).resolve() if config_path is not None else None
    notes: list[str] = []
    now = time.time()
    with tarfile.open(dest, "w:gz") as tar:
        for root in paths:
            root_path = Path(root)
            if not root_path.exists():
                notes.append(f"missing: {root_path}")
                continue
            for f in _files(root_path):
                resolved = f.resolve()
                if resolved == config or f.suffix.lower() in SECRET_SUFFIXES:
                    notes.append(f"left out (secret): {f}")
                    continue
                try:
                    mtime = f.stat().st_mtime
                    if start_wall is not None and mtime < start_wall:
                        notes.append(f"left out (before startTime): {f}")
                        continue
                    data, cut = _tail(f, max_file_bytes)
                except OSError as exc:
                    notes.append(f"unreadable: {f}: {exc.strerror}")
                    continue
                if cut:
                    notes.append(f"truncated to the last {max_file_bytes} bytes: {f}")
                _add_bytes(tar, "files" + str(resolved), data, mtime)
        if config is not None:
            try:
                text = config.read_text(encoding="utf-8", errors="replace")
                _add_bytes(tar, f"config/{config.name}.redacted", redact(text).encode(), now)
            except OSError as exc:
                notes.append(f"config unreadable: {config}: {exc.strerror}")
        if journal_unit is not None:
            journal, why = _journal(journal_argv(journal_unit, start_wall, stop_wall),
                                    max_file_bytes, timeout_s)
            if journal is not None:
                _add_bytes(tar, "journal.txt", journal, now)
            else:
                notes.append(str(why))
        _add_bytes(tar, "MANIFEST.txt", ("\n".join(notes) + "\n").encode(), now)
    return dest
