"""What each signal does to the daemon: every signal that would end it opens the relays first."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from enum import StrEnum

EX_TEMPFAIL = 75  # sysexits.h; Restart=on-failure restarts us (SIGHUP: re-read the config)


class SignalAction(StrEnum):
    """How the daemon treats a signal."""

    STOP = "stop"  # graceful stop: relays open, StopTransactions queued and sent, exit
    IGNORE = "ignore"  # the failing call returns an error instead (EPIPE, EFBIG)
    ABORT = "abort"  # relays open at once, then the default action (core dump)


# Theory of operation. Every catchable signal whose default action ends the process is
# handled: SIGKILL alone (and a power cut, or the OOM killer's SIGKILL) runs no code of
# ours, which is what ExecStopPost=cpagent safe-off in the unit is for.
# - SIGTERM / SIGINT: the asked-for stop, exit 0 (systemd does not restart it).
# - SIGHUP: the daemon does not reload in place (drivers, transport and store are built once
#   from the config): it stops gracefully and exits 75, so Restart=on-failure starts it again
#   with the edited config. Outside systemd it simply stops.
# - SIGQUIT, SIGUSR1/2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGXCPU and
#   the real-time signals: nobody should send them; a stray one still stops the daemon
#   gracefully and exits 128 + n (a failure: systemd restarts it).
# - SIGPIPE and SIGXFSZ: ignored, so the write that caused them fails with EPIPE / EFBIG
#   and is handled where it happened (a file-size limit becomes a store write fault).
# - SIGABRT: what the systemd watchdog sends a hung owner loop; a graceful stop would need
#   that loop, so the relays are opened from the signal handler, then the process aborts.
# - SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS: synchronous faults; Python code must
#   not run after one, so they are left alone (ExecStopPost covers them).
STOP_CLEAN = (signal.SIGTERM, signal.SIGINT)
STOP_STRAY = tuple(
    getattr(signal, name)
    for name in (
        "SIGQUIT",
        "SIGUSR1",
        "SIGUSR2",
        "SIGALRM",
        "SIGVTALRM",
        "SIGPROF",
        "SIGIO",
        "SIGPWR",
        "SIGSTKFLT",
        "SIGXCPU",
    )
    if hasattr(signal, name)
)
IGNORED = (signal.SIGPIPE, signal.SIGXFSZ)


def action_of(signum: int) -> SignalAction | None:
    """What the daemon does on `signum`; None: not handled (the default action applies)."""
    if signum in IGNORED:
        return SignalAction.IGNORE
    if signum == signal.SIGABRT:
        return SignalAction.ABORT
    if signum in (*STOP_CLEAN, signal.SIGHUP, *STOP_STRAY) or _realtime(signum):
        return SignalAction.STOP
    return None


def exit_code_of(signum: int) -> int:
    """The exit status after a graceful stop caused by `signum`."""
    if signum in STOP_CLEAN:
        return 0
    if signum == signal.SIGHUP:
        return EX_TEMPFAIL
    return 128 + signum


def handled_signals() -> list[int]:
    """Every signal the daemon installs a handler for (or ignores)."""
    realtime = list(range(signal.SIGRTMIN, signal.SIGRTMAX + 1))
    return [*STOP_CLEAN, signal.SIGHUP, *STOP_STRAY, *realtime, *IGNORED, signal.SIGABRT]


def name_of(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


def _realtime(signum: int) -> bool:
    return signal.SIGRTMIN <= signum <= signal.SIGRTMAX


def block_in_workers() -> Callable[[], None]:
    """Block the handled signals (the ignored ones aside) on the main thread before it starts
    any thread, and return the call that unblocks them there once it has started them all.

    Threads inherit the mask, so the kernel then delivers a kill, Ctrl-C or systemd's
    SIGTERM to the main thread alone. Delivered to a worker, a signal does not interrupt the
    main thread's blocking wait, and its Python handler ran only when that wait timed out:
    seconds late. A signal arriving before the unblock waits for it (pending)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # embedded (tests): no handlers of ours either
    wanted = {sig for sig in handled_signals() if sig not in IGNORED}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)

    def unblock() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

    return unblock
