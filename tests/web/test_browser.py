"""A real browser (headless Chromium) renders `/` and `/sessions` from a server on 127.0.0.1.

Chromium is a test dependency (tests/support/browser.py): when it is missing this test
fails rather than skips. The screenshot is kept in the test's tmp dir; the picture README
shows comes from a running daemon instead (tests/e2e/test_web.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.browser import PNG_MAGIC, Chromium
from tests.web.fakes import FakeHistory, serving, session


def test_chromium_renders_the_live_view_and_the_session_plot(tmp_path: Path) -> None:
    browser = Chromium(tmp_path / "profile")
    history = FakeHistory([session(1, samples=25)])
    with serving(sessions=history) as web:
        live = browser.dom(web.url)
        sessions = browser.dom(web.url + "sessions")
        shot = tmp_path / "web-sessions.png"
        data = browser.screenshot(web.url + "sessions", shot)

    rows = re.findall(r'<tr class="connector" data-connector="(\d+)">(.*?)</tr>', live, re.S)
    assert [r[0] for r in rows] == ["1", "2"], live[:2000]
    assert "Charging" in rows[0][1] and "7360" in rows[0][1] and "****C3D4" in rows[0][1]

    assert 'data-session="1"' in sessions
    for name in ("power", "energy"):
        match = re.search(rf'<path class="{name}" d="([^"]+)"', sessions)
        assert match, f"no {name} path in the rendered DOM"
        points = re.findall(r"[\d.]+,[\d.]+", match.group(1))
        assert len(points) == 25, match.group(1)

    assert data.startswith(PNG_MAGIC) and len(data) > 10_000  # a real picture, not a blank
