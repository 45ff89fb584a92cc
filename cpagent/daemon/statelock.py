"""One daemon per state directory: an exclusive flock on `cpagent.lock`, held for life."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "cpagent.lock"  # in the [state] dir; holds the pid of the daemon that owns it


class StateDirBusy(Exception):
    """Another process holds the state directory; `pid` is its pid when it wrote one."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"cpagent pid {pid}" if pid else "another process"
        super().__init__(f"state dir {path.parent} is in use by {who} (lock {path})")
        self.path, self.pid = path, pid


class StateLock:
    """An exclusive, non-blocking flock(2) on the state dir's lock file.

    The kernel drops the lock when the holder's descriptor closes, so a daemon killed by
    SIGKILL, the OOM killer or a power cut never leaves a stale lock behind: the next start
    takes it at once. The pid written into the file is for the message only.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StateDirBusy at once (never waits)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateDirBusy(self.path, holder_pid(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only the message loses the pid

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file itself stays
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def holder_pid(path: Path) -> int | None:
    """The pid the lock's holder wrote, if the file names one."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
