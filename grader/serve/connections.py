"""The connection limits `grade serve` runs with: uvicorn's h11 protocol, plus what it lacks against slow
clients (slowloris, in its read and its write form). uvicorn times out only an idle keep-alive connection;
a connection that sends half a request head, or nothing, or never reads its answers, is held for ever.
Here:

- a request's head must arrive within HEAD_SECONDS of its first byte (or of the connection), its body
  within BODY_SECONDS of its head; otherwise the connection is closed (408);
- an answer must be taken: a connection whose unsent bytes have not gone down for SEND_SECONDS is cut
  (as nginx's `send_timeout`), and one that pipelines more than PIPELINED requests ahead of reading
  their answers is closed after the current one (browsers never pipeline);
- an idle keep-alive connection closes after 5 s;
- at most MAX_OPEN connections are open at once, and at most PER_ADDRESS of them from one address
  (except the proxies named with --forwarded-allow-ips, which carry everyone's). One more closes a
  connection of the address that has the most: first one that does not read its answers or pipelines,
  else the oldest slow body, else the oldest half-sent head, else an idle keep-alive one; never a
  connection being answered, and for GRACE seconds never one that has sent nothing yet or whose
  request is waiting in the kernel to be read (a client that sent its request at once).
  When there is none, the new connection itself is closed with a 503;
- request heads over 16 KiB are refused (h11).

A 2 MB upload within BODY_SECONDS needs 33 KB/s; a course whose students are slower raises it.

Behind a reverse proxy (docs/deploy.md) the proxy bounds the internet's clients; these bound the proxy.
"""

from __future__ import annotations

import fcntl
import os
import resource
import struct
import termios
from collections import Counter

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# the environment may change them (GRADER_HEAD_SECONDS, _BODY_SECONDS, _SEND_SECONDS, _MAX_CONNECTIONS,
# _MAX_PER_ADDRESS)
HEAD_SECONDS = float(os.environ.get("GRADER_HEAD_SECONDS", 10))
BODY_SECONDS = float(os.environ.get("GRADER_BODY_SECONDS", 60))
SEND_SECONDS = float(os.environ.get("GRADER_SEND_SECONDS", 30))
MAX_OPEN = int(os.environ.get("GRADER_MAX_CONNECTIONS", 512))
PER_ADDRESS = int(os.environ.get("GRADER_MAX_PER_ADDRESS", max(MAX_OPEN // 4, 1)))
PIPELINED = 8  # requests in a row sent before the previous answer was complete
GRACE = 1.0  # seconds: see the docstring's room-making
KEEP_ALIVE = 5
SWEEP_SECONDS = 0.5
HEAD_BYTES = 16 * 1024
PROXIES: set[str] = set()  # peers that carry other clients' connections (`grade serve --forwarded-allow-ips`)
TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with deadlines for each request's head and body and for each answer to be
    taken, and caps on open connections, in all and per address (the module's docstring says which)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        now = self.loop.time()
        self.phase, self.since, self.born = "head", now, now  # waiting for a request head (even its first byte)
        self.pipelined, self.unsent, self.unsent_since, self.got = 0, 0, None, 0
        self.peer = self.client[0] if self.client else ""
        _sweep_soon(self)
        if self.peer not in PROXIES and "*" not in PROXIES:
            mine = [c for c in _live(self.connections) if getattr(c, "peer", None) == self.peer]
            if len(mine) > PER_ADDRESS:
                return _make_room(self, mine, now)
        live = _live(self.connections)
        if len(live) > MAX_OPEN:
            count = Counter(getattr(c, "peer", None) for c in live)
            for peer, _ in count.most_common():  # the address with the most connections gives one up
                if _make_room(self, [c for c in live if getattr(c, "peer", None) == peer], now, False):
                    return
            _close(self, BUSY)

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        super().data_received(data)
        self._follow(idle=False)

    def on_response_complete(self) -> None:
        if self.conn.trailing_data[0]:  # the next request came before this answer was complete: pipelining
            self.pipelined += 1
            if self.pipelined > PIPELINED:
                self.phase = "stuck"
                self.transport.close()  # after what is written; the send deadline cuts it if never read
        else:
            self.pipelined = 0
        super().on_response_complete()  # may start the next pipelined request at once
        if not self.transport.is_closing():
            self._follow(idle=not self.conn.trailing_data[0])

    def _follow(self, idle: bool) -> None:
        state = self.conn.their_state
        if state is h11.IDLE:  # waiting for the next request (idle), or part of a head buffered by h11
            phase = "idle" if idle else "head"
            if self.phase != phase:
                self.phase, self.since = phase, self.loop.time()
        elif state is h11.SEND_BODY:
            if self.phase != "body":
                self.phase, self.since = "body", self.loop.time()
        elif self.phase != "stuck":
            self.phase = None  # the request is read: the app answers in its own time


def _rank(c, now: float):
    """How readily a connection is closed to make room (lower first); None: never."""
    if c.transport.is_closing() and c.unsent_since is None and c.transport.get_write_buffer_size() == 0:
        return None  # already going
    if getattr(c, "phase", "") == "stuck" or c.pipelined or c.unsent_since is not None:
        return 0  # does not read its answers
    if c.phase == "body":  # its head came whole, its body does not
        return 1
    if c.phase == "head" and (now - c.since > GRACE or (c.got and not _waiting(c))):
        return 2  # half a head read and no more in the kernel for it, or nothing for a second
    if c.phase == "idle":
        return 3
    return None


def _waiting(c) -> int:
    """Bytes the kernel holds for this connection, not read yet (a request sent at once, still unread)."""
    try:
        fd = c.transport.get_extra_info("socket").fileno()
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except (AttributeError, OSError, ValueError):
        return 0


def _live(connections) -> list:
    return [c for c in connections if not c.transport.is_closing() or c.transport.get_write_buffer_size()]


def _make_room(new, among: list, now: float, or_refuse: bool = True) -> bool:
    """Close the readiest connection of `among` other than `new`; else (or_refuse) `new` itself (503)."""
    ranked = [(rank, c.since) + (c,) for c in among if c is not new and (rank := _rank(c, now)) is not None]
    if ranked:
        _close(min(ranked, key=lambda r: r[:2])[2], TIMEOUT)
        return True
    if or_refuse:
        _close(new, BUSY)
    return False


def _close(protocol, answer: bytes) -> None:
    protocol.phase = None
    transport = protocol.transport
    if protocol.unsent_since is not None or transport.get_write_buffer_size() or protocol.pipelined:
        transport.abort()  # what it holds may never be read: no waiting for it
    elif not transport.is_closing():
        if protocol.conn.our_state is h11.IDLE:  # nothing sent yet on this connection: say why
            transport.write(answer)
        transport.close()


def _sweep_soon(protocol) -> None:
    """One timer per server walks the open connections and closes those past their deadline."""
    state = protocol.server_state
    if getattr(state, "guard_sweeping", False):
        return
    state.guard_sweeping = True
    loop, connections = protocol.loop, protocol.connections

    def sweep() -> None:
        sweep_once(connections, loop.time())
        loop.call_later(SWEEP_SECONDS, sweep)

    loop.call_later(SWEEP_SECONDS, sweep)


def sweep_once(connections, now: float) -> None:
    """Close the connections past a deadline: an answer not taken for SEND_SECONDS (its unsent bytes did not
    go down), a head or a body late."""
    for c in list(connections):
        if not hasattr(c, "phase"):
            continue
        unsent = c.transport.get_write_buffer_size()
        if not unsent:
            c.unsent_since = None
        elif c.unsent_since is None or unsent < c.unsent:  # none before, or some was taken: the clock starts again
            c.unsent_since = now
        c.unsent = unsent
        if c.unsent_since is not None and now - c.unsent_since > SEND_SECONDS:
            c.transport.abort()
        elif c.phase in ("head", "body") and now - c.since > (HEAD_SECONDS if c.phase == "head" else BODY_SECONDS):
            _close(c, TIMEOUT)


def enough_files() -> None:
    """Room for MAX_OPEN connections and the server's own files (the soft limit is often 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = MAX_OPEN + 512
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


def uvicorn_options(forwarded_allow_ips: str | None = None) -> dict:
    """uvicorn's settings. X-Forwarded-For and -Proto are believed only from the proxies named (by default
    none: any local user could otherwise choose the address the service sees)."""
    PROXIES.clear()
    if forwarded_allow_ips:
        PROXIES.update(p.strip() for p in forwarded_allow_ips.split(",") if p.strip())
    return {"http": GuardedH11, "timeout_keep_alive": KEEP_ALIVE, "h11_max_incomplete_event_size": HEAD_BYTES,
            "limit_concurrency": None, "backlog": MAX_OPEN, "server_header": False,
            "proxy_headers": bool(PROXIES), "forwarded_allow_ips": ",".join(sorted(PROXIES)) or None}
