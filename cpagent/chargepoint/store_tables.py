"""The state store's tables of charger state: authorization list and cache, reservations,
charging profiles."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cpagent.chargepoint.authorization import AuthorizationStatus, IdTagInfo
from cpagent.chargepoint.reservations import Reservation
from cpagent.chargepoint.store_db import Database


class StateTables(Database):
    """Local authorization list, authorization cache, reservations and charging profiles;
    each save is one commit that replaces what was there."""

    def load_local_list(self) -> tuple[int, list[tuple[str, IdTagInfo]]]:
        version = int(self.get_meta("local_list_version") or 0)
        rows = self._db.execute("SELECT id_tag, status, expiry, parent FROM local_list")
        return version, [(t, IdTagInfo(AuthorizationStatus(s), e, p)) for t, s, e, p in rows]

    def save_local_list(self, version: int, entries: Iterable[tuple[str, IdTagInfo]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM local_list")
            db.executemany(
                "INSERT INTO local_list VALUES (?, ?, ?, ?)",
                ((t, str(i.status), i.expiry_s, i.parent_id_tag) for t, i in entries),
            )
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('local_list_version', ?)", (str(version),)
            )

    def load_cache(self) -> list[tuple[str, IdTagInfo]]:
        rows = self._db.execute(
            "SELECT id_tag, status, expiry, parent FROM auth_cache ORDER BY used"
        )
        return [(t, IdTagInfo(AuthorizationStatus(s), e, p)) for t, s, e, p in rows]

    def save_cache(self, entries: Iterable[tuple[str, IdTagInfo]]) -> None:
        """Replace the cache with `entries`, least recently used first."""
        with self._tx() as db:
            db.execute("DELETE FROM auth_cache")
            db.executemany(
                "INSERT INTO auth_cache VALUES (?, ?, ?, ?, ?)",
                (
                    (t, str(i.status), i.expiry_s, i.parent_id_tag, n)
                    for n, (t, i) in enumerate(entries)
                ),
            )

    def put_cache(self, id_tag: str, info: IdTagInfo, evicted: Iterable[str] = ()) -> None:
        """Store one cache entry as the most recently used and drop `evicted`; the cache is
        advisory (OCPP 1.6 §3.5.2), so this commit is not synced on its own."""
        with self._tx(durable=False) as db:
            db.execute(
                "INSERT OR REPLACE INTO auth_cache VALUES (?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(used), -1) + 1 FROM auth_cache))",
                (id_tag, str(info.status), info.expiry_s, info.parent_id_tag),
            )
            db.executemany("DELETE FROM auth_cache WHERE id_tag = ?", ((t,) for t in evicted))

    def load_reservations(self) -> list[Reservation]:
        rows = self._db.execute(
            "SELECT reservation_id, connector_id, id_tag, expiry, parent FROM reservations"
        )
        return [Reservation(*row) for row in rows]

    def save_reservations(self, reservations: Iterable[Reservation]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM reservations")
            db.executemany(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, ?)",
                (
                    (r.reservation_id, r.connector_id, r.id_tag, r.expiry_s, r.parent_id_tag)
                    for r in reservations
                ),
            )

    def load_profiles(self) -> list[tuple[int, dict[str, Any]]]:
        rows = self._db.execute("SELECT connector_id, profile FROM charging_profiles")
        return [(c, json.loads(p)) for c, p in rows]

    def save_profiles(self, profiles: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM charging_profiles")
            db.executemany(
                "INSERT INTO charging_profiles VALUES (?, ?, ?)",
                ((p["chargingProfileId"], c, json.dumps(p)) for c, p in profiles),
            )
