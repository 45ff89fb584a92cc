"""The page's HTML escaping matches the standard library's `html.escape`."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from cpagent.web.markup import escape


@given(st.text())
def test_escape_is_html_escape(text: str) -> None:
    assert escape(text) == html.escape(text, quote=True)


def test_markup_and_quotes_cannot_break_out_of_a_text_node_or_attribute() -> None:
    hostile = "</td><script>alert('x')</script>\" onload=\"x & y"
    out = escape(hostile)
    assert not set("<>\"'") & set(out)
    assert html.unescape(out) == hostile
