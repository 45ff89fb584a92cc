"""Malformed configuration files through `cpagent check-config`: a clear verdict, never a crash."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpagent.cli import main

REPO = Path(__file__).resolve().parents[2]
BENCH_LINES = (REPO / "config" / "bench.toml").read_text().splitlines()
EX_CONFIG = 78
# A key path as config.py names it: connector[2].meter.driver, csms.url, chargepoint ...
# (empty for a key spelt "" in the file, which config.py prints as nothing).
KEY_PATH = re.compile(r"([^\s:][^:\n]*)?")

HOSTILE_VALUES = (
    "-1",
    "0",
    "65536",
    "9" * 40,
    "-9" * 20,
    "1e999",
    "inf",
    "-inf",
    "nan",
    "1.5",
    "true",
    '""',
    '"\\u0000"',
    '"\\u0001"',
    '"' + "x" * 10_000 + '"',
    "[]",
    "[[1]]",
    "{}",
    "{ a = { b = 1 } }",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "1979-05-27",
    '"../../../../etc/passwd"',
    '"~"',
    '"ws://"',
    '"wss://127.0.0.1:1/x"',
    '"mqtt"',
    '"sdm630"',
    '"rdm6300"',
    '"/dev/null"',
    "'''multi\nline'''",
    '"\\ud800"',
    "0x11",
    "0o21",
    "0b1",
    "+17",
    "1_7",
)
HOSTILE_LINES = (
    "[[csms]]",
    "[connector]",
    "[[chargepoint]]",
    "[mqtt]",
    "[connector.meter]",
    "[rfid.x]",
    "[[connector]]",
    "x = 1",
    '"" = 1',
    "a.b.c = 1",
    "relay_pin = 17",
    "[state]",
    "=",
    "[",
    "\ufeff[log]",
    'port = "/dev/ttyS0"',
    'driver = "rdm6300"',
    "\x00",
)

Op = tuple[int, int, int]  # (kind, line index, choice index)


def apply(lines: list[str], ops: list[Op]) -> str:
    """Apply structure-aware damage to the bench config's lines."""
    out = list(lines)
    for kind, at, pick in ops:
        if not out:
            out.append("")
        i = at % len(out)
        if kind == 0:
            del out[i]
        elif kind == 1 and "=" in out[i]:  # same key, hostile value
            key = out[i].split("=", 1)[0]
            out[i] = f"{key}= {HOSTILE_VALUES[pick % len(HOSTILE_VALUES)]}"
        elif kind == 2:
            out.insert(i, HOSTILE_LINES[pick % len(HOSTILE_LINES)])
        elif kind == 3:
            out.insert(i, out[i])  # duplicate key or table
        elif kind == 4 and "=" in out[i]:  # a misspelt key
            key, value = out[i].split("=", 1)
            out[i] = f"{key.strip()[:-1] or 'k'}{'x' * (pick % 2)} ={value}"
        else:
            out[i] = out[i][: pick % (len(out[i]) + 1)]  # truncated line
    return "\n".join(out) + "\n"


@contextlib.contextmanager
def kept_logging() -> Iterator[None]:
    """cli.main replaces the root logger's handlers; give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def check_config(path: Path) -> tuple[int, str, str]:
    """Run `cpagent check-config path` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with kept_logging(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check-config", str(path)])
    return code, out.getvalue(), err.getvalue()


def assert_verdict(path: Path, code: int, out: str, err: str) -> None:
    """Exit 0 or 78; every problem on one line `FILE: key.path: what`; the count adds up."""
    assert code in (0, EX_CONFIG), (code, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    prefix = f"{path}: "
    if code == 0:
        assert out.startswith(f"{path}: ok: "), out
        assert all(line.startswith(prefix + "warning: ") for line in lines), err
        return
    assert out == ""
    *problems, summary = lines
    count = re.fullmatch(rf"cpagent: {re.escape(str(path))}: (\d+) error\(s\)", summary)
    assert count, summary
    errors = [p for p in problems if not p.startswith(prefix + "warning: ")]
    assert len(errors) == int(count.group(1)), err  # one line per problem
    for line in problems:
        assert line.startswith(prefix), line
        key_path, _, message = line[len(prefix) :].removeprefix("warning: ").partition(": ")
        assert KEY_PATH.fullmatch(key_path) and message, line


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs")


def test_the_bench_config_itself_passes(workdir: Path) -> None:
    path = workdir / "bench.toml"
    path.write_text("\n".join(BENCH_LINES) + "\n")
    code, out, err = check_config(path)
    assert (code, err) == (0, "")
    assert_verdict(path, code, out, err)


OPS = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 200), st.integers(0, 100)), min_size=1, max_size=6
)


def test_mutated_configs_get_a_verdict_never_a_traceback(workdir: Path, long_form: bool) -> None:
    path = workdir / "mutated.toml"
    examples = 3000 if long_form else 300

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ops=OPS)
    def one(ops: list[Op]) -> None:
        path.write_text(apply(BENCH_LINES, ops))
        assert_verdict(path, *check_config(path))

    one()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe\x00[",
        b"\xef\xbb\xbf" + "\n".join(BENCH_LINES).encode(),
        b"\x00" * 64,
        b"[" * 10_000,
        b"a = " + b"[" * 100,
        b"[chargepoint]\nid = 1\n" * 500,
        "\n".join(BENCH_LINES).encode()[:-40],
        b"[[connector]]\n" * 5000,
    ],
    ids=[
        "empty",
        "utf16",
        "bom",
        "nuls",
        "deep-tables",
        "nested-array",
        "repeated",
        "truncated",
        "many-connectors",
    ],
)
def test_hostile_files_get_a_verdict(workdir: Path, content: bytes) -> None:
    path = workdir / "hostile.toml"
    path.write_bytes(content)
    assert_verdict(path, *check_config(path))


def test_unreadable_and_missing_files_get_a_verdict(workdir: Path) -> None:
    for path in (workdir / "missing.toml", workdir):  # absent; a directory
        assert_verdict(path, *check_config(path))


@pytest.mark.parametrize(
    "content",
    [b"a = [[[", b"\xff\xfe[x]\n", b"[csms]\nurl=1"],
    ids=["open-arrays", "utf16", "wrong-type"],
)
def test_the_real_command_exits_78_without_a_traceback(workdir: Path, content: bytes) -> None:
    path = workdir / "process.toml"
    path.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "cpagent", "check-config", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_verdict(path, done.returncode, done.stdout, done.stderr)


def test_a_key_with_a_newline_is_still_one_line(workdir: Path) -> None:
    path = workdir / "newline-key.toml"
    path.write_text("\n".join(BENCH_LINES) + '\n[log]\n"a\\nb" = 1\n'.replace("[log]\n", "", 1))
    text = path.read_text().replace('[log]\nlevel = "INFO"', '[log]\nlevel = "INFO"\n"a\\nb" = 1')
    path.write_text(text)
    assert_verdict(path, *check_config(path))


@pytest.mark.parametrize(
    "content",
    [b"a = " + b"[" * 10_000, b"a = " + b"{b = " * 5000 + b"1" + b"}" * 5000],
    ids=["deep-array", "deep-inline-table"],
)
def test_deeply_nested_values_get_a_verdict(workdir: Path, content: bytes) -> None:
    path = workdir / "deep.toml"
    path.write_bytes(content)
    assert_verdict(path, *check_config(path))


@pytest.mark.parametrize("line", ['dir = "../.bench/state"', 'socket = "../.bench/control.sock"'])
def test_a_nul_in_a_path_gets_a_verdict(workdir: Path, line: str) -> None:
    path = workdir / "nul.toml"
    key = line.split(" =")[0]
    path.write_text("\n".join(BENCH_LINES).replace(line, f'{key} = "a\\u0000b"') + "\n")
    assert_verdict(path, *check_config(path))
