"""Run Debian's mosquitto broker on a free loopback port for tests (fails loudly if missing)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.support.net import free_port, port_open

MOSQUITTO = "/usr/sbin/mosquitto"


class Mosquitto:
    """A mosquitto process with a generated config under `directory`; restartable.

    Persistence is on (so a restart keeps sessions and queued QoS 1 messages) with
    `user root` when run as root, because mosquitto started as root otherwise drops to its own
    user and cannot write the test directory (DESIGN field notes). `passwords` (user ->
    password) turns off anonymous access; `tls_files` makes the listener TLS-only; `acl` is
    the text of an acl_file (README, "Security"); `extra` are more config lines. stderr
    goes to `directory/mosquitto.log`.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        passwords: dict[str, str] | None = None,
        tls_files: tuple[str, str, str] | None = None,
        acl: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        if not Path(MOSQUITTO).exists():
            raise RuntimeError(
                f"{MOSQUITTO} not found: install Debian's mosquitto package "
                "(apt-get install mosquitto); the MQTT tests need a real broker"
            )
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log_file = directory / "mosquitto.log"
        self._passwords = passwords
        self._tls_files = tls_files  # (ca, server certificate, server key): TLS-only listener
        self._acl = acl
        self._extra = extra
        self._process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.directory}/",
            "autosave_interval 1",
            "set_tcp_nodelay true",  # else Nagle + delayed ACK add ~40 ms per hop
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if self._tls_files:
            ca_file, cert_file, key_file = self._tls_files
            lines += [f"cafile {ca_file}", f"certfile {cert_file}", f"keyfile {key_file}"]
        if os.geteuid() == 0:
            lines.append("user root")
        if self._passwords:
            password_file = self.directory / "passwd"
            password_file.write_text("")
            for user, password in self._passwords.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(password_file), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self._acl is not None:
            acl_file = self.directory / "acl"
            acl_file.write_text(self._acl)
            lines.append(f"acl_file {acl_file}")
        lines += self._extra
        config = self.directory / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            raise RuntimeError("mosquitto already running")
        config = self._write_config()
        log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start:\n{self.log_file.read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminate (SIGTERM, so persistence is saved) and wait for the process."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()
