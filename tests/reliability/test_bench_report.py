"""bench/report.py: figure blocks are found, and a missing script is a row, not a crash."""

from __future__ import annotations

import pytest

from bench.report import Outcome, last_block, run, table


@pytest.mark.parametrize(
    ("text", "lines", "block"),
    [
        ("warming up\n\nfigure a: 1\nfigure b: 2\n", 12, ("figure a: 1", "figure b: 2")),
        ("only: 1", 12, ("only: 1",)),
        ("x\n\na\nb\nc\n\n\n", 2, ("b", "c")),
        ("", 12, ()),
    ],
)
def test_last_block_is_the_final_paragraph(text: str, lines: int, block: tuple[str, ...]) -> None:
    assert last_block(text, lines) == block


def test_a_missing_script_is_reported_as_missing() -> None:
    assert run("no_such_bench", 5.0, 12) == Outcome("no_such_bench", "missing", 0.0, ())


def test_table_names_each_script_once_and_escapes_pipes() -> None:
    text = table([Outcome("a", "ok", 1.2, ("x | y", "z")), Outcome("b", "missing", 0.0, ())])
    assert text.splitlines()[2:] == [
        "| a | ok | 1 | `x \\| y` |",
        "|  |  |  | `z` |",
        "| b | missing | 0 |  |",
    ]
