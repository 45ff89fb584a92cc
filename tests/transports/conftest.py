"""Fixtures for the transport tests: the shared loopback servers from tests/support."""

from tests.support.fixtures import central_system, mosquitto, pki, recorder

__all__ = ["central_system", "mosquitto", "pki", "recorder"]
