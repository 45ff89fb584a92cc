"""Argument types the CLI's commands share: bounded numbers, connector ids, idTags, choices."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable


def integer(
    minimum: int, *, noun: str = "a whole number", too_small: str | None = None
) -> Callable[[str], int]:
    """A whole number >= `minimum`; the messages name `noun` and the bound."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(too_small or f"must be at least {minimum}")
        return value

    return parse


def number(
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    noun: str = "a number",
    out_of_range: str,
) -> Callable[[str], float]:
    """A finite number within [low, high] (`*_open`: that end excluded). `out_of_range` may
    name the text given as `{text!r}`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        above = low < value if low_open else low <= value
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            raise argparse.ArgumentTypeError(out_of_range.format(text=text))
        return value

    return parse


connector_id = integer(1, noun="a connector number", too_small="connector numbers start at 1")


def id_tag(text: str) -> str:
    """An idTag: OCPP 1.6 §7.28 IdToken is CiString20Type (printable ASCII on cards)."""
    if not 1 <= len(text) <= 20 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"an idTag is 1-20 printable characters, not {text!r}")
    return text


def one_of(choices: Iterable[str]) -> Callable[[str], str]:
    """One of `choices`, spelt exactly."""
    allowed = tuple(choices)

    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return parse
