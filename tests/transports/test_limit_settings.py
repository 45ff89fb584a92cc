"""The limit keys in the config file: defaults, and values that cannot work are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpagent.config import Config, ConfigError, load_config
from cpagent.transports.frame_cap import MAX_FRAME_BYTES

REPO = Path(__file__).resolve().parents[2]
MINIMAL = """\
[chargepoint]
id = "CP1"
vendor = "v"
model = "m"
[csms]
url = "ws://127.0.0.1:9000/ocpp"
{csms}
[[connector]]
relay_pin = 17
[firmware]
{firmware}
"""


def _load(tmp_path: Path, csms: str = "", firmware: str = "") -> Config:
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL.format(csms=csms, firmware=firmware))
    path.chmod(0o600)
    return load_config(path)


def test_defaults_match_the_transport_and_the_shipped_file(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert config.csms.max_frame_bytes == MAX_FRAME_BYTES
    shipped = load_config(REPO / "config" / "cpagent.toml")
    assert shipped.csms.max_frame_bytes == MAX_FRAME_BYTES
    assert (shipped.firmware.transfer_deadline_s, shipped.firmware.reserve_mb) == (3600.0, 64)


@pytest.mark.parametrize(
    ("csms", "firmware", "problem"),
    [
        ("max_frame_bytes = 1000", "", "csms.max_frame_bytes: must be at least 65536"),
        ("", "transfer_deadline_s = 0", "firmware.transfer_deadline_s: must be greater than 0"),
        ("", "reserve_mb = -1", "firmware.reserve_mb: must be at least 0"),
    ],
)
def test_limits_that_cannot_work_are_refused(
    tmp_path: Path, csms: str, firmware: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, csms, firmware)
    assert any(problem in str(p) for p in info.value.problems), info.value.problems
