"""Headless Chromium for the web page tests: the rendered DOM and a screenshot of a URL.

Chromium is a test dependency (Debian's `chromium`, installed by install.sh): when it is
missing the test fails rather than skips, so a browser check cannot silently vanish.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Chromium:
    """One headless Chromium profile under `profile`; each call is one browser run."""

    def __init__(self, profile: Path) -> None:
        self.binary = _find()
        self.profile = profile

    def dom(self, url: str) -> str:
        """The DOM after the page loaded, as HTML (`--dump-dom`)."""
        return self._run("--dump-dom", url)

    def screenshot(self, url: str, path: Path, size: str = "1200,520") -> bytes:
        """A PNG of the page at window `size`, saved at `path`; its bytes."""
        self._run(f"--screenshot={path}", f"--window-size={size}", url)
        return path.read_bytes()

    def _run(self, *args: str) -> str:
        command = [
            self.binary,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={self.profile}",
            "--hide-scrollbars",
            *args,
        ]
        if os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
        return done.stdout


def _find() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium not found: install Debian's chromium (./install.sh does)")
