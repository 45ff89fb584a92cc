"""Suite-wide pytest options and fixtures: `--long` turns on the long form of reliability runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def _drop_log_handlers_a_test_installed() -> Iterator[None]:
    """`cpagent.cli.main()` run in-process installs a root handler on the current stderr;
    once pytest closes that capture stream, later log records from lingering threads would
    print "--- Logging error ---". Remove such handlers after each test (pytest's stay)."""
    root = logging.getLogger()
    before = set(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in before and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
