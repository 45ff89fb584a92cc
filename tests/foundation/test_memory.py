"""Memory: freed heap returned to the OS, and nothing imported at start that is not used."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from cpagent.daemon import memory

REPO = Path(__file__).resolve().parents[2]


def test_trim_works_where_the_c_library_is_glibc() -> None:
    assert memory.trim() is (platform.libc_ver()[0] == "glibc")


# What `cpagent run` must not import before it is needed: each is held for the daemon's whole
# life once imported (bench/footprint.py measures the total). Firmware Management's transfer
# code (urllib, ftplib, tarfile) only with [firmware] install_command; ctypes only when the
# heap is trimmed; difflib only for a config with a typo; the seed's TaskManager facade never;
# uuid (and its platform) never: ids come from cpagent.ids.
NOT_AT_START = (
    "cpagent.firmware.worker",
    "cpagent.firmware.transfer",
    "cpagent.firmware.bundle",
    "cpagent.core.task_manager",
    "uuid",  # imports platform (~0.17 MiB) for version 1 ids we never make
    "platform",
    "urllib.request",
    "ftplib",
    "tarfile",
    "ctypes",
    "difflib",
)
# The daemon runs for real (main thread: its signal handlers); a watcher thread waits for its
# control socket, has one 1.6 payload checked, lists the loaded modules and ends the process.
PROBE = """
import os, sys, threading, time
from pathlib import Path

def watch():
    deadline = time.monotonic() + 30
    while not any(Path(sys.argv[2]).rglob("*.sock")) and time.monotonic() < deadline:
        time.sleep(0.05)
    from cpagent.core import schemas
    schemas.check_payload("ocpp1.6", "BootNotification", "request", {})
    print("\\n".join(sorted(sys.modules)), flush=True)
    os._exit(0)

threading.Thread(target=watch, daemon=True).start()
from cpagent.cli import main
main(["run", "--config", sys.argv[1]])
"""


def test_the_daemon_imports_at_start_only_what_it_uses(bench_config: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(bench_config), str(bench_config.parent)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert {"cpagent.daemon.ocpp_app", "cpagent.core.validators.v16.BootNotification"} <= loaded
    assert sorted(loaded & set(NOT_AT_START)) == []
