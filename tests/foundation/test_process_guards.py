"""The state-dir lock and the signal table (the daemon-level tests are in tests/reliability)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from cpagent.daemon.signals import SignalAction, action_of, exit_code_of, handled_signals
from cpagent.daemon.statelock import StateDirBusy, StateLock

# signal(7): every signal whose default action is Term or Core, but the synchronous faults
# (Python must not run after them) and SIGKILL (nothing can catch it)
TERMINATING = {
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGABRT, signal.SIGUSR1,
    signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM, signal.SIGTERM, signal.SIGSTKFLT,
    signal.SIGXCPU, signal.SIGXFSZ, signal.SIGVTALRM, signal.SIGPROF, signal.SIGIO,
    signal.SIGPWR, *range(signal.SIGRTMIN, signal.SIGRTMAX + 1),
}  # fmt: skip
LEFT_ALONE = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP,
              signal.SIGSYS, signal.SIGKILL, signal.SIGCHLD, signal.SIGWINCH}  # fmt: skip


def test_every_catchable_terminating_signal_has_an_action() -> None:
    assert {s for s in TERMINATING if action_of(s) is None} == set()
    assert set(handled_signals()) == TERMINATING
    assert all(action_of(s) is None for s in LEFT_ALONE)


@pytest.mark.parametrize(("signum", "action", "code"), [
    (signal.SIGTERM, SignalAction.STOP, 0),
    (signal.SIGINT, SignalAction.STOP, 0),
    (signal.SIGHUP, SignalAction.STOP, 75),
    (signal.SIGUSR1, SignalAction.STOP, 138),
    (signal.SIGPIPE, SignalAction.IGNORE, None),
    (signal.SIGXFSZ, SignalAction.IGNORE, None),
    (signal.SIGABRT, SignalAction.ABORT, None),
])  # fmt: skip
def test_signal_table(signum: int, action: SignalAction, code: int | None) -> None:
    assert action_of(signum) is action
    if code is not None:
        assert exit_code_of(signum) == code


def test_a_second_lock_on_the_state_dir_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = StateLock(tmp_path)
    first.acquire()
    with pytest.raises(StateDirBusy) as busy:
        StateLock(tmp_path).acquire()
    assert busy.value.pid == os.getpid() and f"cpagent pid {os.getpid()}" in str(busy.value)
    first.release()
    with StateLock(tmp_path) as again:  # released: free at once
        assert again.held
