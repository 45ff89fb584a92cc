"""OCPP-J over WebSocket (websocket-client): security profiles 0-3, backoff, ping liveness."""

from __future__ import annotations

import base64
import logging
import random as _random
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import websocket as wsc

from cpagent.transports.backoff import Backoff, BackoffPolicy
from cpagent.transports.base import Post
from cpagent.transports.events import FrameReceived, LinkCause, TransportDown, TransportUp
from cpagent.transports.frame_cap import MAX_FRAME_BYTES, MessageTooBig, cap_incoming
from cpagent.transports.tls import client_context
from cpagent.transports.writer import FrameWriter
from cpagent.transports.ws_settings import SecurityProfile as SecurityProfile
from cpagent.transports.ws_settings import check_settings
from cpagent.transports.ws_socket import abort, close_quietly, connect_cause, linger, shorten

log = logging.getLogger(__name__)

STATUS_MESSAGE_TOO_BIG = 1009  # RFC 6455 §7.4.1
OWNER_TAKES_DOWN_S = 10.0  # longest wait for the owner to take a TransportDown (await_owner)


class _AttemptFailed(Exception):
    """A connection attempt failed: why (for people), classified (`cause`), and the HTTP
    status of a refused upgrade."""

    def __init__(
        self, reason: str, cause: LinkCause = LinkCause.OTHER, http_status: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.http_status = http_status

    @property
    def auth(self) -> bool:
        """The server refused our credentials: retrying soon cannot help."""
        return self.cause is LinkCause.AUTH


class WebSocketTransport:
    """A chargepoint's WebSocket link to `url/<chargepoint id>`, reconnecting forever.

    Theory of operation: one runner thread connects, posts `TransportUp`, then reads frames
    until the link ends, posts `TransportDown`, waits a backoff delay and starts again.
    websocket-client's own reconnect is not used: it waits a fixed delay and never reports a
    new connection (DESIGN field notes).

    Nothing but the link's own threads ever waits on the socket: `send` only queues the frame
    for the link's writer thread (`FrameWriter`), so a central system that stops reading can
    never stall the caller (the daemon's owner thread, which opens contactors). A watcher
    thread per link pings every `ping_interval_s` (OCPP `WebSocketPingInterval`, 0 disables)
    and aborts the socket when nothing (pong or frame) arrives within `pong_timeout_s` of a
    ping, or when one frame has been blocked in the socket for `pong_timeout_s` (the peer
    stopped reading), or `send` finds the writer's queue full. So a half-open connection is
    replaced within ping_interval_s + pong_timeout_s and a peer that stopped reading within
    1.5 x pong_timeout_s of the first frame it does not take; frames still queued are lost
    with the link, like frames in flight (the chargepoint resends transaction messages from
    its durable outbox). A message larger than `max_frame_bytes` is refused before its
    payload is read: Close 1009 (RFC 6455 §7.4.1), the link replaced. With `await_owner`
    (the daemon), a new link is opened only once the owner has taken the last
    TransportDown (see `TransportDown.taken`).
    """

    def __init__(
        self,
        url: str,
        chargepoint_id: str,
        post: Post,
        *,
        subprotocol: str = "ocpp1.6",
        security_profile: int = 0,
        password: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        ping_interval_s: float = 30.0,
        pong_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        await_owner: bool = False,
        backoff: BackoffPolicy | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.profile = SecurityProfile(security_profile)
        check_settings(url, self.profile, subprotocol, password, cert_file, key_file)
        self.url = url.rstrip("/") + "/" + quote(chargepoint_id, safe="")
        self.chargepoint_id = chargepoint_id
        self.subprotocol = subprotocol
        self._post = post
        self._password = password
        self._tls_files = (ca_file, cert_file, key_file)
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self._connect_timeout_s = connect_timeout_s
        if max_frame_bytes < 1:
            raise ValueError(f"max_frame_bytes must be at least 1, got {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self._await_owner = await_owner
        self._backoff = Backoff(backoff or BackoffPolicy(), random)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._writer: FrameWriter | None = None  # the connected link's writer, or None
        self._attempt_ws: wsc.WebSocket | None = None  # link being set up or in use
        self._kill_reason: str | None = None
        self._heard = threading.Event()
        self._runner: threading.Thread | None = None

    # -- Transport interface -------------------------------------------------------------

    def start(self) -> None:
        """Spawn the runner thread; it connects and reconnects until `stop()`."""
        if self._runner is not None:
            raise RuntimeError("WebSocketTransport already started")
        self._runner = threading.Thread(
            target=self._run, name=f"ws-{self.chargepoint_id}", daemon=True
        )
        self._runner.start()

    def send(self, text: str) -> bool:
        """Queue one text frame for the link's writer; never waits on the network. False when
        no link is up, or the writer's queue is full (the link is then replaced)."""
        with self._lock:
            writer, ws = self._writer, self._attempt_ws
        if writer is None:
            return False
        try:
            data = text.encode()
        except UnicodeEncodeError:
            # A lone surrogate (e.g. echoed from a peer's message id) cannot travel as UTF-8;
            # nothing is queued, so the link stays usable.
            log.warning("%s: frame not sent: not encodable as UTF-8", self.chargepoint_id)
            return False
        if writer.put(wsc.ABNF.OPCODE_TEXT, data):
            return True
        if ws is not None and not writer.closed:  # full, not merely ending
            self._kill(
                ws, f"{writer.queued()} frames waiting to be sent (central system not reading)"
            )
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """Close the link (WebSocket close 1000) and join the threads; idempotent. The Close
        frame goes through the writer, so a peer that does not read cannot hold us here."""
        self._stop.set()
        with self._lock:
            writer, attempt = self._writer, self._attempt_ws
        if writer is not None:
            writer.close(wsc.STATUS_NORMAL, b"chargepoint stopping")
        runner = self._runner
        if runner is None:
            return
        runner.join(min(1.0, timeout / 2))
        if runner.is_alive() and attempt is not None:
            abort(attempt)
        runner.join(timeout)

    def _kill(self, ws: wsc.WebSocket, reason: str) -> None:
        """Mark the link dead for `reason` (the first one given is reported) and abort it."""
        with self._lock:
            if self._kill_reason is None:
                self._kill_reason = reason
        abort(ws)

    # -- runner --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ws = self._connect()
            except _AttemptFailed as failed:
                auth = failed.auth
                delay = self._backoff.next_auth_delay_s() if auth else self._backoff.next_delay_s()
                self._post(
                    TransportDown(failed.reason, failed.cause, failed.http_status, retry_in_s=delay)
                )
                if auth:
                    # One clear line per refusal; the backoff keeps them rare. No password.
                    log.error(
                        "%s: %s; check the chargepoint id and password; retrying in %.0f s",
                        self.chargepoint_id,
                        failed.reason,
                        delay,
                    )
                else:
                    log.warning(
                        "%s: %s; retrying in %.1f s", self.chargepoint_id, failed.reason, delay
                    )
                self._stop.wait(delay)
                continue
            up_at = time.monotonic()
            reason, cause = self._serve(ws)
            self._backoff.link_ended(time.monotonic() - up_at)
            retry = None if self._stop.is_set() else self._backoff.next_delay_s()
            down = TransportDown(reason, cause, retry_in_s=retry)
            self._post(down)
            if self._await_owner:
                # The owner may still be working through frames of the old link; the next
                # link waits until it has taken in the end of this one (bounded: the owner
                # never blocks on the network, so this is milliseconds; stop() ends it).
                latest = time.monotonic() + OWNER_TAKES_DOWN_S
                while not (
                    down.taken.wait(0.05) or self._stop.is_set() or time.monotonic() > latest
                ):
                    pass
            if self._stop.is_set() or retry is None:
                break
            log.warning(
                "%s: link down (%s); reconnecting in %.1f s", self.chargepoint_id, reason, retry
            )
            self._stop.wait(retry)

    def _connect(self) -> wsc.WebSocket:
        """Open one link, or raise `_AttemptFailed` with a reason a person can act on."""
        sslopt = None
        if self.profile >= SecurityProfile.TLS_BASIC_AUTH:
            try:
                sslopt = {"context": client_context(*self._tls_files)}
            except (OSError, ssl.SSLError) as exc:
                raise _AttemptFailed(f"TLS set-up failed: {exc}", LinkCause.TLS) from exc
        ws = wsc.WebSocket(sslopt=sslopt, enable_multithread=True)
        with self._lock:
            self._attempt_ws = ws
        if self._stop.is_set():
            raise _AttemptFailed("stopped", LinkCause.STOPPED)
        header = [f"Sec-WebSocket-Protocol: {self.subprotocol}"]
        if self.profile in (SecurityProfile.BASIC_AUTH, SecurityProfile.TLS_BASIC_AUTH):
            # OCPP 1.6 Security Whitepaper §2.3: user-id is the chargepoint id.
            token = base64.b64encode(f"{self.chargepoint_id}:{self._password}".encode())
            header.append(f"Authorization: Basic {token.decode()}")
        try:
            ws.connect(
                self.url, header=header, timeout=self._connect_timeout_s, suppress_origin=True
            )
        except wsc.WebSocketBadStatusException as exc:
            abort(ws)
            status = exc.status_code
            if status in (401, 403):
                raise _AttemptFailed(
                    f"central system refused our credentials (HTTP {status})",
                    LinkCause.AUTH,
                    status,
                ) from exc
            raise _AttemptFailed(
                f"central system answered HTTP {status}", LinkCause.HTTP, status
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            abort(ws)
            raise _AttemptFailed(
                f"server certificate rejected: {exc.verify_message}", LinkCause.TLS
            ) from exc
        except (wsc.WebSocketException, OSError) as exc:
            abort(ws)
            reason, cause = f"cannot connect to {self.url}: {exc or type(exc).__name__}", None
            if self.profile is SecurityProfile.TLS_CLIENT_CERT and isinstance(
                exc, wsc.WebSocketConnectionClosedException | ConnectionResetError
            ):
                # TLS 1.3 (RFC 8446 §4.4.2.4): the server checks our certificate after the
                # client has finished; a refusal shows here as the server hanging up.
                reason += " (the central system may have refused our client certificate)"
                cause = LinkCause.TLS
            raise _AttemptFailed(reason, cause or connect_cause(exc)) from exc
        chosen = (ws.getheaders() or {}).get("sec-websocket-protocol")
        if chosen != self.subprotocol:
            # OCPP-J 1.6 §3.1.2: the server must select the subprotocol we offered.
            close_quietly(ws, wsc.STATUS_PROTOCOL_ERROR)
            picked = "no subprotocol" if chosen is None else f"subprotocol {chosen!r}"
            raise _AttemptFailed(
                f"central system selected {picked}; we offered {self.subprotocol!r}",
                LinkCause.SUBPROTOCOL,
            )
        ws.settimeout(None)  # reads block; the keep-alive thread detects dead links
        return ws

    def _serve(self, ws: wsc.WebSocket) -> tuple[str, LinkCause]:
        """Post Up, read frames until the link ends; return why it ended."""
        self._kill_reason = None
        self._heard.clear()
        cap_incoming(ws, self.max_frame_bytes)
        writer = FrameWriter(
            ws, f"ws-send-{self.chargepoint_id}", lambda reason: self._kill(ws, reason)
        )
        writer.start()
        link_done = threading.Event()
        watcher = threading.Thread(
            target=self._watch,
            args=(ws, writer, link_done),
            name=f"ws-watch-{self.chargepoint_id}",
            daemon=True,
        )
        watcher.start()
        with self._lock:
            self._writer = writer
        self._post(TransportUp(self.subprotocol))
        log.info("%s: connected to %s (%s)", self.chargepoint_id, self.url, self.subprotocol)
        reason, cause = "stopped", LinkCause.STOPPED
        try:
            reason, cause = self._read(ws, writer)
            with self._lock:
                if self._kill_reason is not None:  # what ended it, not the teardown
                    reason, cause = self._kill_reason, LinkCause.LOST
        finally:
            with self._lock:
                self._writer = None
                self._attempt_ws = None
            if ws.connected:  # false once a Close went either way or the socket closed
                # Say goodbye through the writer, bounded: a peer that does not read gets none.
                writer.close(wsc.STATUS_NORMAL)
            else:
                writer.discard()
            if not writer.join(min(1.0, self.pong_timeout_s)):
                abort(ws)
                writer.join(5.0)
            writer.discard()
            link_done.set()
            watcher.join()
            abort(ws)
            ws.shutdown()
        return ("stopped", LinkCause.STOPPED) if self._stop.is_set() else (reason, cause)

    def _read(self, ws: wsc.WebSocket, writer: FrameWriter) -> tuple[str, LinkCause]:
        """Post the frames received until the link ends; return why it ended."""
        while True:
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except MessageTooBig as exc:
                log.warning(
                    "%s: refused a message from the central system: %s", self.chargepoint_id, exc
                )
                writer.close(STATUS_MESSAGE_TOO_BIG, b"message too big")
                if writer.join(min(1.0, self.pong_timeout_s)):
                    linger(ws, min(1.0, self.pong_timeout_s))
                return f"refused an oversized message (close 1009): {exc}", LinkCause.LOST
            except (wsc.WebSocketException, OSError) as exc:
                # websocket-client may quote the whole offending frame in its message.
                return f"connection lost: {shorten(str(exc) or type(exc).__name__)}", LinkCause.LOST
            self._heard.set()
            if opcode == wsc.ABNF.OPCODE_TEXT:
                data = frame.data
                self._post(FrameReceived(data.decode() if isinstance(data, bytes) else data))
            elif opcode == wsc.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None
                return f"closed by central system (code {code})", LinkCause.CLOSED
            elif opcode == wsc.ABNF.OPCODE_BINARY:
                # OCPP-J 1.6 §4.1: messages are text frames; binary ones carry nothing for us.
                log.warning("%s: ignored a binary frame", self.chargepoint_id)

    def _watch(self, ws: wsc.WebSocket, writer: FrameWriter, link_done: threading.Event) -> None:
        """Ping every ping_interval_s and abort the link when no pong (or frame) follows within
        pong_timeout_s, or when one frame stays blocked in the socket for pong_timeout_s."""
        clock, bound = time.monotonic, self.pong_timeout_s
        interval = self.ping_interval_s
        next_ping = clock() + interval if interval > 0 else float("inf")
        pong_due: float | None = None
        while True:
            now = clock()
            blocked = writer.busy_for(now)
            if blocked >= bound:
                self._kill(
                    ws, f"a frame stayed unsent for {bound:g} s (central system not reading)"
                )
                return
            if pong_due is not None and (now >= pong_due or self._heard.is_set()):
                if not self._heard.is_set():
                    self._kill(ws, f"no pong within {bound:g} s (half-open connection)")
                    return
                pong_due = None
            if pong_due is None and now >= next_ping:
                self._heard.clear()
                if not writer.put(wsc.ABNF.OPCODE_PING, b""):
                    return  # closing, or full: send() or the reader reports it
                pong_due, next_ping = now + bound, now + interval
            # Wake for the next ping or pong deadline, and often enough that a frame which
            # starts blocking now is noticed by 1.5 x the bound.
            wake = min(
                next_ping,
                pong_due if pong_due is not None else float("inf"),
                now - blocked + bound if blocked else now + bound / 2,
            )
            if link_done.wait(max(0.0, wake - clock())):
                return
