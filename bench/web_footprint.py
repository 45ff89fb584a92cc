"""Benchmark: what the web page adds to a process that already holds the daemon's code.

A fresh interpreter imports the daemon's modules (`cpagent.daemon.runner`, the chargepoint
application and its transports), settles, and reads VmRSS (proc(5)); then it imports
`cpagent.web`, starts a WebServer on 127.0.0.1 (ephemeral port) and reads VmRSS (idle);
then it serves each route once (`/`, `/sessions` with 50 fake sessions of 25 samples,
`/api/*`, `/metrics`) and reads VmRSS and the thread count again (the fake data's own
memory is included in that last figure). Printed: RSS before,
after start (idle), after serving, and the differences in MiB.
Usage: python3 -m bench.web_footprint
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys

CHILD = r"""
import gc, json, threading, urllib.request
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
import cpagent.daemon.runner, cpagent.daemon.ocpp_app, cpagent.transports.websocket  # noqa
gc.collect()
before, threads_before = rss(), threading.active_count()
from cpagent.web import WebServer
data = {}
web = WebServer("127.0.0.1:0", lambda: data["status"](), lambda *a: data["sessions"](*a))
web.start()
gc.collect()
idle = rss()
from tests.web.fakes import FakeHistory, session, status
data.update(status=status, sessions=FakeHistory([session(n, 25) for n in range(1, 51)]))
for route in ("", "sessions", "api/status", "api/sessions", "metrics"):
    urllib.request.urlopen(web.url + route).read()
gc.collect()
served = rss()
threads_idle = threading.active_count()
web.stop()
print(json.dumps({"before": before, "idle": idle, "served": served,
                  "threads_before": threads_before, "threads_with_web": threads_idle}))
"""


def main() -> int:
    gc.collect()
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout
    f = json.loads(out)
    print(f"RSS with the daemon's modules: {f['before']:.1f} MiB")
    print(
        f"+ web server started, idle:     {f['idle']:.1f} MiB (+{f['idle'] - f['before']:.2f} MiB)"
    )
    print(
        f"+ every route served once:      {f['served']:.1f} MiB "
        f"(+{f['served'] - f['before']:.2f} MiB)"
    )
    print(f"threads: {f['threads_before']} -> {f['threads_with_web']} while idle")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
