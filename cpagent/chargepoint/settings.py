"""OCPP 1.6 configuration keys (§9): specs, validation, ChangeConfiguration and GetConfiguration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cpagent.chargepoint.metering import SELECTABLE, SUPPORTED_MEASURANDS


class FeatureProfile(StrEnum):
    """Feature profile names as SupportedFeatureProfiles lists them (§3)."""

    CORE = "Core"
    FIRMWARE_MANAGEMENT = "FirmwareManagement"
    LOCAL_AUTH_LIST_MANAGEMENT = "LocalAuthListManagement"
    RESERVATION = "Reservation"
    SMART_CHARGING = "SmartCharging"
    REMOTE_TRIGGER = "RemoteTrigger"


class ConfigurationStatus(StrEnum):
    """ChangeConfiguration.conf status (§7.10)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


class ValueType(StrEnum):
    BOOL = "boolean"
    INT = "integer"
    CSL = "comma separated list"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One configuration key: its type, whether the central system may change it, its bounds."""

    name: str
    type: ValueType
    readonly: bool
    default: str
    profile: FeatureProfile
    minimum: int | None = None
    maximum: int | None = None
    members: frozenset[str] | None = None  # allowed CSL items (None: any)
    max_items: int | None = None
    reboot_required: bool = False  # applied only at start-up (ChangeConfiguration: RebootRequired)

    def normalise(self, text: str) -> str:
        """Canonical wire text for `text`; raises ValueError naming the key if invalid."""
        if self.type is ValueType.BOOL:
            low = text.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(f"{self.name}: expected true or false, got {text!r}")
            return low
        if self.type is ValueType.INT:
            try:
                n = int(text.strip(), 10)
            except ValueError:
                raise ValueError(f"{self.name}: expected an integer, got {text!r}") from None
            if self.minimum is not None and n < self.minimum:
                raise ValueError(f"{self.name}: {n} is below {self.minimum}")
            if self.maximum is not None and n > self.maximum:
                raise ValueError(f"{self.name}: {n} is above {self.maximum}")
            return str(n)
        items = [i.strip() for i in text.split(",") if i.strip()]
        if self.max_items is not None and len(items) > self.max_items:
            raise ValueError(f"{self.name}: more than {self.max_items} items")
        if self.members is not None:
            bad = [i for i in items if i not in self.members]
            if bad:
                raise ValueError(f"{self.name}: not supported: {', '.join(bad)}")
        return ",".join(items)


_MEASURANDS = SELECTABLE  # a measurand, or a per-phase one with its phase (Voltage.L1)
_MAX_MEASURANDS = len(SUPPORTED_MEASURANDS)
_PHASE_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")
DAY_S = 86400
MAX_STACK_LEVEL = 8
MAX_SCHEDULE_PERIODS = 24
MAX_PROFILES = 16
LOCAL_LIST_MAX = 10000
SEND_LOCAL_LIST_MAX = 1000


def _key(
    name: str,
    t: ValueType,
    ro: bool,
    default: str,
    profile: FeatureProfile = FeatureProfile.CORE,
    **kw: Any,
) -> KeySpec:
    return KeySpec(name, t, ro, default, profile, **kw)


B, N, L = ValueType.BOOL, ValueType.INT, ValueType.CSL
P = FeatureProfile

# The standard keys this implementation honours (§9.1 Core, §9.2 LocalAuthListManagement,
# §9.3 Reservation, §9.4 SmartCharging). Optional keys for features we lack (BlinkRepeat,
# LightIntensity, ConnectorSwitch3to1PhaseSupported) are absent, so GetConfiguration lists
# them as unknownKey and ChangeConfiguration answers NotSupported.
# NumberOfConnectors, ConnectorPhaseRotation and SupportedFeatureProfiles are filled in by
# Settings from what is built and configured.
KEYS: tuple[KeySpec, ...] = (
    _key("AllowOfflineTxForUnknownId", B, False, "false"),
    _key("AuthorizationCacheEnabled", B, False, "true"),
    _key("AuthorizeRemoteTxRequests", B, False, "true"),
    _key("ClockAlignedDataInterval", N, False, "0", minimum=0, maximum=DAY_S),
    _key("ConnectionTimeOut", N, False, "60", minimum=1, maximum=3600),
    _key("ConnectorPhaseRotation", L, False, "0.Unknown"),
    _key("ConnectorPhaseRotationMaxLength", N, True, "8"),
    _key("GetConfigurationMaxKeys", N, True, "64"),
    _key("HeartbeatInterval", N, False, "300", minimum=0, maximum=DAY_S),
    _key("LocalAuthorizeOffline", B, False, "true"),
    _key("LocalPreAuthorize", B, False, "false"),
    # §9.1 MaxEnergyOnInvalidId (§3.5.4, errata 3.17): Wh a transaction may deliver in all
    # once StartTransaction.conf refused its idTag and StopTransactionOnInvalidId is false.
    _key("MaxEnergyOnInvalidId", N, False, "0", minimum=0, maximum=1_000_000),
    _key(
        "MeterValuesAlignedData",
        L,
        False,
        "Energy.Active.Import.Register",
        members=_MEASURANDS,
        max_items=_MAX_MEASURANDS,
    ),
    _key("MeterValuesAlignedDataMaxLength", N, True, str(_MAX_MEASURANDS)),
    _key(
        "MeterValuesSampledData",
        L,
        False,
        "Energy.Active.Import.Register,Power.Active.Import",
        members=_MEASURANDS,
        max_items=_MAX_MEASURANDS,
    ),
    _key("MeterValuesSampledDataMaxLength", N, True, str(_MAX_MEASURANDS)),
    _key("MeterValueSampleInterval", N, False, "60", minimum=0, maximum=DAY_S),
    _key("MinimumStatusDuration", N, False, "0", minimum=0, maximum=3600),
    _key("NumberOfConnectors", N, True, "1"),
    _key("ResetRetries", N, False, "3", minimum=0, maximum=10),
    _key("StopTransactionOnEVSideDisconnect", B, False, "true"),
    _key("StopTransactionOnInvalidId", B, False, "true"),
    _key("StopTxnAlignedData", L, False, "", members=_MEASURANDS, max_items=_MAX_MEASURANDS),
    _key("StopTxnAlignedDataMaxLength", N, True, str(_MAX_MEASURANDS)),
    _key("StopTxnSampledData", L, False, "", members=_MEASURANDS, max_items=_MAX_MEASURANDS),
    _key("StopTxnSampledDataMaxLength", N, True, str(_MAX_MEASURANDS)),
    _key("SupportedFeatureProfiles", L, True, "Core"),
    _key("TransactionMessageAttempts", N, False, "3", minimum=1, maximum=100),
    _key("TransactionMessageRetryInterval", N, False, "60", minimum=1, maximum=DAY_S),
    _key("UnlockConnectorOnEVSideDisconnect", B, False, "true"),
    _key("WebSocketPingInterval", N, False, "30", minimum=0, maximum=3600, reboot_required=True),
    _key("LocalAuthListEnabled", B, False, "true", P.LOCAL_AUTH_LIST_MANAGEMENT),
    _key("LocalAuthListMaxLength", N, True, str(LOCAL_LIST_MAX), P.LOCAL_AUTH_LIST_MANAGEMENT),
    _key("SendLocalListMaxLength", N, True, str(SEND_LOCAL_LIST_MAX), P.LOCAL_AUTH_LIST_MANAGEMENT),
    _key("ReserveConnectorZeroSupported", B, True, "true", P.RESERVATION),
    _key("ChargeProfileMaxStackLevel", N, True, str(MAX_STACK_LEVEL), P.SMART_CHARGING),
    _key("ChargingScheduleAllowedChargingRateUnit", L, True, "Current,Power", P.SMART_CHARGING),
    _key("ChargingScheduleMaxPeriods", N, True, str(MAX_SCHEDULE_PERIODS), P.SMART_CHARGING),
    _key("MaxChargingProfilesInstalled", N, True, str(MAX_PROFILES), P.SMART_CHARGING),
)


class Settings:
    """The configuration keys in force: typed reads for the application, OCPP answers for the CSMS.

    `profiles` is the set of feature profiles the application has actually wired up; only
    their keys exist, and SupportedFeatureProfiles is derived from it, so the report is
    the truth (§9.1.32). `stored` holds values persisted earlier (from the store); values
    that no longer validate fall back to the default.
    """

    def __init__(
        self,
        profiles: Iterable[FeatureProfile],
        number_of_connectors: int,
        stored: Mapping[str, str] | None = None,
    ) -> None:
        self.profiles = frozenset(profiles) | {FeatureProfile.CORE}
        order = list(FeatureProfile)
        listed = ",".join(p for p in order if p in self.profiles)
        self.specs = {k.name: k for k in KEYS if k.profile in self.profiles}
        self._values = {name: spec.default for name, spec in self.specs.items()}
        self._values["SupportedFeatureProfiles"] = listed
        self._values["SupportedFeatureProfilesMaxLength"] = str(len(order))
        self.specs["SupportedFeatureProfilesMaxLength"] = _key(
            "SupportedFeatureProfilesMaxLength", N, True, str(len(order))
        )
        self._values["NumberOfConnectors"] = str(number_of_connectors)
        rotation = ",".join(f"{i}.Unknown" for i in range(number_of_connectors + 1))
        self._values["ConnectorPhaseRotation"] = rotation
        self.specs["ConnectorPhaseRotation"] = _key(
            "ConnectorPhaseRotation",
            L,
            False,
            rotation,
            max_items=number_of_connectors + 1,
            members=frozenset(
                f"{i}.{r}" for i in range(number_of_connectors + 1) for r in _PHASE_ROTATIONS
            ),
        )
        self._values["ConnectorPhaseRotationMaxLength"] = str(number_of_connectors + 1)
        # key is a CiString50Type in ChangeConfiguration.req / GetConfiguration.req (§6.9,
        # §6.23, §7.17): matched case-insensitively, answered in the spelling of §9.
        self._names = {name.lower(): name for name in self.specs}
        for name, text in (stored or {}).items():
            spec = self.specs.get(name)
            if spec is None or spec.readonly:
                continue
            try:
                self._values[name] = spec.normalise(text)
            except ValueError:
                continue

    # Typed reads for the application.
    def get_bool(self, name: str) -> bool:
        return self._values[name] == "true"

    def get_int(self, name: str) -> int:
        return int(self._values[name])

    def get_list(self, name: str) -> tuple[str, ...]:
        text = self._values[name]
        return tuple(text.split(",")) if text else ()

    def get_text(self, name: str) -> str:
        return self._values[name]

    def writable_values(self) -> dict[str, str]:
        """The values a store should persist (every writable key)."""
        return {n: v for n, v in self._values.items() if not self.specs[n].readonly}

    # OCPP operations.
    def canonical(self, key: str) -> str | None:
        """The §9 name of `key` compared case-insensitively (CiString50Type), or None."""
        return self._names.get(key.lower())

    def change(self, key: str, value: str) -> ConfigurationStatus:
        """ChangeConfiguration (§5.3): NotSupported for unknown keys, Rejected for read-only
        keys or invalid values (nothing is changed then, §3.16.4), RebootRequired for keys
        applied at start-up only."""
        name = self.canonical(key)
        if name is None:
            return ConfigurationStatus.NOT_SUPPORTED
        key, spec = name, self.specs[name]
        if spec.readonly:
            return ConfigurationStatus.REJECTED
        try:
            self._values[key] = spec.normalise(value)
        except ValueError:
            return ConfigurationStatus.REJECTED
        if spec.reboot_required:
            return ConfigurationStatus.REBOOT_REQUIRED
        return ConfigurationStatus.ACCEPTED

    def get_configuration(self, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """GetConfiguration.conf payload (§5.8): all keys when `keys` is empty or None."""
        wanted = list(keys or ())
        names = [self.canonical(n) or n for n in wanted] or list(self.specs)
        known = [
            {"key": n, "readonly": self.specs[n].readonly, "value": self._values[n]}
            for n in dict.fromkeys(names)
            if n in self.specs
        ]
        unknown = [n[:50] for n in dict.fromkeys(names) if n not in self.specs]
        payload: dict[str, Any] = {}
        if known:
            payload["configurationKey"] = known
        if unknown:
            payload["unknownKey"] = unknown
        return payload
