"""The connection limits `grade serve` runs with: uvicorn's h11 protocol, plus what it lacks against slow
clients (slowloris). uvicorn times out only an idle keep-alive connection; a connection that sends half
a request head, or nothing, is held for ever. Here:

- a request's head must arrive within HEAD_SECONDS of its first byte (or of the connection), its body
  within BODY_SECONDS of its head; otherwise the connection is closed (408);
- at most MAX_OPEN connections are open at once: one more closes the oldest connection still waiting
  for a request head (a client that sends its request at once is never that one), else the oldest still
  sending a body, or is itself closed with a 503 when every open connection is being answered;
- request heads over 16 KiB are refused (h11), an idle keep-alive connection closes after 5 s.

A 2 MB upload within BODY_SECONDS needs 33 KB/s; a course whose students are slower raises it.

Behind a reverse proxy (docs/deploy.md) the proxy bounds the internet's clients; these bound the proxy.
"""

from __future__ import annotations

import os
import resource

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# the environment may change them (GRADER_HEAD_SECONDS, GRADER_BODY_SECONDS, GRADER_MAX_CONNECTIONS)
HEAD_SECONDS = float(os.environ.get("GRADER_HEAD_SECONDS", 10))
BODY_SECONDS = float(os.environ.get("GRADER_BODY_SECONDS", 60))
MAX_OPEN = int(os.environ.get("GRADER_MAX_CONNECTIONS", 512))
SWEEP_SECONDS = 0.5
HEAD_BYTES = 16 * 1024
TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head and body and a cap on open
    connections (the module's docstring says which)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.phase, self.since = "head", self.loop.time()  # waiting for a request head (even its first byte)
        _sweep_soon(self)
        if len(self.connections) > MAX_OPEN:
            for phase in ("head", "body"):  # a slow sender first; one whose request is being answered never
                waiting = [c for c in self.connections if c is not self and getattr(c, "phase", None) == phase]
                if waiting:
                    _close(min(waiting, key=lambda c: c.since), TIMEOUT)
                    break
            else:
                _close(self, BUSY)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.IDLE:  # part of a head, buffered by h11
            if self.phase != "head":
                self.phase, self.since = "head", self.loop.time()
        elif state is h11.SEND_BODY:
            if self.phase != "body":
                self.phase, self.since = "body", self.loop.time()
        else:
            self.phase = None  # the request is read: the app answers in its own time

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:  # the next request may come; keep-alive's timer waits for it
            self.phase = None


def _close(protocol, answer: bytes) -> None:
    protocol.phase = None
    if not protocol.transport.is_closing():
        if protocol.conn.our_state is h11.IDLE:  # nothing sent yet on this connection: say why
            protocol.transport.write(answer)
        protocol.transport.close()


def _sweep_soon(protocol) -> None:
    """One timer per server walks the open connections and closes those past their deadline."""
    state = protocol.server_state
    if getattr(state, "guard_sweeping", False):
        return
    state.guard_sweeping = True
    loop, connections = protocol.loop, protocol.connections

    def sweep() -> None:
        now = loop.time()
        for c in list(connections):
            phase = getattr(c, "phase", None)
            if phase and now - c.since > (HEAD_SECONDS if phase == "head" else BODY_SECONDS):
                _close(c, TIMEOUT)
        loop.call_later(SWEEP_SECONDS, sweep)

    loop.call_later(SWEEP_SECONDS, sweep)


def enough_files() -> None:
    """Room for MAX_OPEN connections and the server's own files (the soft limit is often 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = MAX_OPEN + 512
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


def uvicorn_options() -> dict:
    return {"http": GuardedH11, "timeout_keep_alive": 5, "h11_max_incomplete_event_size": HEAD_BYTES,
            "limit_concurrency": None, "backlog": MAX_OPEN, "server_header": False}
