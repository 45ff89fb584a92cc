"""Shared test helpers: real servers on loopback (central system, mosquitto, TCP proxy)."""
