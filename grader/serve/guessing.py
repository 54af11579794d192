"""Guesses of the staff token are slowed down, but nobody can lock staff out. Each wrong token from an
address makes that address's next attempts wait longer (after FREE of them: 0.25 s, then twice as long
each time, at most MAX_WAIT), one after another (parallel guesses queue); once many wrong tokens came
from everyone (GLOBAL_FREE in WINDOW: guesses from many addresses), every attempt waits at least a
second. The token is always checked when the wait is over, in constant time (`tokens.is_staff`), so the
right token always signs in: an outsider's guesses cost staff a wait of at most MAX_WAIT, never a
refusal. The table is bounded (ADDRESSES; an address is forgotten WINDOW after its last wrong token).

The address is the connection's peer: `grade serve` believes X-Forwarded-For only from the proxies it
is told of (`--forwarded-allow-ips`), so a client cannot choose its own."""

from __future__ import annotations

import time
from collections import OrderedDict, deque

FREE = 3
FIRST_WAIT, MAX_WAIT = 0.25, 30.0
WINDOW = 600.0
ADDRESSES = 10_000
GLOBAL_FREE, GLOBAL_WAIT = 100, 1.0


class Throttle:
    def __init__(self) -> None:
        self.addresses: OrderedDict[str, list[float]] = OrderedDict()  # address: [wrong tokens, last, next turn]
        self.recent: deque[float] = deque(maxlen=GLOBAL_FREE)  # when the last wrong tokens came, from anyone

    def turn(self, address: str, now: float | None = None) -> float:
        """Seconds this attempt waits before its token is checked (and its place in the address's queue)."""
        now = time.monotonic() if now is None else now
        entry = self._entry(address, now)
        wrong, _last, next_turn = entry
        wait = 0.0 if wrong < FREE else min(MAX_WAIT, FIRST_WAIT * 2 ** (wrong - FREE))
        if len(self.recent) == GLOBAL_FREE and self.recent[0] > now - WINDOW:
            wait = max(wait, GLOBAL_WAIT)
        at = min(max(now, next_turn) + wait, now + MAX_WAIT)
        entry[2] = at
        return at - now

    def wrong(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        entry = self._entry(address, now)
        entry[0], entry[1] = entry[0] + 1, now
        self.recent.append(now)

    def right(self, address: str) -> None:
        self.addresses.pop(address, None)

    def _entry(self, address: str, now: float) -> list[float]:
        entry = self.addresses.get(address)
        if entry is not None and now - entry[1] > WINDOW and entry[2] < now:
            entry = None  # forgotten
        if entry is None:
            entry = self.addresses[address] = [0, now, now]
            while len(self.addresses) > ADDRESSES:
                self.addresses.popitem(last=False)  # the longest-unseen address goes
        self.addresses.move_to_end(address)
        return entry
