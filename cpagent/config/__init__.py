"""The TOML configuration: frozen sections whose fields carry each key's rule (see rules.py)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from cpagent.config.connector_sections import (
    BAUDRATES,
    EVSE_DRIVERS,
    METER_DRIVERS,
    ConnectorConfig,
    EvseConfig,
    MeterConfig,
)
from cpagent.config.load import load_config, parse_config
from cpagent.config.rules import ConfigError, Problem, Rule, Severity
from cpagent.config.sections import (
    CHARGEPOINT_ID_CHARS,
    LOG_LEVELS,
    MAX_SOCKET_PATH,
    PIN_FACTORIES,
    PROTOCOLS,
    RFID_DRIVERS,
    SECTIONS,
    TRANSPORTS,
    ChargepointConfig,
    Config,
    ControlConfig,
    CsmsConfig,
    DiagnosticsConfig,
    FirmwareConfig,
    GpioConfig,
    LogConfig,
    MqttConfig,
    RfidConfig,
    StateConfig,
    WebConfig,
)


def endpoint_url(url: str, chargepoint_id: str) -> str:
    """The CSMS url with the chargepoint id appended as the last path segment (OCPP-J 1.6 §3.1)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/" + quote(chargepoint_id, safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


__all__ = [
    "BAUDRATES",
    "CHARGEPOINT_ID_CHARS",
    "EVSE_DRIVERS",
    "LOG_LEVELS",
    "MAX_SOCKET_PATH",
    "METER_DRIVERS",
    "PIN_FACTORIES",
    "PROTOCOLS",
    "RFID_DRIVERS",
    "SECTIONS",
    "TRANSPORTS",
    "ChargepointConfig",
    "Config",
    "ConfigError",
    "ConnectorConfig",
    "ControlConfig",
    "CsmsConfig",
    "DiagnosticsConfig",
    "EvseConfig",
    "FirmwareConfig",
    "GpioConfig",
    "LogConfig",
    "MeterConfig",
    "MqttConfig",
    "Problem",
    "RfidConfig",
    "Rule",
    "Severity",
    "StateConfig",
    "WebConfig",
    "endpoint_url",
    "load_config",
    "parse_config",
]
