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
from cpagent.config import Config
from cpagent.daemon import wiring
from cpagent.daemon.context import AppContext
from cpagent.daemon.control import ControlServer, ControlServerError
from cpagent.daemon.events import ShutdownRequested, WorkerDied
from cpagent.daemon.loop import EX_OK, EX_SOFTWARE, Application, Inbox, OwnerLoop
from cpagent.daemon.notify import Notifier
from cpagent.daemon.safety import RelayGuard
from hw.errors import ConfigurationError, HardwareError

log = logging.getLogger(__name__)

# sysexits.h; 78 is also RestartPreventExitStatus= in systemd/cpagent.service.
EX_UNAVAILABLE = 69
EX_CANTCREAT = 73
EX_CONFIG = 78
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
    build_app: Callable[[AppContext], Application] = wiring.build_application,
) -> int:
    """Run in the foreground until SIGTERM/SIGINT or a fatal error; return the exit code."""
    notifier = Notifier(env)
    guard = RelayGuard()
    guard.install_atexit()
    inbox = Inbox()
    previous_hook = threading.excepthook
    threading.excepthook = _worker_died_hook(inbox, previous_hook)
    hardware = transport = control = None
    try:
        log.info("cpagent %s starting: %s, %d connector(s)", __version__, config.path,
                 len(config.connectors))
        _prepare_state_dir(config.state.dir)
        hardware = _build(wiring.build_hardware, config, inbox.post)
        for conn in hardware.connectors:
            guard.add(conn.source, conn.relay)
        guard.de_energise_all()  # contactors open from the very start
        transport = _build(wiring.build_transport, config, inbox.post)
        app = build_app(AppContext(config, hardware, transport, inbox.post))
        loop = OwnerLoop(app, inbox=inbox, notifier=notifier)
        control = ControlServer(config.control.socket, inbox.post)
        try:
            control.start()
        except ControlServerError as exc:
            control = None
            raise StartupError(str(exc), EX_UNAVAILABLE) from exc
        hardware.start()
        transport.start()
        return _run_owner(loop, app, guard, inbox, notifier)
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return exc.exit_code
    except Exception:
        log.exception("cpagent failed")
        return EX_SOFTWARE
    finally:
        guard.de_energise_all()
        notifier.stopping("stopping")
        if control is not None:
            _close(functools.partial(control.stop), "control socket")
        if transport is not None:
            _close(functools.partial(transport.stop, STOP_TIMEOUT_S), "transport")
        if hardware is not None:
            _close(functools.partial(hardware.close, STOP_TIMEOUT_S), "hardware")
        notifier.close()
        threading.excepthook = previous_hook
        guard.uninstall_atexit()
        log.info("cpagent stopped")


def _run_owner(
    loop: OwnerLoop, app: Application, guard: RelayGuard, inbox: Inbox, notifier: Notifier
) -> int:
    """Run the loop on the owner thread; this (main) thread handles signals and waits."""
    result: list[int] = []
    stop_asked: list[float] = []

    def owner() -> None:
        code = EX_SOFTWARE
        try:
            code = loop.run()
        except Exception:
            log.exception("owner loop failed; exiting")
        finally:
            result.append(code)
            guard.de_energise_all()  # relays first, whatever happened
            notifier.stopping(f"stopping: {loop.stop_reason or 'error'}")
            try:
                app.shutdown(loop.stop_reason or "error")
            except Exception:
                log.exception("application shutdown failed")

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop_asked.append(time.monotonic())
        inbox.post(ShutdownRequested(f"signal {signal.Signals(signum).name}"))

    # daemon=True only so a hung owner cannot keep the process alive past the grace period.
    thread = threading.Thread(target=owner, name="owner", daemon=True)
    restore = _install_signals(on_signal)
    try:
        thread.start()
        notifier.ready("running; connecting to CSMS")
        while thread.is_alive():
            thread.join(0.5)
            if stop_asked and time.monotonic() - stop_asked[0] > SHUTDOWN_GRACE_S:
                log.critical("owner thread did not stop within %.0f s; exiting", SHUTDOWN_GRACE_S)
                return EX_SOFTWARE
    finally:
        restore()
    return result[0] if result else EX_SOFTWARE


def _install_signals(handler: Any) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # embedded (tests): the caller stops us by posting
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore


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


__all__ = ["EX_CONFIG", "EX_OK", "EX_SOFTWARE", "EX_UNAVAILABLE", "StartupError", "run_daemon"]
