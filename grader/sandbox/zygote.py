"""The grader's handle on a zygote (grader/child/zygote.py): start it inside its namespaces, ask it to fork
a child with given descriptors, and to end one (and everything else in its namespace)."""

from __future__ import annotations

import json
import socket
import sys

MAX_MESSAGE = 1 << 20



class ZygoteError(Exception):
    """The zygote is gone or answered nonsense: the caller starts children by exec instead."""


class Zygote:
    """The grader's handle on one zygote process (started on construction)."""

    def __init__(self, plan, env: dict):
        import subprocess

        from grader.sandbox import isolation

        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(30)
        argv = [sys.executable, "-I", "-m", "grader.child.zygote", str(theirs.fileno())]
        self.proc = subprocess.Popen(isolation.command(plan, argv), pass_fds=(theirs.fileno(),), env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        theirs.close()
        self.plan = plan

    def spawn(self, config: dict, env: dict, cwd: str, fds: tuple[int, int, int]) -> tuple[int, int]:
        """Fork a child with these descriptors; returns its pid on this machine and in the namespace."""
        reply = self._ask({"op": "spawn", "config": config, "env": env, "cwd": cwd}, fds)
        if not isinstance(reply.get("pid"), int) or not isinstance(reply.get("ns_pid"), int):
            raise ZygoteError(f"the zygote could not start a child ({reply})")
        return reply["pid"], reply["ns_pid"]

    def end(self, ns_pid: int) -> int | None:
        """Kill what is left in the namespace, reap it all; the child's wait status (None if unknown)."""
        status = self._ask({"op": "end", "ns_pid": ns_pid}).get("status")
        return status if isinstance(status, int) else None

    def _ask(self, message: dict, fds=()) -> dict:
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
            reply = json.loads(self.sock.recv(MAX_MESSAGE) or b"{}")
        except (OSError, ValueError, RecursionError) as exc:
            raise ZygoteError(f"the zygote stopped answering ({exc})") from None
        if not isinstance(reply, dict):  # (only a zygote that student code took over could send it)
            raise ZygoteError("the zygote answered nonsense")
        return reply

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:
            pass
