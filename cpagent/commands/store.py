"""`cpagent store check|reset|restore --config FILE`: inspect and recover the state store."""

from __future__ import annotations

import argparse
import functools
import shutil
import time
from pathlib import Path
from typing import Any

from cpagent.commands.common import (
    EX_OK,
    CliError,
    add_config_option,
    load_or_report,
    run_guarded,
)
from cpagent.config import Config

EX_DATAERR = 65  # the store is refused (the daemon exits with the same status)
EX_OSERR = 71  # a daemon holds the state dir
EPILOG = """\
The daemon refuses to start (exit 65, not restarted by systemd) on a state store that is
not this chargepoint's, is corrupt, truncated or locked, or is empty or missing while a
backup exists. Stop the daemon first (systemctl stop cpagent), then:
  check    say what is wrong (exit 0: the daemon would start; 65: it would refuse)
  restore  put the backup made at the last good start in place (the current files are
           moved aside, not deleted); messages the central system already had may be sent
           again, and a transaction newer than the backup is lost
  reset    move the database, its write-ahead log and its backup aside and start empty:
           open transactions in it are neither stopped nor sent (their billing data stays
           in the moved-aside files)

examples:
  cpagent store check --config /etc/cpagent/cpagent.toml
  cpagent store restore --config /etc/cpagent/cpagent.toml
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "store",
        help="check or recover the state store",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "action",
        choices=("check", "reset", "restore"),
        help="check: diagnose; restore: put the backup in place; "
        "reset: move everything aside and start empty",
    )
    add_config_option(parser)
    parser.set_defaults(func=functools.partial(run_guarded, _store))


def _store(args: argparse.Namespace) -> int:
    from cpagent.daemon.statelock import StateDirBusy, StateLock

    config = load_or_report(args.config)
    if not config.state.dir.is_dir():
        if args.action == "check":
            print(f"state dir {config.state.dir}: none yet (the daemon starts empty)")
            return EX_OK
        raise CliError(f"state dir {config.state.dir}: does not exist", EX_DATAERR)
    try:
        with StateLock(config.state.dir):
            return {"check": _check, "reset": _reset, "restore": _restore}[args.action](config)
    except StateDirBusy as exc:
        raise CliError(f"{exc}; stop it first (systemctl stop cpagent)", EX_OSERR) from None


def _db(config: Config) -> Path:
    from cpagent.chargepoint.store import DATABASE_FILE

    return config.state.dir / DATABASE_FILE


def _check(config: Config) -> int:
    from cpagent.chargepoint.store import Store, StoreOpenError
    from cpagent.chargepoint.store_identity import backup_path, check_copy, preflight

    path, backup = _db(config), backup_path(_db(config))
    try:
        preflight(path)
        if not path.exists():
            print(f"{path}: no database yet (the daemon starts empty)")
            return EX_OK
        check_copy(path, config.chargepoint.id)
    except StoreOpenError as exc:
        print(f"cpagent: {exc}")
        if backup.exists():
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(backup.stat().st_mtime))
            print(f"  backup from {stamp}: cpagent store restore --config {config.path}")
        print(f"  or start empty: cpagent store reset --config {config.path}")
        return EX_DATAERR
    store = Store.open(path, chargepoint_id=config.chargepoint.id)
    try:
        open_tx = len(store.transactions())
        queued = store.queue_depth()
        store_id = store.get_meta("store_id") or "?"
        version = store.schema_version
    finally:
        store.close()
    print(
        f"{path}: ok: chargepoint {config.chargepoint.id}, store {store_id[:8]}, schema "
        f"v{version}, {open_tx} open transaction(s), {queued} queued message(s), backup "
        f"{'present' if backup.exists() else 'none'}"
    )
    return EX_OK


def _move_aside(config: Config, *, with_backup: bool) -> Path | None:
    from cpagent.chargepoint.store_identity import SIDECARS, backup_path

    path = _db(config)
    names = [Path(f"{path}{s}") for s in ("", *SIDECARS)]
    if with_backup:
        names.append(backup_path(path))
    present = [p for p in names if p.exists()]
    if not present:
        return None
    aside = config.state.dir / time.strftime("store-aside-%Y%m%dT%H%M%SZ", time.gmtime())
    aside.mkdir(mode=0o750, exist_ok=True)
    for item in present:
        item.rename(aside / item.name)
    return aside


def _reset(config: Config) -> int:
    aside = _move_aside(config, with_backup=True)
    if aside is None:
        print(f"{_db(config)}: nothing to reset")
    else:
        print(f"moved the state store to {aside}; the daemon starts empty")
    return EX_OK


def _restore(config: Config) -> int:
    from cpagent.chargepoint.store import StoreOpenError
    from cpagent.chargepoint.store_identity import backup_path, check_copy

    path = _db(config)
    backup = backup_path(path)
    if not backup.exists():
        raise CliError(f"{backup}: no backup to restore (reset starts empty)", EX_DATAERR)
    try:
        check_copy(backup, config.chargepoint.id)
    except StoreOpenError as exc:
        raise CliError(f"the backup is refused too: {exc}", EX_DATAERR) from None
    aside = _move_aside(config, with_backup=False)
    shutil.copyfile(backup, path)
    where = f"; the files it replaced are in {aside}" if aside else ""
    print(f"restored {path} from {backup.name}{where}")
    return EX_OK
