"""A maximum incoming message size for websocket-client, enforced before the payload is read."""

from __future__ import annotations

from typing import Any

import websocket as wsc
from websocket._abnf import continuous_frame, frame_buffer

MAX_FRAME_BYTES = 8 * 1024 * 1024
"""Default `[csms] max_frame_bytes`. The largest legitimate messages: an OCPP 1.6
SendLocalList at SendLocalListMaxLength (1,000 entries, every field at its maximum length)
is 156 KB, 356 KB with every character escaped; an OCPP 2.0.1 SendLocalList of 1,000 entries
with 512-character personal messages is 1.6 MB as UTF-8, 3.6 MB escaped. 8 MiB is twice the
largest of them."""


class MessageTooBig(wsc.WebSocketProtocolException):
    """The peer announced a frame, or sent fragments, adding up to more than the cap."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"message of {size} bytes or more is larger than {cap} bytes")
        self.size = size
        self.cap = cap


class _CappedFrameBuffer(frame_buffer):
    """websocket-client's frame reader, refusing a frame whose header announces more than
    `cap` bytes: the check runs once the length field is read, before any payload byte."""

    def __init__(self, recv: Any, skip_utf8_validation: bool, cap: int) -> None:
        super().__init__(recv, skip_utf8_validation)
        self.cap = cap

    def recv_length(self) -> None:
        super().recv_length()
        if self.length is not None and self.length > self.cap:
            raise MessageTooBig(self.length, self.cap)


class _CappedMessage(continuous_frame):
    """websocket-client's fragment joiner, refusing a message whose fragments (RFC 6455 §5.4)
    add up to more than `cap` bytes."""

    def __init__(self, fire_cont_frame: bool, skip_utf8_validation: bool, cap: int) -> None:
        super().__init__(fire_cont_frame, skip_utf8_validation)
        self.cap = cap

    def add(self, frame: wsc.ABNF) -> None:
        held = len(self.cont_data[1]) if self.cont_data else 0
        if held + len(frame.data) > self.cap:
            self.cont_data = None
            raise MessageTooBig(held + len(frame.data), self.cap)
        super().add(frame)


def cap_incoming(ws: wsc.WebSocket, cap: int) -> None:
    """Make `ws` refuse (raise MessageTooBig on read) any message larger than `cap` bytes.

    websocket-client reads a frame whole into memory and has no limit of its own, so its two
    buffers (per frame, per fragmented message) are replaced by capped subclasses; call this
    before the first read."""
    if cap < 1:
        raise ValueError(f"the maximum frame size must be at least 1 byte, got {cap}")
    old = ws.frame_buffer
    ws.frame_buffer = _CappedFrameBuffer(old.recv, old.skip_utf8_validation, cap)
    joiner = ws.cont_frame
    ws.cont_frame = _CappedMessage(joiner.fire_cont_frame, joiner.skip_utf8_validation, cap)
