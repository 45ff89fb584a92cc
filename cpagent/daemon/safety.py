"""The relay set: every contactor relay, de-energised at start, on shutdown and on every exit."""

from __future__ import annotations

import atexit
import logging
import threading

from hw.interfaces import RelayOutput

log = logging.getLogger(__name__)


class RelayGuard:
    """Holds every relay so one call opens all contactors, whatever else has failed.

    `de_energise_all` is safe from any thread and never raises: a relay that fails is logged
    and the others are still opened. `install_atexit` makes interpreter exit open them too.
    """

    def __init__(self) -> None:
        self._relays: list[tuple[str, RelayOutput]] = []
        self._lock = threading.Lock()
        self._atexit = False

    def add(self, name: str, relay: RelayOutput) -> None:
        with self._lock:
            self._relays.append((name, relay))

    def de_energise_all(self) -> list[str]:
        """Open every relay; return the names of relays that could not be opened."""
        failed = []
        with self._lock:
            relays = list(self._relays)
        for name, relay in relays:
            try:
                if relay.energised:
                    log.warning("%s: opening contactor (stopping)", name)
                relay.de_energise()
            except Exception as exc:  # a closed relay is already open; anything else is loud
                if "closed" not in str(exc):
                    log.critical("%s: could not de-energise relay: %s", name, exc)
                    failed.append(name)
        return failed

    def close_all(self) -> None:
        """Close (de-energise and release) every relay; idempotent."""
        with self._lock:
            relays = list(self._relays)
        for name, relay in relays:
            try:
                relay.close()
            except Exception as exc:
                log.critical("%s: could not close relay: %s", name, exc)

    def install_atexit(self) -> None:
        if not self._atexit:
            atexit.register(self.de_energise_all)
            self._atexit = True

    def uninstall_atexit(self) -> None:
        if self._atexit:
            atexit.unregister(self.de_energise_all)
            self._atexit = False
