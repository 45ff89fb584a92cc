"""The bench CSMS's interactive prompt: call, list, show, frames, help, quit."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from cpagent.csms.control import CentralApi
from cpagent.csms.errors import CallErrorReceived, CsmsError
from cpagent.csms.state import JsonObject

HELP = """\
commands:
  call CP_ID ACTION [JSON]   send a central-system CALL and print the answer, e.g.
                             call CP001 RemoteStartTransaction {"idTag":"ABC123","connectorId":1}
  list                       chargepoints with link, connectors and active transactions
  show CP_ID                 everything seen of one chargepoint, as JSON
  frames [CP_ID] [N]         the last N frames (default 20), of one chargepoint or all
  help                       this text
  quit                       stop the central system"""

PROMPT = "csms> "


def run_prompt(central: CentralApi, lines: TextIO, out: TextIO) -> None:
    """Read commands from `lines` until `quit` or end of input, answering on `out`."""
    out.write(PROMPT)
    out.flush()
    for line in lines:
        if not execute(central, line, out):
            return
        out.write(PROMPT)
        out.flush()
    out.write("\n")


def execute(central: CentralApi, line: str, out: TextIO) -> bool:
    """Run one prompt command; False when the user asked to quit."""
    words = line.strip().split(maxsplit=3)
    if not words:
        return True
    command, args = words[0].lower(), words[1:]
    if command in ("quit", "exit"):
        return False
    if command == "help":
        print(HELP, file=out)
    elif command == "list":
        print(format_list(central.snapshot()), file=out)
    elif command == "show" and len(args) == 1:
        view = central.snapshot(args[0])
        if view["chargepoints"]:
            print(json.dumps(view, indent=2), file=out)
        else:
            print(f"error: no chargepoint {args[0]!r} seen", file=out)
    elif command == "frames" and len(args) <= 2:
        print(format_frames(central, args), file=out)
    elif command == "call" and len(args) >= 2:
        print(_call(central, args), file=out)
    else:
        print(f"error: cannot read {line.strip()!r}; type 'help'", file=out)
    return True


def _call(central: CentralApi, args: list[str]) -> str:
    cp_id, action = args[0], args[1]
    try:
        payload = json.loads(args[2]) if len(args) == 3 else {}
    except json.JSONDecodeError as exc:
        return f"error: payload is not JSON: {exc}"
    if not isinstance(payload, dict):
        return "error: payload must be a JSON object"
    try:
        answer = central.call(cp_id, action, payload)
    except CallErrorReceived as exc:
        details = json.dumps(exc.details)
        return f"CALLERROR {exc.code}: {exc.description} {details}".rstrip()
    except CsmsError as exc:
        return f"error: {exc}"
    return f"{action} -> {json.dumps(answer)}"


def format_list(view: JsonObject) -> str:
    """One line per chargepoint seen."""
    if not view["chargepoints"]:
        return "no chargepoint seen yet"
    active: dict[str, list[str]] = {}
    for transaction in view["transactions"]:
        if transaction["status"] == "Active":
            label = f"tx {transaction['transactionId']} on {transaction['connectorId']}"
            active.setdefault(transaction["chargepointId"], []).append(label)
    return "\n".join(_list_line(cp, active.get(cp["id"], [])) for cp in view["chargepoints"])


def _list_line(cp: JsonObject, transactions: Iterable[str]) -> str:
    link = "connected" if cp["connected"] else "disconnected"
    boot = cp["boot"] or {}
    model = f"{boot.get('chargePointVendor', '?')}/{boot.get('chargePointModel', '?')}"
    connectors = " ".join(f"{k}:{c['status']}" for k, c in cp["connectors"].items()) or "-"
    return f"{cp['id']:<16} {link:<12} {model:<24} {connectors}  {', '.join(transactions)}"


def format_frames(central: CentralApi, args: list[str]) -> str:
    """The last N frames, of one chargepoint or all, one line each, oldest first."""
    cp_id = next((a for a in args if not a.isdigit()), None)
    count = next((int(a) for a in args if a.isdigit()), 20)
    frames = central.snapshot(cp_id, frame_limit=count)["frames"]
    arrows = {"received": "<-", "sent": "->"}
    lines = [f"{f['at']} {f['chargepointId']} {arrows[f['direction']]} {f['text']}" for f in frames]
    return "\n".join(lines) or "no frames"
