"""The demo's temp config: written TOML reads back the same; simulated hardware required."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from cpagent.config import load_config
from cpagent.demo.agent import DEFAULT_CONFIG, DemoError, demo_config, read_base, to_toml

from .conftest import ROOT


@pytest.mark.parametrize(
    "data",
    [
        {"a": 1, "b": 2.5, "c": True, "d": 'x"y\\z\n', "e": [1, 2], "f": "ünï"},
        {"t": {"k": "v", "inner": {"n": -3}}},
        {"arr": [{"x": 1, "sub": {"y": 2}}, {"x": 3}]},
        {"odd key": 1, "float": 1e20},
        DEFAULT_CONFIG,
    ],
)
def test_written_toml_reads_back_the_same(data: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(data)) == data


@pytest.mark.parametrize("source", [None, "config/bench.toml"])
def test_demo_config_is_valid_and_points_at_the_demo_csms(
    tmp_path: Path, source: str | None
) -> None:
    base = read_base(str(ROOT / source)) if source else DEFAULT_CONFIG
    path = tmp_path / "cpagent.toml"
    path.write_text(to_toml(demo_config(base, "ws://127.0.0.1:1234/ocpp", tmp_path)))
    config = load_config(path)
    assert config.csms.url == "ws://127.0.0.1:1234/ocpp"
    assert config.state.dir == tmp_path / "state"
    assert config.control.socket == tmp_path / "control.sock"
    assert config.gpio.pin_factory == "mock"


def test_real_hardware_config_is_refused_with_every_reason() -> None:
    with pytest.raises(DemoError) as error:
        read_base(str(ROOT / "config" / "cpagent.toml"))
    assert error.value.exit_code == 78
    message = str(error.value)
    for reason in (
        "gpio.pin_factory is 'lgpio'",
        "connector[1].meter.driver is 'sdm630'",
        "rfid.driver is 'rdm6300'",
    ):
        assert reason in message
