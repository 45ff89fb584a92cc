"""Message and store ids: random version 4 UUID text, made without importing `uuid`."""

from __future__ import annotations

import subprocess
import sys
import uuid

from cpagent.ids import uuid4_hex


def test_ids_parse_as_version_4_rfc_9562_uuids() -> None:
    for _ in range(200):
        parsed = uuid.UUID(hex=uuid4_hex())
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_message_id_fits_ocpp_j_and_ids_do_not_repeat() -> None:
    """OCPP-J 1.6 §4.1.4: a unique message id of at most 36 characters (these are 32)."""
    hexes = [uuid4_hex() for _ in range(10_000)]
    assert {len(h) for h in hexes} == {32} and len(set(hexes)) == len(hexes)
    assert all(h == h.lower() and int(h, 16) >= 0 for h in hexes[:100])


def test_making_ids_imports_neither_uuid_nor_platform() -> None:
    probe = (
        "import sys; from cpagent.ids import uuid4_hex; uuid4_hex(); "
        "print('uuid' in sys.modules, 'platform' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
