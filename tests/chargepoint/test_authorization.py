"""Local authorization list, cache and local/offline decisions (OCPP 1.6 §3.5, §5.9, §5.15)."""

from __future__ import annotations

from typing import Any

import pytest

from cpagent.chargepoint.authorization import (
    AuthorizationCache,
    AuthorizationStatus,
    AuthPolicy,
    IdTagInfo,
    LocalList,
    Source,
    UpdateStatus,
    Verdict,
    decide,
    may_stop,
)
from cpagent.chargepoint.settings import FeatureProfile, Settings

from .schemas import validate

A = AuthorizationStatus
OK = {"status": "Accepted"}
NOW = 1_764_460_800.0


def req(version: int, kind: str, *items: tuple[str, dict[str, Any] | None]) -> dict[str, Any]:
    entries = [{"idTag": t} | ({"idTagInfo": i} if i else {}) for t, i in items]
    payload = {"listVersion": version, "updateType": kind, "localAuthorizationList": entries}
    validate("SendLocalList", payload)
    return payload


@pytest.mark.parametrize(
    ("steps", "final_tags", "final_version"),
    [
        pytest.param(
            [(req(3, "Full", ("A", OK), ("B", OK)), UpdateStatus.ACCEPTED)],
            {"A", "B"},
            3,
            id="full",
        ),
        pytest.param(
            [
                (req(3, "Full", ("A", OK)), UpdateStatus.ACCEPTED),
                (req(4, "Differential", ("B", OK), ("A", None)), UpdateStatus.ACCEPTED),
            ],
            {"B"},
            4,
            id="differential-adds-and-removes",
        ),
        pytest.param(
            [
                (req(3, "Full", ("A", OK)), UpdateStatus.ACCEPTED),
                (req(3, "Differential", ("B", OK)), UpdateStatus.VERSION_MISMATCH),
            ],
            {"A"},
            3,
            id="differential-same-version",
        ),
        pytest.param(
            [
                (req(5, "Full", ("A", OK)), UpdateStatus.ACCEPTED),
                (req(2, "Full", ("C", OK)), UpdateStatus.ACCEPTED),
            ],
            {"C"},
            2,
            id="full-may-lower-version",
        ),
        pytest.param(
            [
                (req(5, "Full", ("A", OK)), UpdateStatus.ACCEPTED),
                (req(6, "Full"), UpdateStatus.ACCEPTED),
            ],
            set(),
            0,
            id="empty-full-clears",
        ),
        pytest.param(
            [(req(1, "Full", *[(f"T{i}", OK) for i in range(1001)]), UpdateStatus.FAILED)],
            set(),
            0,
            id="too-long",
        ),
        # §7.1: idTagInfo is required in a Full update; §6.41: idTags unique; errata 3.52:
        # listVersion 0 and -1 mean "empty" and "not supported" in GetLocalListVersion
        pytest.param(
            [(req(2, "Full", ("A", OK), ("B", None)), UpdateStatus.FAILED)],
            set(),
            0,
            id="full-entry-without-info",
        ),
        pytest.param(
            [(req(2, "Full", ("A", OK), ("a", OK)), UpdateStatus.FAILED)],
            set(),
            0,
            id="duplicate-idtag",
        ),
        pytest.param([(req(0, "Full", ("A", OK)), UpdateStatus.FAILED)], set(), 0, id="version-0"),
        pytest.param([(req(-1, "Full"), UpdateStatus.FAILED)], set(), 0, id="version-minus-1"),
        pytest.param(
            [
                (req(3, "Full", ("A", OK)), UpdateStatus.ACCEPTED),
                (req(0, "Full"), UpdateStatus.ACCEPTED),
            ],
            set(),
            0,
            id="full-clear-version-0",
        ),
    ],
)
def test_send_local_list(
    steps: list[tuple[dict[str, Any], UpdateStatus]], final_tags: set[str], final_version: int
) -> None:
    ll = LocalList()
    for payload, expected in steps:
        status = ll.update(payload)
        assert status is expected
        validate("SendLocalList", {"status": status}, response=True)
    assert {t for t, _ in ll.entries()} == final_tags
    assert ll.reported_version() == final_version
    validate("GetLocalListVersion", {"listVersion": ll.reported_version()}, response=True)


def test_disabled_list_is_not_supported_and_lookup_ignores_case() -> None:
    ll = LocalList()
    assert ll.update(req(1, "Full", ("abc", OK)), enabled=False) is UpdateStatus.NOT_SUPPORTED
    ll.update(req(1, "Full", ("abc", OK)))
    assert ll.get("ABC") == IdTagInfo(A.ACCEPTED)


def test_id_tag_info_round_trips() -> None:
    wire = {"status": "Blocked", "expiryDate": "2026-11-30T00:00:00.000Z", "parentIdTag": "P"}
    info = IdTagInfo.from_wire(wire)
    assert info.to_wire() == wire
    validate("Authorize", {"idTagInfo": info.to_wire()}, response=True)


def test_cache_evicts_invalid_before_oldest_valid() -> None:
    cache = AuthorizationCache(capacity=3)
    cache.put("OLD", IdTagInfo(A.ACCEPTED), NOW)
    cache.put("BAD", IdTagInfo(A.BLOCKED), NOW)
    cache.put("EXP", IdTagInfo(A.ACCEPTED, expiry_s=NOW - 1), NOW)
    cache.put("NEW1", IdTagInfo(A.ACCEPTED), NOW)
    cache.put("NEW2", IdTagInfo(A.ACCEPTED), NOW)
    assert {t for t, _ in cache.entries()} == {"OLD", "NEW1", "NEW2"}
    cache.get("OLD")  # used: now the youngest
    cache.put("NEW3", IdTagInfo(A.ACCEPTED), NOW)
    assert {t for t, _ in cache.entries()} == {"OLD", "NEW2", "NEW3"}
    cache.clear()
    assert len(cache) == 0


LIST = LocalList(1, [("LISTED", IdTagInfo(A.ACCEPTED)), ("BLOCKED", IdTagInfo(A.BLOCKED))])
CACHE = AuthorizationCache(
    entries=[("CACHED", IdTagInfo(A.ACCEPTED)), ("STALE", IdTagInfo(A.ACCEPTED, expiry_s=NOW - 60))]
)
PRE = AuthPolicy(local_pre_authorize=True)
OFFLINE_UNKNOWN = AuthPolicy(allow_offline_tx_for_unknown_id=True)
NO_LOCAL_OFFLINE = AuthPolicy(local_authorize_offline=False, allow_offline_tx_for_unknown_id=True)


@pytest.mark.parametrize(
    ("tag", "online", "policy", "verdict", "source", "status"),
    [
        ("LISTED", True, AuthPolicy(), Verdict.ASK_CENTRAL, Source.NONE, None),
        ("LISTED", True, PRE, Verdict.ACCEPT, Source.LOCAL_LIST, A.ACCEPTED),
        ("CACHED", True, PRE, Verdict.ACCEPT, Source.CACHE, A.ACCEPTED),
        ("STALE", True, PRE, Verdict.ASK_CENTRAL, Source.NONE, None),
        ("BLOCKED", True, PRE, Verdict.ASK_CENTRAL, Source.NONE, None),
        (
            "CACHED",
            True,
            AuthPolicy(local_pre_authorize=True, authorization_cache_enabled=False),
            Verdict.ASK_CENTRAL,
            Source.NONE,
            None,
        ),
        ("LISTED", False, AuthPolicy(), Verdict.ACCEPT, Source.LOCAL_LIST, A.ACCEPTED),
        ("BLOCKED", False, AuthPolicy(), Verdict.REJECT, Source.LOCAL_LIST, A.BLOCKED),
        ("STALE", False, AuthPolicy(), Verdict.REJECT, Source.CACHE, A.EXPIRED),
        ("NOBODY", False, AuthPolicy(), Verdict.REJECT, Source.NONE, None),
        ("NOBODY", False, OFFLINE_UNKNOWN, Verdict.ACCEPT, Source.UNKNOWN_OFFLINE, A.ACCEPTED),
        ("BLOCKED", False, OFFLINE_UNKNOWN, Verdict.REJECT, Source.LOCAL_LIST, A.BLOCKED),
        (
            "LISTED",
            False,
            AuthPolicy(local_auth_list_enabled=False),
            Verdict.REJECT,
            Source.NONE,
            None,
        ),
        ("NOBODY", False, NO_LOCAL_OFFLINE, Verdict.ACCEPT, Source.UNKNOWN_OFFLINE, A.ACCEPTED),
        (
            "LISTED",
            False,
            AuthPolicy(local_authorize_offline=False),
            Verdict.REJECT,
            Source.NONE,
            None,
        ),
        # §3.5.4: a list entry that is not Accepted, or an expired one, "MUST be rejected" offline,
        # whatever AllowOfflineTxForUnknownId says: it is not an unknown idTag
        ("BLOCKED", False, NO_LOCAL_OFFLINE, Verdict.REJECT, Source.LOCAL_LIST, A.BLOCKED),
        ("STALE", False, NO_LOCAL_OFFLINE, Verdict.REJECT, Source.CACHE, A.EXPIRED),
    ],
)
def test_decide(
    tag: str, online: bool, policy: AuthPolicy, verdict: Verdict, source: Source, status: A | None
) -> None:
    d = decide(tag, online, policy, LIST, CACHE, NOW)
    assert (d.verdict, d.source) == (verdict, source)
    assert (d.info.status if d.info else None) == status


def test_policy_from_settings() -> None:
    s = Settings({FeatureProfile.LOCAL_AUTH_LIST_MANAGEMENT}, 1)
    s.change("LocalPreAuthorize", "true")
    s.change("LocalAuthListEnabled", "false")
    p = AuthPolicy.from_settings(s)
    assert p.local_pre_authorize and not p.local_auth_list_enabled
    assert not AuthPolicy.from_settings(Settings(set(), 1)).local_auth_list_enabled


@pytest.mark.parametrize(
    ("start", "presented", "allowed"),
    [
        (("card", None), ("CARD", None), True),
        (("A", "GROUP"), ("B", "group"), True),
        (("A", "GROUP"), ("B", "OTHER"), False),
        (("A", None), ("B", None), False),
    ],
)
def test_may_stop(
    start: tuple[str, str | None], presented: tuple[str, str | None], allowed: bool
) -> None:
    assert may_stop(*start, *presented) is allowed


def test_the_local_list_takes_precedence_over_the_cache() -> None:
    """§3.5.3: local list entries have priority over cache entries for the same idTag."""
    ll = LocalList(1, [("BOTH", IdTagInfo(A.BLOCKED))])
    cache = AuthorizationCache(entries=[("BOTH", IdTagInfo(A.ACCEPTED))])
    offline = decide("both", False, AuthPolicy(), ll, cache, NOW)
    assert (offline.verdict, offline.source) == (Verdict.REJECT, Source.LOCAL_LIST)
    online = decide("BOTH", True, PRE, ll, cache, NOW)
    assert online.verdict is Verdict.ASK_CENTRAL  # not pre-authorized from the stale cache
