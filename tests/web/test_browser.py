"""A real browser (headless Chromium) renders `/` and `/sessions` from a server on 127.0.0.1.

Chromium is a test dependency (Debian's `chromium`, installed by install.sh): when it is
missing this test fails rather than skips, so the browser check cannot silently vanish.
The screenshot is kept in the test's tmp dir; with CPAGENT_DOCS_SCREENSHOT=1 it also replaces
docs/img/web-sessions.png, the picture README shows (a test run never edits the tree otherwise).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.web.fakes import FakeHistory, serving, session

REPO = Path(__file__).resolve().parents[2]
README_SHOT = REPO / "docs" / "img" / "web-sessions.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium not found: install Debian's chromium (./install.sh does)")


def _run(browser: str, profile: Path, *args: str) -> str:
    command = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        *args,
    ]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def test_chromium_renders_the_live_view_and_the_session_plot(tmp_path: Path) -> None:
    browser = _chromium()
    profile = tmp_path / "profile"
    history = FakeHistory([session(1, samples=25)])
    with serving(sessions=history) as web:
        live = _run(browser, profile, "--dump-dom", web.url)
        sessions = _run(browser, profile, "--dump-dom", web.url + "sessions")
        shot = tmp_path / "web-sessions.png"
        _run(
            browser, profile, f"--screenshot={shot}", "--window-size=1200,520", web.url + "sessions"
        )

    rows = re.findall(r'<tr class="connector" data-connector="(\d+)">(.*?)</tr>', live, re.S)
    assert [r[0] for r in rows] == ["1", "2"], live[:2000]
    assert "Charging" in rows[0][1] and "7360" in rows[0][1] and "****C3D4" in rows[0][1]

    assert 'data-session="1"' in sessions
    for name in ("power", "energy"):
        match = re.search(rf'<path class="{name}" d="([^"]+)"', sessions)
        assert match, f"no {name} path in the rendered DOM"
        points = re.findall(r"[\d.]+,[\d.]+", match.group(1))
        assert len(points) == 25, match.group(1)

    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000  # a real picture, not a blank
    if os.environ.get("CPAGENT_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, README_SHOT)
