"""Firmware install hand-off: the daemon (no privileges) asks, a root systemd unit installs.

Theory of operation: the daemon runs with NoNewPrivileges=true, so `sudo` cannot work and the
install step runs as its own unit instead. `request_install` (the daemon's install_command,
`cpagent firmware-install request {file}`) moves the downloaded image into the spool directory
and writes `request.json` there atomically; `cpagent-firmware-install.path` (PathExists=) starts
`cpagent-firmware-install.service` as root, which runs `apply_request`: it takes the request
(renames it away, so the path unit does not fire again), copies the image through a file
descriptor opened without following symlinks into its own private directory (what the
unprivileged side controls stops at the copy), runs the installer fixed in the unit's
ExecStart= (never a command from the request) on the copy, and writes `result-<id>.json`,
which `request_install` waits for until its deadline and reads back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from cpagent.firmware.install import run_install

SPOOL = Path("/var/lib/cpagent/firmware-install")
REQUEST = "request.json"
TAKEN = "request.taken"
MAX_REQUEST_BYTES = 4096
_IMAGE_NAME = re.compile(r"^image-[0-9a-f]{32}$")
_ID = re.compile(r"^[0-9a-f]{32}$")
POLL_S = 0.2  # how often the daemon side looks for the result (files: no change events)


def _write_atomic(path: Path, data: dict[str, object], mode: int = 0o640) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def request_install(
    image: str | Path, *, spool: Path = SPOOL, timeout_s: float = 900.0, poll_s: float = POLL_S
) -> tuple[bool, str]:
    """Hand `image` to the install unit and wait for its verdict: (installed, detail)."""
    spool.mkdir(mode=0o750, parents=True, exist_ok=True)
    if (spool / REQUEST).exists() or (spool / TAKEN).exists():
        return False, "another firmware install is in progress"
    request_id = uuid.uuid4().hex
    staged = spool / f"image-{request_id}"
    try:
        shutil.move(str(image), staged)  # a rename within the state directory
        staged.chmod(0o640)
    except OSError as exc:
        return False, f"cannot stage {image} in {spool}: {exc.strerror or exc}"
    result = spool / f"result-{request_id}.json"
    _write_atomic(spool / REQUEST, {"id": request_id, "image": staged.name})
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not result.exists():
        if time.monotonic() >= deadline:
            with contextlib.suppress(OSError):
                (spool / REQUEST).unlink()  # not taken: withdraw it
            with contextlib.suppress(OSError):
                staged.unlink()
            return False, (
                f"no answer from cpagent-firmware-install within {timeout_s:g} s "
                "(is cpagent-firmware-install.path enabled?)"
            )
        pause.wait(poll_s)  # a poll period, not a wait for a condition
    try:
        answer = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return False, f"unreadable install result {result}: {exc}"
    finally:
        with contextlib.suppress(OSError):
            result.unlink()
    if not isinstance(answer, dict) or answer.get("id") != request_id:
        return False, f"install result {result} is not for this request"
    return answer.get("ok") is True, str(answer.get("detail", ""))[:300]


def apply_request(
    installer: Sequence[str], *, spool: Path = SPOOL, work_dir: Path, timeout_s: float = 600.0
) -> tuple[bool, str] | None:
    """Root side: take the pending request, install, write the result; None if none pending.

    Everything in the spool is written by the unprivileged daemon, so the request is read
    as untrusted: bounded size, an id and an image name of fixed shape, the image a regular
    file (no symlink), copied into `work_dir` before the installer sees it."""
    try:
        os.replace(spool / REQUEST, spool / TAKEN)
    except FileNotFoundError:
        return None
    request_id = None
    try:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(_read_nofollow(spool / TAKEN, MAX_REQUEST_BYTES))
            if isinstance(data, dict) and isinstance(data.get("id"), str) and _ID.match(data["id"]):
                request_id = data["id"]
        if request_id is None:
            return False, "refused: malformed request"
        ok, detail = _install(installer, spool, data.get("image"), work_dir, timeout_s)
        _write_atomic(
            spool / f"result-{request_id}.json", {"id": request_id, "ok": ok, "detail": detail}
        )
        return ok, detail
    finally:
        with contextlib.suppress(OSError):
            (spool / TAKEN).unlink()


def _install(
    installer: Sequence[str], spool: Path, name: object, work_dir: Path, timeout_s: float
) -> tuple[bool, str]:
    if not isinstance(name, str) or not _IMAGE_NAME.match(name):
        return False, "refused: the image name is not one the daemon writes"
    copy = work_dir / "image"
    try:
        fd = os.open(spool / name, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        return False, f"refused: image {name}: {exc.strerror or exc}"
    try:
        with os.fdopen(fd, "rb") as src:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                return False, f"refused: image {name} is not a regular file"
            work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst)
        ok, detail = run_install(installer, str(copy), timeout_s=timeout_s)
    finally:
        with contextlib.suppress(OSError):
            copy.unlink()
        with contextlib.suppress(OSError):
            (spool / name).unlink()
    return ok, detail


def _read_nofollow(path: Path, limit: int) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError("request too large")
    return data.decode("utf-8")
