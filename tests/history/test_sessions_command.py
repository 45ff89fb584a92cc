"""`cpagent sessions`: the table, CSV and JSON Lines exports, streamed, and its errors."""

from __future__ import annotations

import csv
import inspect
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.sessions_export import fill
from cpagent import cli
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.store import Store
from cpagent.commands import sessions
from tests.support.sim_config import sim_config

REPO = Path(__file__).resolve().parents[2]
T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z


@pytest.fixture
def config(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    path = tmp_path / "cpagent.toml"
    path.write_text(
        sim_config(cp_id="CP1", url="ws://127.0.0.1:9/ocpp", state=state, socket=tmp_path / "s")
    )
    return path


def two_sessions(config: Path) -> None:
    """Two sessions through the store; the second's card id needs CSV quoting."""
    store = Store.open(config.parent / "state" / "cpagent.db")
    for n, tag in enumerate(("04A1B2C3D4", 'CARD,"7"')):
        start = T0 + 86400 * n
        local = store.begin_transaction(1 + n, tag, 1000.0, {"timestamp": to_wire(start)})
        stop = {"meterStop": 1000 + 7351 * (n + 1), "timestamp": to_wire(start + 3600)}
        store.end_transaction(local, stop | {"reason": "EVDisconnected"})
    head = store.head()
    assert head is not None
    store.ack(head.seq, transaction_id=4711)  # the first Start answered
    store.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["sessions", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_masks_card_ids_and_sums_the_energy(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_sessions(config)
    code, out, _ = run(capsys, "--config", str(config))
    assert code == 0
    head, first, second, total = out.splitlines()
    assert head.split()[:4] == ["local", "id", "conn", "card"]
    assert first.split() == [
        "1", "4711", "1", "****C3D4", "2025-12-01", "00:00:00", "2025-12-01", "01:00:00",
        "7.351", "EVDisconnected", "no",
    ]  # fmt: skip
    assert second.split()[:4] == ["2", "-", "2", '****,"7"']
    assert total == "2 sessions, 22.053 kWh"
    assert "04A1B2C3D4" not in out
    code, out, _ = run(capsys, "--show-tags", "--config", str(config))
    assert "04A1B2C3D4" in out


def test_csv_is_rfc_4180_with_iso_times_and_kwh(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_sessions(config)
    code, out, _ = run(capsys, "--csv", "--config", str(config))
    assert code == 0
    assert out.count("\r\n") == 3  # CRLF line ends (RFC 4180 §2)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(sessions.CSV_COLUMNS)
    assert rows[0] | {} == {
        "local_id": "1",
        "transaction_id": "4711",
        "connector": "1",
        "id_tag": "04A1B2C3D4",  # the operator's own billing: whole
        "start": "2025-12-01T00:00:00Z",
        "stop": "2025-12-01T01:00:00Z",
        "meter_start_wh": "1000",
        "meter_stop_wh": "8351",
        "energy_kwh": "7.351",
        "stop_reason": "EVDisconnected",
        "acknowledged": "false",
    }
    assert rows[1]["id_tag"] == 'CARD,"7"' and rows[1]["transaction_id"] == ""
    assert '"CARD,""7"""' in out  # quoted, quotes doubled


def test_json_is_one_array_without_and_with_samples(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(config.parent / "state" / "cpagent.db", 3, 4)
    code, out, _ = run(capsys, "--json", "--config", str(config))
    sessions = json.loads(out)  # RFC 8259: one document, the whole history
    assert code == 0 and [s["local_id"] for s in sessions] == [1, 2, 3]
    assert "samples" not in sessions[0] and sessions[0]["id_tag"] == "CARD00000001"
    code, out, _ = run(capsys, "--json", "--samples", "--config", str(config))
    first = json.loads(out)[0]
    assert len(first["samples"]) == 4 and first["samples"][0][1:] == [7200.0, 1000.0]


def test_json_lines_give_the_same_objects_one_a_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(config.parent / "state" / "cpagent.db", 3, 4)
    _, array, _ = run(capsys, "--json", "--samples", "--config", str(config))
    code, out, _ = run(capsys, "--json-lines", "--samples", "--config", str(config))
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == json.loads(array)


def test_an_empty_history_as_json_is_an_empty_array(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(config.parent / "state" / "cpagent.db", 0, 0)
    code, out, _ = run(capsys, "--json", "--config", str(config))
    assert (code, json.loads(out)) == (0, [])


def test_since_takes_a_date_or_a_utc_date_time(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_sessions(config)
    for since, count in (("2025-12-02", 1), ("2025-12-01T00:00", 2), ("2025-12-02T00:00:01", 0)):
        code, out, _ = run(capsys, "--since", since, "--csv", "--config", str(config))
        assert (code, len(out.splitlines()) - 1) == (0, count)
    code, out, _ = run(capsys, "--since", "2025-12-03", "--config", str(config))
    assert out == "no sessions since 2025-12-03 00:00:00 UTC\n"


@pytest.mark.parametrize("since", ["yesterday", "2025-13-01", "01.12.2025", ""])
def test_a_bad_since_is_a_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    code, out, err = run(capsys, "--since", since, "--config", str(config))
    assert (code, out) == (64, "")
    assert f"--since {since!r}: not a date" in err


def test_samples_need_json(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--csv", "--samples", "--config", str(config))
    assert code == 64 and "--samples goes with --json" in err


def test_a_missing_database_says_so(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(config))
    assert (code, out) == (66, "")
    assert "cpagent.db: no state database (no session recorded yet)" in err


class FirstWrite(io.StringIO):
    """Output that notes how far the session stream was when the first row was written."""

    def __init__(self) -> None:
        super().__init__()
        self.stream: Any = None
        self.state_at_first_row: str | None = None

    def write(self, text: str) -> int:
        if self.state_at_first_row is None and self.tell() > 0:  # past the header
            self.state_at_first_row = inspect.getgeneratorstate(self.stream)
        return super().write(text)


def test_10000_sessions_stream_out_as_they_are_read(config: Path, monkeypatch: Any) -> None:
    fill(config.parent / "state" / "cpagent.db", 10_000, 2)
    out = FirstWrite()
    from cpagent.history import SessionHistory

    iterate = SessionHistory.iterate

    def watched(self: SessionHistory, *a: Any, **kw: Any) -> Any:
        out.stream = iterate(self, *a, **kw)
        return out.stream

    monkeypatch.setattr(SessionHistory, "iterate", watched)  # observed, not replaced
    args = cli.build_parser("sessions").parse_args(["sessions", "--csv", "--config", str(config)])
    assert sessions.run(args, out) == 0
    assert out.state_at_first_row == inspect.GEN_SUSPENDED  # not read to the end first
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert len(rows) == 10_001 and rows[-1][0] == "10000"


def test_a_reader_that_stops_early_ends_it_quietly(config: Path) -> None:
    """`cpagent sessions --csv | head -2`: no traceback when the pipe closes."""
    fill(config.parent / "state" / "cpagent.db", 10_000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpagent", "sessions", "--csv", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"local_id,")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert err == b""


def test_csv_is_utf_8_whatever_the_locale(config: Path) -> None:
    store = Store.open(config.parent / "state" / "cpagent.db")
    local = store.begin_transaction(1, "KARTE-Ä1", 0.0, {"timestamp": to_wire(T0)})
    store.end_transaction(local, {"meterStop": 5, "timestamp": to_wire(T0 + 1), "reason": "Local"})
    store.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "latin-1", "LC_ALL": "C"}
    done = subprocess.run(
        [sys.executable, "-m", "cpagent", "sessions", "--csv", "--config", str(config)],
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert ",KARTE-Ä1,".encode() in done.stdout
