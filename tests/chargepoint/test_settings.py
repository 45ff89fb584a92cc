"""Configuration keys (OCPP 1.6 §9): ChangeConfiguration and GetConfiguration answers."""

from __future__ import annotations

import pytest

from cpagent.chargepoint.settings import ConfigurationStatus, FeatureProfile, Settings

from .schemas import validate

P = FeatureProfile
C = ConfigurationStatus
ALL_BUT_FIRMWARE = {P.LOCAL_AUTH_LIST_MANAGEMENT, P.RESERVATION, P.SMART_CHARGING, P.REMOTE_TRIGGER}


@pytest.fixture
def settings() -> Settings:
    return Settings(ALL_BUT_FIRMWARE, number_of_connectors=2)


@pytest.mark.parametrize(
    ("key", "value", "status", "stored"),
    [
        ("HeartbeatInterval", "120", C.ACCEPTED, "120"),
        ("HeartbeatInterval", " 0120 ", C.ACCEPTED, "120"),
        ("HeartbeatInterval", "-1", C.REJECTED, "300"),
        ("HeartbeatInterval", "ten", C.REJECTED, "300"),
        ("HeartbeatInterval", "86401", C.REJECTED, "300"),
        ("LocalPreAuthorize", "TRUE", C.ACCEPTED, "true"),
        ("LocalPreAuthorize", "yes", C.REJECTED, "false"),
        ("MeterValuesSampledData", "Voltage, Current.Import", C.ACCEPTED, "Voltage,Current.Import"),
        (
            "MeterValuesSampledData",
            "Voltage,SoC",
            C.REJECTED,
            "Energy.Active.Import.Register,Power.Active.Import",
        ),
        ("StopTxnSampledData", "", C.ACCEPTED, ""),
        ("ConnectorPhaseRotation", "0.RST,1.RST,2.TSR", C.ACCEPTED, "0.RST,1.RST,2.TSR"),
        ("ConnectorPhaseRotation", "3.RST", C.REJECTED, "0.Unknown,1.Unknown,2.Unknown"),
        ("WebSocketPingInterval", "60", C.REBOOT_REQUIRED, "60"),
        ("NumberOfConnectors", "5", C.REJECTED, "2"),
        (
            "SupportedFeatureProfiles",
            "Core",
            C.REJECTED,
            "Core,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
        ),
        ("ChargeProfileMaxStackLevel", "99", C.REJECTED, "8"),
    ],
)
def test_change_configuration(
    settings: Settings, key: str, value: str, status: C, stored: str
) -> None:
    validate("ChangeConfiguration", {"key": key, "value": value})
    result = settings.change(key, value)
    assert result is status
    validate("ChangeConfiguration", {"status": result}, response=True)
    assert settings.get_configuration([key])["configurationKey"][0]["value"] == stored


@pytest.mark.parametrize("key", ["BlinkRepeat", "LightIntensity", "NoSuchKey", "Heartbeat"])
def test_unknown_keys_are_not_supported(settings: Settings, key: str) -> None:
    assert settings.change(key, "1") is C.NOT_SUPPORTED
    assert settings.get_configuration([key]) == {"unknownKey": [key]}


def test_keys_match_case_insensitively(settings: Settings) -> None:
    """key is a CiString50Type (OCPP 1.6 §6.9, §6.23, §7.17): case does not matter; the answer
    spells the key as §9 does."""
    assert settings.change("heartbeatINTERVAL", "120") is C.ACCEPTED
    assert settings.get_int("HeartbeatInterval") == 120
    assert settings.change("numberofconnectors", "5") is C.REJECTED  # still read-only
    assert settings.get_configuration(["HEARTBEATINTERVAL", "heartbeatinterval"]) == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "120"}]
    }


def test_max_energy_on_invalid_id_is_a_writable_integer(settings: Settings) -> None:
    """§9.1 MaxEnergyOnInvalidId: optional, RW, integer Wh."""
    assert settings.get_configuration(["MaxEnergyOnInvalidId"]) == {
        "configurationKey": [{"key": "MaxEnergyOnInvalidId", "readonly": False, "value": "0"}]
    }
    assert settings.change("MaxEnergyOnInvalidId", "500") is C.ACCEPTED
    assert settings.change("MaxEnergyOnInvalidId", "-1") is C.REJECTED
    assert settings.get_int("MaxEnergyOnInvalidId") == 500


def test_get_configuration_all_and_some(settings: Settings) -> None:
    everything = settings.get_configuration()
    validate("GetConfiguration", {})
    validate("GetConfiguration", everything, response=True)
    names = {k["key"] for k in everything["configurationKey"]}
    assert {
        "HeartbeatInterval",
        "LocalAuthListEnabled",
        "ReserveConnectorZeroSupported",
        "ChargeProfileMaxStackLevel",
    } <= names
    assert "unknownKey" not in everything
    assert len(names) <= settings.get_int("GetConfigurationMaxKeys")
    some = settings.get_configuration(["HeartbeatInterval", "Bogus", "NumberOfConnectors"])
    validate("GetConfiguration", some, response=True)
    assert some == {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        ],
        "unknownKey": ["Bogus"],
    }


@pytest.mark.parametrize(
    ("profiles", "reported", "absent"),
    [
        (set(), "Core", "LocalAuthListEnabled"),
        ({P.RESERVATION}, "Core,Reservation", "ChargeProfileMaxStackLevel"),
        (
            {P.SMART_CHARGING, P.LOCAL_AUTH_LIST_MANAGEMENT},
            "Core,LocalAuthListManagement,SmartCharging",
            "ReserveConnectorZeroSupported",
        ),
    ],
)
def test_supported_feature_profiles_derive_from_what_is_wired(
    profiles: set[P], reported: str, absent: str
) -> None:
    s = Settings(profiles, number_of_connectors=1)
    assert s.get_text("SupportedFeatureProfiles") == reported
    assert s.get_configuration([absent]) == {"unknownKey": [absent]}


def test_stored_values_are_loaded_and_bad_or_readonly_ones_ignored() -> None:
    s = Settings(
        {P.SMART_CHARGING},
        1,
        stored={
            "HeartbeatInterval": "90",
            "MeterValueSampleInterval": "-5",
            "ChargeProfileMaxStackLevel": "1",
            "Gone": "x",
        },
    )
    assert s.get_int("HeartbeatInterval") == 90
    assert s.get_int("MeterValueSampleInterval") == 60
    assert s.get_int("ChargeProfileMaxStackLevel") == 8
    assert s.writable_values()["HeartbeatInterval"] == "90"
    assert "NumberOfConnectors" not in s.writable_values()


def test_typed_reads(settings: Settings) -> None:
    settings.change("MeterValuesAlignedData", "Energy.Active.Import.Register,Voltage")
    assert settings.get_list("MeterValuesAlignedData") == (
        "Energy.Active.Import.Register",
        "Voltage",
    )
    assert settings.get_list("StopTxnSampledData") == ()
    assert settings.get_bool("AuthorizeRemoteTxRequests") is True
