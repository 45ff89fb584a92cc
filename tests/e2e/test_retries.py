"""Transaction messages answered with a CALLERROR are retried, then given up after the attempts."""

from __future__ import annotations

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import Daemon


def test_a_refused_start_transaction_is_retried_with_the_same_payload(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, TransactionMessageAttempts="3", MeterValueSampleInterval="0")
    csms.fail_next("StartTransaction", 1)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-R")
    daemon.wait_connector(
        lambda c: c["transaction"] and c["transaction"]["id"] == 1,
        timeout=15,
        what="StartTransaction accepted at the second attempt",
    )
    starts = csms.calls("StartTransaction")
    assert len(starts) == 2 and starts[0] == starts[1]  # the original timestamp is kept
    daemon.do("tap", id_tag="CARD-R")
    stop = csms.wait_call("StopTransaction")
    assert stop["transactionId"] == 1


def test_a_message_is_dropped_after_the_configured_attempts(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, TransactionMessageAttempts="2")
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-R")
    csms.wait_call("MeterValues")
    csms.fail_next("StopTransaction", 2)
    daemon.do("tap", id_tag="CARD-R")
    csms.wait_call("StopTransaction", count=2, timeout=10)
    daemon.wait(lambda s: s["queued_messages"] == 0, what="given up")
    # the queue moves on: later traffic flows and the Stop is not sent a third time
    daemon.do("unplug", connector=1)
    csms.wait_status(1, "Available")
    assert len(csms.calls("StopTransaction")) == 2
