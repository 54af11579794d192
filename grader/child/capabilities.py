"""Dropping every capability a process holds, for good (Linux capabilities through ctypes).

A child that runs as root (wherever the `uid` layer is missing) holds every capability: it could
chown any file, set the immutable flag, watch the whole machine with fanotify, schedule itself
real-time. After `drop_all` it holds none (effective, permitted, inheritable, ambient), none can come
back through exec (empty bounding set, no_new_privs, SECBIT_NOROOT locked), and it is still uid 0,
so the files root owns stay writable by their owner: Landlock and seccomp govern that.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

_PR_CAPBSET_READ, _PR_CAPBSET_DROP = 23, 24
_PR_SET_SECUREBITS = 28
_PR_SET_NO_NEW_PRIVS, _PR_GET_NO_NEW_PRIVS = 38, 39
_PR_CAP_AMBIENT, _AMBIENT_IS_SET, _AMBIENT_CLEAR_ALL = 47, 1, 4
_VERSION_3 = 0x20080522
_CAP_SETPCAP = 8
# no root privileges through exec or setuid, and the bits themselves locked
# NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE, each with its lock
_SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x40 | 0x80


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def held() -> dict[str, int]:
    """The capability sets of this process, as bit masks (bounding and ambient: counts of capabilities)."""
    header, data = _Header(_VERSION_3, 0), (_Data * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    caps = range(_last_cap() + 1)
    return {"effective": data[0].effective | data[1].effective << 32,
            "permitted": data[0].permitted | data[1].permitted << 32,
            "inheritable": data[0].inheritable | data[1].inheritable << 32,
            "bounding": sum(_libc.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0) == 1 for cap in caps),
            "ambient": sum(_libc.prctl(_PR_CAP_AMBIENT, _AMBIENT_IS_SET, cap, 0, 0) == 1 for cap in caps)}


def drop_all() -> None:
    """Give up every capability and the means to regain one; raises OSError if any is still held."""
    privileged = bool(held()["effective"] >> _CAP_SETPCAP & 1)
    if privileged:  # only with CAP_SETPCAP (root): otherwise there is nothing exec could raise anyway
        _check(_libc.prctl(_PR_SET_SECUREBITS, _SECUREBITS, 0, 0, 0), "PR_SET_SECUREBITS")
        for cap in range(_last_cap() + 1):
            _check(_libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), "PR_CAPBSET_DROP")
    _check(_libc.prctl(_PR_CAP_AMBIENT, _AMBIENT_CLEAR_ALL, 0, 0, 0), "PR_CAP_AMBIENT")
    _check(_libc.capset(ctypes.byref(_Header(_VERSION_3, 0)), (_Data * 2)()), "capset")
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    left = {name: value for name, value in held().items() if value and (name != "bounding" or privileged)}
    if left or _libc.prctl(_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
        raise OSError(f"capabilities still held after dropping them: {left}")


_LAST_CAP: list[int] = []


def _last_cap() -> int:
    """The highest capability number this kernel knows (probed, not read from /proc: Landlock may hide it)."""
    if not _LAST_CAP:
        cap = 0
        while _libc.prctl(_PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0 and cap < 63:
            cap += 1
        _LAST_CAP.append(cap)
    return _LAST_CAP[0]


def _check(result: int, what: str) -> int:
    if result < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")
    return result
