"""Local authorization list, authorization cache and the local/offline authorization decision."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cpagent.chargepoint.clock import from_wire, to_wire
from cpagent.chargepoint.settings import LOCAL_LIST_MAX, SEND_LOCAL_LIST_MAX
from cpagent.redact import mask_id_tag

CACHE_MAX = 1000


class AuthorizationStatus(StrEnum):
    """IdTagInfo status (OCPP 1.6 §7.2)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class UpdateStatus(StrEnum):
    """SendLocalList.conf status (§7.47 UpdateStatus)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_SUPPORTED = "NotSupported"
    VERSION_MISMATCH = "VersionMismatch"


class UpdateType(StrEnum):
    DIFFERENTIAL = "Differential"
    FULL = "Full"


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    """What the central system said about an idTag; `expiry_s` is POSIX wall seconds."""

    status: AuthorizationStatus
    expiry_s: float | None = None
    parent_id_tag: str | None = None

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> IdTagInfo:
        expiry = obj.get("expiryDate")
        return cls(
            AuthorizationStatus(obj["status"]),
            from_wire(expiry) if expiry else None,
            obj.get("parentIdTag"),
        )

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": str(self.status)}
        if self.expiry_s is not None:
            out["expiryDate"] = to_wire(self.expiry_s)
        if self.parent_id_tag is not None:
            out["parentIdTag"] = self.parent_id_tag
        return out

    def valid_at(self, wall_s: float | None) -> bool:
        """Accepted and not past its expiryDate. With the clock unknown, expiry cannot be
        judged and is ignored (documented limitation)."""
        if self.status is not AuthorizationStatus.ACCEPTED:
            return False
        return self.expiry_s is None or wall_s is None or wall_s < self.expiry_s

    def effective(self, wall_s: float | None) -> IdTagInfo:
        """This info with an Accepted-but-expired status shown as Expired."""
        if self.status is AuthorizationStatus.ACCEPTED and not self.valid_at(wall_s):
            return IdTagInfo(AuthorizationStatus.EXPIRED, self.expiry_s, self.parent_id_tag)
        return self


def id_tag_key(id_tag: str) -> str:
    """The form idTags are compared and stored in."""
    return id_tag.upper()  # idTag is a CiString20: compared case-insensitively (§7.19)


class LocalList:
    """The Local Authorization List (§3.5.3, §5.15, §5.9) with its version.

    Version 0 means empty; GetLocalListVersion answers -1 when the profile is not
    supported, which is the application's call (it does not wire this class then).
    """

    def __init__(self, version: int = 0, entries: Iterable[tuple[str, IdTagInfo]] = ()) -> None:
        self.version = version
        self._entries = {id_tag_key(tag): info for tag, info in entries}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, id_tag: str) -> IdTagInfo | None:
        return self._entries.get(id_tag_key(id_tag))

    def entries(self) -> Iterator[tuple[str, IdTagInfo]]:
        return iter(self._entries.items())

    def reported_version(self, enabled: bool = True) -> int:
        """GetLocalListVersion.conf listVersion (§5.10): 0 for an empty list, -1 while
        LocalAuthListEnabled is false (the list is not in use, so none is supported now)."""
        if not enabled:
            return -1
        return self.version if self._entries else 0

    def update(self, payload: dict[str, Any], enabled: bool = True) -> UpdateStatus:
        """Apply SendLocalList.req (§5.15); all or nothing.

        Full replaces the list (an empty one clears it); every entry needs idTagInfo (§7.1).
        Differential adds or replaces entries that carry idTagInfo and removes those without;
        it must raise the version, else VersionMismatch (§7.47). Failed: too many entries in
        the request (SendLocalListMaxLength) or in the result (LocalAuthListMaxLength), an
        idTag twice (§6.41), or listVersion 0 / -1 (errata 3.52: those mean "empty" and "not
        supported"; only a Full update that empties the list may say 0). A disabled list is
        NotSupported.
        """
        if not enabled:
            return UpdateStatus.NOT_SUPPORTED
        version = int(payload["listVersion"])
        kind = UpdateType(payload["updateType"])
        items = payload.get("localAuthorizationList") or []
        if len(items) > SEND_LOCAL_LIST_MAX:
            return UpdateStatus.FAILED
        if version < 1 and not (version == 0 and kind is UpdateType.FULL and not items):
            return UpdateStatus.FAILED
        if kind is UpdateType.DIFFERENTIAL and version <= self.version:
            return UpdateStatus.VERSION_MISMATCH
        if len({id_tag_key(i["idTag"]) for i in items}) != len(items):
            return UpdateStatus.FAILED
        new = {} if kind is UpdateType.FULL else dict(self._entries)
        try:
            for item in items:
                info = item.get("idTagInfo")
                if info is None and kind is UpdateType.FULL:
                    return UpdateStatus.FAILED
                if info is None:
                    new.pop(id_tag_key(item["idTag"]), None)
                else:
                    new[id_tag_key(item["idTag"])] = IdTagInfo.from_wire(info)
        except (KeyError, ValueError):
            return UpdateStatus.FAILED
        if len(new) > LOCAL_LIST_MAX:
            return UpdateStatus.FAILED
        self._entries = new
        self.version = version
        return UpdateStatus.ACCEPTED


class AuthorizationCache:
    """Authorization cache (§3.5.2): latest IdTagInfo per idTag from Authorize/Start/Stop.conf.

    Least recently used first out when full, but entries that no longer authorize
    (not Accepted, or expired) are dropped before any valid one.
    """

    def __init__(
        self, capacity: int = CACHE_MAX, entries: Iterable[tuple[str, IdTagInfo]] = ()
    ) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, IdTagInfo] = OrderedDict(
            (id_tag_key(t), i) for t, i in entries
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, id_tag: str) -> IdTagInfo | None:
        key = id_tag_key(id_tag)
        info = self._entries.get(key)
        if info is not None:
            self._entries.move_to_end(key)
        return info

    def entries(self) -> Iterator[tuple[str, IdTagInfo]]:
        return iter(self._entries.items())

    def put(self, id_tag: str, info: IdTagInfo, wall_s: float | None) -> list[str]:
        """Remember `info` for `id_tag` as most recently used; return the idTags evicted."""
        key = id_tag_key(id_tag)
        self._entries[key] = info
        self._entries.move_to_end(key)
        evicted = []
        while len(self._entries) > self.capacity:
            stale = next((k for k, v in self._entries.items() if not v.valid_at(wall_s)), None)
            evicted.append(stale if stale is not None else next(iter(self._entries)))
            self._entries.pop(evicted[-1])
        return evicted

    def clear(self) -> None:
        """ClearCache (§5.4)."""
        self._entries.clear()


class Verdict(StrEnum):
    ACCEPT = "accept"  # start now without asking
    REJECT = "reject"  # refuse now
    ASK_CENTRAL = "ask central system"  # send Authorize.req and wait


class Source(StrEnum):
    LOCAL_LIST = "local list"
    CACHE = "cache"
    UNKNOWN_OFFLINE = "unknown id offline"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """The configuration keys that steer authorization (§9.1, §9.2)."""

    local_pre_authorize: bool = False
    local_authorize_offline: bool = True
    allow_offline_tx_for_unknown_id: bool = False
    local_auth_list_enabled: bool = True
    authorization_cache_enabled: bool = True

    @classmethod
    def from_settings(cls, s: _Flags) -> AuthPolicy:
        def flag(name: str, default: bool) -> bool:
            return s.get_bool(name) if name in s.specs else default

        return cls(
            flag("LocalPreAuthorize", False),
            flag("LocalAuthorizeOffline", True),
            flag("AllowOfflineTxForUnknownId", False),
            flag("LocalAuthListEnabled", False),
            flag("AuthorizationCacheEnabled", True),
        )


class _Flags(Protocol):
    """The options `AuthPolicy` reads (`settings.Settings`)."""

    @property
    def specs(self) -> Any: ...
    def get_bool(self, name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    source: Source
    info: IdTagInfo | None = None


def decide(
    id_tag: str,
    online: bool,
    policy: AuthPolicy,
    local_list: LocalList | None,
    cache: AuthorizationCache | None,
    wall_s: float | None,
) -> Decision:
    """Whether a presented idTag may start (or stop) charging without the central system.

    Online: ask the central system, unless LocalPreAuthorize lets a valid local-list or
    cache entry start at once (§3.5, §9.1 LocalPreAuthorize); an entry that is not valid
    still goes to the central system, which may know better (§3.5.1). Offline: with
    LocalAuthorizeOffline, a known idTag is decided by its entry (the local list before the
    cache, §3.5.3); an entry that is not Accepted or has expired is refused whatever the
    other keys say (§3.5.4 "MUST be rejected"); an idTag known nowhere is accepted only with
    AllowOfflineTxForUnknownId (§3.5.4).
    """
    entry: IdTagInfo | None = None
    source = Source.NONE
    if policy.local_auth_list_enabled and local_list is not None:
        entry = local_list.get(id_tag)
        source = Source.LOCAL_LIST if entry is not None else source
    if entry is None and policy.authorization_cache_enabled and cache is not None:
        entry = cache.get(id_tag)
        source = Source.CACHE if entry is not None else source
    if online:
        if policy.local_pre_authorize and entry is not None and entry.valid_at(wall_s):
            return Decision(Verdict.ACCEPT, source, entry)
        return Decision(Verdict.ASK_CENTRAL, Source.NONE)
    if entry is not None and not entry.valid_at(wall_s):
        return Decision(Verdict.REJECT, source, entry.effective(wall_s))
    if policy.local_authorize_offline and entry is not None:
        return Decision(Verdict.ACCEPT, source, entry)
    if policy.allow_offline_tx_for_unknown_id and (
        entry is None or not policy.local_authorize_offline
    ):
        return Decision(
            Verdict.ACCEPT, Source.UNKNOWN_OFFLINE, IdTagInfo(AuthorizationStatus.ACCEPTED)
        )
    return Decision(Verdict.REJECT, Source.NONE)


def describe(id_tag: str, info: IdTagInfo | None, source: str) -> str:
    """One log line's text for an authorization result: masked idTag, status, where from
    (`info` None: known nowhere usable while offline, so refused)."""
    if info is None:
        return (
            f"idTag {mask_id_tag(id_tag)}: refused offline (no usable local list or cache "
            "entry, LocalAuthorizeOffline / AllowOfflineTxForUnknownId)"
        )
    return f"idTag {mask_id_tag(id_tag)}: {info.status} (from {source})"


def may_stop(
    started_tag: str, started_parent: str | None, presented_tag: str, presented_parent: str | None
) -> bool:
    """Whether a presented card may stop a transaction: the same idTag, or one with the same
    parentIdTag (§3.5.1 "stop ... by an idTag with the same parent")."""
    if id_tag_key(started_tag) == id_tag_key(presented_tag):
        return True
    return (
        started_parent is not None
        and presented_parent is not None
        and id_tag_key(started_parent) == id_tag_key(presented_parent)
    )
