"""Runs the configured firmware install command on a downloaded image (no shell, a timeout)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

PLACEHOLDER = "{file}"


def install_argv(template: Sequence[str], file: str) -> list[str]:
    """`template` with every "{file}" replaced by `file`; appended when none is present."""
    if not template:
        raise ValueError("the install command is empty")
    argv = [arg.replace(PLACEHOLDER, file) for arg in template]
    return argv if any(PLACEHOLDER in arg for arg in template) else [*argv, file]


def run_install(template: Sequence[str], file: str, *, timeout_s: float) -> tuple[bool, str]:
    """Run the install command; (True, detail) when it exits 0 within `timeout_s`.

    The command gets no stdin and never goes through a shell; on timeout it is killed.
    `detail` is for the log: the exit status and the last line of its output."""
    argv = install_argv(template, file)
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"{argv[0]}: killed after {timeout_s:g} s"
    except OSError as exc:
        return False, f"{argv[0]}: {exc.strerror or exc}"
    output = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
    last = output[-1][:200] if output else ""
    return done.returncode == 0, f"{argv[0]}: exit {done.returncode}" + (
        f": {last}" if last else ""
    )
