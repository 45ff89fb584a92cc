"""Suite-wide pytest options: `--long` turns on the long form of reliability and fuzz runs."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="run the long form of reliability, fuzz and soak tests (minutes to hours)",
    )


@pytest.fixture
def long_form(request: pytest.FixtureRequest) -> bool:
    """True when the suite runs with --long."""
    return bool(request.config.getoption("--long"))
