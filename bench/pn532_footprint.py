"""Bench: bench.footprint with `[rfid] driver = "pn532"` polling the PN532 twin on a pty.

The twin runs in this process (its CPU is not the daemon's); the daemon's figures are the
ones to compare with a plain `python3 -m bench.footprint` run (simulated reader, no polling).
Usage: python3 -m bench.pn532_footprint [bench.footprint options, e.g. --seconds 30]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import bench.footprint as footprint
from hw.rfid.pn532_twin import Pn532Twin

SIM_READER = '[rfid]\ndriver = "sim"\n'


def main(argv: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="cpagent-pn532-") as tmp:
        twin = Pn532Twin(Path(tmp) / "ttyNFC").start()
        plain = footprint.write_config

        def with_pn532(*args: Any, **kwargs: Any) -> Path:
            path = plain(*args, **kwargs)
            text = path.read_text()
            assert SIM_READER in text
            reader = f'[rfid]\ndriver = "pn532"\nport = "{twin.port}"\n'
            path.write_text(text.replace(SIM_READER, reader))
            return path

        footprint.write_config = with_pn532
        try:
            code = footprint.main(argv)
        finally:
            footprint.write_config = plain
            twin.close()
        polls = twin.polls_answered
        print(
            f"PN532 twin: {polls} InListPassiveTarget answered, SAMConfiguration mode "
            f"{twin.sam_mode}, {twin.nacks} NACKs, {twin.rejected} frames rejected"
        )
        return code


if __name__ == "__main__":
    sys.exit(main())
