"""connections.py's rules on stand-in connections (the real server's tests: test_serve_redteam.py): an
answer that is not taken is cut, one being taken is not; room is made from the address with the most
connections, from one that reads nothing first, never from a request just sent or one being answered."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

connections = pytest.importorskip("grader.serve.connections")


class Transport:
    def __init__(self, unsent: int = 0):
        self.unsent, self.aborted, self.closed, self.written = unsent, False, False, b""

    def get_write_buffer_size(self):
        return self.unsent

    def is_closing(self):
        return self.closed or self.aborted

    def abort(self):
        self.aborted = True

    def close(self):
        self.closed = True

    def write(self, data):
        self.written += data


def conn(peer="10.0.0.1", phase=None, since=0.0, got=1, pipelined=0, unsent=0):
    import h11

    return SimpleNamespace(peer=peer, phase=phase, since=since, got=got, pipelined=pipelined, unsent=0,
                           unsent_since=None, transport=Transport(unsent), conn=SimpleNamespace(our_state=h11.IDLE))


def test_an_answer_not_taken_is_cut_and_one_being_taken_is_not():
    stuck, reading = conn(unsent=100_000), conn(unsent=100_000)
    for second in range(int(connections.SEND_SECONDS) + 2):
        reading.transport.unsent -= 1000  # the client takes some every second
        connections.sweep_once([stuck, reading], float(second))
    assert stuck.transport.aborted and not reading.transport.aborted


def test_room_is_made_from_the_reader_of_nothing_never_from_a_fresh_request():
    now = 100.0
    fresh = conn(phase="head", since=now - 0.01, got=0)  # its request may still be in the kernel
    answering = conn(phase=None, since=now - 50)
    slow_body = conn(phase="body", since=now - 5)
    piper = conn(phase=None, since=now - 1, pipelined=3)
    new = conn(phase="head", since=now, got=0)
    assert connections._make_room(new, [fresh, answering, slow_body, piper, new], now)
    assert piper.transport.aborted and not (fresh.transport.is_closing() or answering.transport.is_closing())
    assert connections._make_room(new, [fresh, answering, slow_body, new], now)
    assert slow_body.transport.closed and b" 408 " in slow_body.transport.written
    assert not connections._make_room(new, [fresh, answering, new], now) and b" 503 " in new.transport.written
