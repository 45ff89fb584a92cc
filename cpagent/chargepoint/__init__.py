"""Chargepoint logic: sans-I/O state (connectors, settings, auth ...) and its SQLite store."""
