"""Start-up and shutdown of the daemon: wiring, owner thread, signals, notify, relay safety."""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from cpagent import __version__
from cpagent.chargepoint.store import StoreError
from cpagent.config import Config
from cpagent.daemon import wiring
from cpagent.daemon.context import AppContext
from cpagent.daemon.control import ControlServer, ControlServerError
from cpagent.daemon.events import ShutdownRequested, StopRequested, WorkerDied
from cpagent.daemon.hardware import ControllerContactor
from cpagent.daemon.loop import EX_OK, EX_SOFTWARE, Application, Inbox, OwnerLoop
from cpagent.daemon.notify import Notifier
from cpagent.daemon.safety import RelayGuard
from cpagent.daemon.signals import (
    SignalAction,
    action_of,
    block_in_workers,
    exit_code_of,
    handled_signals,
    name_of,
)
from cpagent.daemon.statelock import StateDirBusy, StateLock
from cpagent.daemon.web_wiring import start_web
from hw.errors import ConfigurationError, HardwareError

log = logging.getLogger(__name__)

# sysexits.h; 65 and 78 are also RestartPreventExitStatus= in systemd/cpagent.service.
EX_DATAERR = 65  # the state store is refused (not ours, corrupt, truncated, locked)
EX_UNAVAILABLE = 69
EX_OSERR = 71  # another cpagent holds the state dir (restarting later may succeed)
EX_CANTCREAT = 73
EX_IOERR = 74  # the state store cannot be written at start (disk full): systemd retries
EX_CONFIG = 78
TRANSIENT_STORE_ERRORS = ("disk full", "I/O error")  # exit 74, not 65
SHUTDOWN_GRACE_S = 10.0  # after a stop request, how long the owner thread may take
STOP_TIMEOUT_S = 5.0  # per transport / driver close


class StartupError(Exception):
    """The daemon cannot start; `exit_code` says why (sysexits.h)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_daemon(
    config: Config,
    *,
    env: Mapping[str, str] | None = None,
    app: str = "chargepoint",
    build_app: Callable[[AppContext], Application] | None = None,
) -> int:
    """Run in the foreground until SIGTERM/SIGINT or a fatal error; return the exit code.

    `app` names the application (context.APPLICATIONS); `build_app` replaces its factory."""
    if build_app is None:
        build_app = functools.partial(wiring.build_application, name=app)
    unblock_signals = block_in_workers()  # before any thread starts: they all inherit it
    notifier = Notifier(env)
    guard = RelayGuard()
    guard.install_atexit()
    inbox = Inbox()
    previous_hook = threading.excepthook
    threading.excepthook = _worker_died_hook(inbox, previous_hook)
    hardware = transport = control = web = None
    lock = StateLock(config.state.dir)
    try:
        log.info(
            "cpagent %s starting: %s, %d connector(s)",
            __version__,
            config.path,
            len(config.connectors),
        )
        _prepare_state_dir(config.state.dir)
        _lock_state_dir(lock)  # before any device, the store or power-loss recovery
        _check_store(config)
        hardware = _build(wiring.build_hardware, config, inbox.post)
        for conn in hardware.connectors:
            guard.add(conn.source, conn.relay)
            if conn.evse is not None and not isinstance(conn.relay, ControllerContactor):
                contactor = ControllerContactor(conn.evse, conn.evse_writer)
                guard.add(f"{conn.source} EVSE controller", contactor)
        guard.de_energise_all()  # contactors open from the very start
        transport = _build(wiring.build_transport, config, inbox.post)
        owner = _Owner(
            build_app, AppContext(config, hardware, transport, inbox.post), inbox, notifier, guard
        )
        stop_asked: list[float] = []
        signalled: list[int] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if action_of(signum) is SignalAction.ABORT:
                _abort(guard, signum)
            log.warning("%s: stopping (relays open first)", name_of(signum))
            stop_asked.append(time.monotonic())
            signalled.append(signum)
            inbox.post(StopRequested(f"signal {name_of(signum)}"))

        restore = _install_signals(on_signal)
        try:
            owner.thread.start()
            owner.built.wait()
            if owner.exit_code is not None:
                return owner.exit_code  # the application could not be built
            # The page first: its WebPageState is then in the inbox before any status request
            # can come in through the control socket. The devices too: once the socket
            # answers, a bench command (`ctl tap`) finds its simulated device running.
            web = start_web(config, inbox.post)  # None: no [web], or it could not bind
            hardware.start()
            control = ControlServer(
                config.control.socket, inbox.post, ctl_group=config.control.ctl_group
            )
            try:
                control.start()
            except ControlServerError as exc:
                control = None
                inbox.post(ShutdownRequested("control socket unavailable", EX_UNAVAILABLE))
                owner.thread.join(SHUTDOWN_GRACE_S)
                raise StartupError(str(exc), EX_UNAVAILABLE) from exc
            transport.start()
            notifier.ready("running; connecting to CSMS")
            unblock_signals()  # every thread is started: signals come to this one alone
            code = _wait(owner, stop_asked)
            if code == EX_OK and signalled:
                code = exit_code_of(signalled[0])  # SIGHUP 75: restart; stray n: 128 + n
            return code
        finally:
            restore()
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return exc.exit_code
    except Exception:
        log.exception("cpagent failed")
        return EX_SOFTWARE
    finally:
        guard.de_energise_all()
        notifier.stopping("stopping")
        if web is not None:
            _close(web.stop, "web page")
        if control is not None:
            _close(functools.partial(control.stop), "control socket")
        if transport is not None:
            _close(functools.partial(transport.stop, STOP_TIMEOUT_S), "transport")
        if hardware is not None:
            _close(functools.partial(hardware.close, STOP_TIMEOUT_S), "hardware")
        notifier.close()
        threading.excepthook = previous_hook
        guard.uninstall_atexit()
        lock.release()  # last: nothing of ours touches the state dir after this
        log.info("cpagent stopped")
        unblock_signals()  # a signal still pending (start-up failed early) acts now


class _Owner:
    """The owner thread. It builds the application itself, so everything the application
    holds (e.g. its SQLite connection) belongs to this one thread, then runs the loop."""

    def __init__(
        self,
        build_app: Callable[[AppContext], Application],
        ctx: AppContext,
        inbox: Inbox,
        notifier: Notifier,
        guard: RelayGuard,
    ) -> None:
        self._build_app, self._ctx = build_app, ctx
        self._inbox, self._notifier, self._guard = inbox, notifier, guard
        self.built = threading.Event()  # set once the loop runs, or the build failed
        self.exit_code: int | None = None
        # daemon=True only so a hung owner cannot keep the process alive past the grace period.
        self.thread = threading.Thread(target=self._main, name="owner", daemon=True)

    def _main(self) -> None:
        app: Application | None = None
        loop: OwnerLoop | None = None
        code = EX_SOFTWARE
        try:
            app = self._build_app(self._ctx)
            loop = OwnerLoop(app, inbox=self._inbox, notifier=self._notifier)
            self.built.set()
            code = loop.run()
        except StartupError as exc:
            log.error("cannot start: %s", exc)
            code = exc.exit_code
        except StoreError as exc:  # e.g. the disk is full before power-loss recovery is saved
            log.error("%s: %s", "exiting" if loop else "cannot start", exc)
            code = EX_IOERR
        except Exception:
            log.exception("owner thread failed; exiting" if loop else "application not built")
        finally:
            self.exit_code = code
            self.built.set()
            self._guard.de_energise_all()  # relays first, whatever happened
            reason = (loop.stop_reason if loop else "") or "error"
            self._notifier.stopping(f"stopping: {reason}")
            if app is not None:
                try:
                    app.shutdown(reason)
                except Exception:
                    log.exception("application shutdown failed")


def _wait(owner: _Owner, stop_asked: list[float]) -> int:
    """Wait (on the main thread, where signals arrive) for the owner thread to end."""
    while owner.thread.is_alive():
        owner.thread.join(0.5 if stop_asked else 5.0)  # few wake-ups while idle
        if stop_asked and time.monotonic() - stop_asked[0] > SHUTDOWN_GRACE_S:
            log.critical("owner thread did not stop within %.0f s; exiting", SHUTDOWN_GRACE_S)
            return EX_SOFTWARE
    return owner.exit_code if owner.exit_code is not None else EX_SOFTWARE


def _install_signals(handler: Any) -> Callable[[], None]:
    """Handle every signal in cpagent.daemon.signals; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # embedded (tests): the caller stops us by posting
    old = {}
    for sig in handled_signals():
        ignore = action_of(sig) is SignalAction.IGNORE
        old[sig] = signal.signal(sig, signal.SIG_IGN if ignore else handler)

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore


def _abort(guard: RelayGuard, signum: int) -> None:
    """SIGABRT (the systemd watchdog: the owner loop hangs): open the relays from here, then
    die by the signal as systemd expects (core dump, restart)."""
    log.critical("%s: owner loop presumed hung; opening every relay and aborting", name_of(signum))
    guard.de_energise_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _lock_state_dir(lock: StateLock) -> None:
    try:
        lock.acquire()
    except StateDirBusy as exc:
        raise StartupError(f"{exc}; refusing to start a second daemon on it", EX_OSERR) from None
    except OSError as exc:
        raise StartupError(f"state lock {lock.path}: {exc.strerror or exc}", EX_CANTCREAT) from None


def _check_store(config: Config) -> None:
    """The state store is this chargepoint's and whole, before anything reads it."""
    from cpagent.chargepoint.store import DATABASE_FILE, StoreOpenError
    from cpagent.chargepoint.store_identity import check_at_start

    try:
        check_at_start(config.state.dir / DATABASE_FILE, config.chargepoint.id)
    except StoreOpenError as exc:
        if exc.reason in TRANSIENT_STORE_ERRORS:  # space may come back: let systemd retry
            raise StartupError(str(exc), EX_IOERR) from None
        raise StartupError(
            f"{exc}; see: cpagent store check --config {config.path}", EX_DATAERR
        ) from None


def _worker_died_hook(inbox: Inbox, previous: Any) -> Any:
    def hook(args: threading.ExceptHookArgs) -> None:
        previous(args)  # the traceback still reaches the log
        name = args.thread.name if args.thread is not None else "?"
        inbox.post(WorkerDied(name, f"{args.exc_type.__name__}: {args.exc_value}"))

    return hook


def _build(builder: Callable[..., Any], config: Config, post: Callable[[object], None]) -> Any:
    try:
        return builder(config, post)
    except ConfigurationError as exc:
        raise StartupError(str(exc), EX_CONFIG) from exc
    except HardwareError as exc:
        raise StartupError(str(exc), EX_UNAVAILABLE) from exc


def _prepare_state_dir(path: Path) -> None:
    """The state store's directory must exist and be writable before READY=1."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise StartupError(f"state.dir {path}: {exc.strerror or exc}", EX_CANTCREAT) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise StartupError(f"state.dir {path}: not writable", EX_CANTCREAT)


def _close(action: Callable[[], object], what: str) -> None:
    try:
        action()
    except Exception:
        log.exception("stopping %s failed", what)


__all__ = [
    "EX_CONFIG",
    "EX_DATAERR",
    "EX_OK",
    "EX_OSERR",
    "EX_SOFTWARE",
    "EX_UNAVAILABLE",
    "StartupError",
    "run_daemon",
]
