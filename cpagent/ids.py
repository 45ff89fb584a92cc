"""Random ids for OCPP-J messages and stores: UUID version 4 text without the `uuid` module.

Why not `uuid.uuid4()`: importing `uuid` imports `platform` (for its MAC-address lookup of
version 1 ids, which we never make), ~0.17 MiB of the daemon's resident memory. A version 4
UUID is only 122 random bits with the version and variant bits set (RFC 9562 §5.4), so this
makes the same text from `os.urandom`, the source `uuid.uuid4()` reads. OCPP-J 1.6 §4.1.4
asks a message id to be unique and at most 36 characters; these are 32.
"""

from __future__ import annotations

import os


def uuid4_hex() -> str:
    """32 lowercase hex digits of a random version 4 UUID (as `uuid.uuid4().hex`)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4 (RFC 9562 §4.2)
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10xx (RFC 9562 §4.1)
    return raw.hex()
