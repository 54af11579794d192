"""A clean Debian root to try the Gradescope bundle in, as close to Gradescope's image as can be built here.

Gradescope builds its autograder image from a stock Ubuntu 24.04 container: the distro's python3, no
python3-venv, empty apt package lists, no grader dependencies. A folder laid out like /autograder on this
machine has none of that, so a bundle can pass there and fail on Gradescope. This builds Debian bookworm
(python3 3.11, its own python3-venv package) with debootstrap, once, into a cache; each use copies it and
empties the package lists, as a container image ships them.

It needs root, debootstrap and Debian's mirror; `why_not()` says what is missing, for a skip that names it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SUITE = "bookworm"
MIRROR = os.environ.get("GRADER_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# outside the repo and kept between runs (CI's machine is fresh, so it builds once there: a few minutes)
CACHE = Path(os.environ.get("GRADER_TEST_ROOT_CACHE", "/var/cache/rnn-grader-test"))
BASE = CACHE / f"{SUITE}-minbase-python3"
# pip inside trusts what this machine trusts: where HTTPS goes through a proxy with its own CA, certifi's
# bundle (pip's default, and right on Gradescope) would refuse PyPI. Not a file the bundle ships or reads.
HOST_CA_BUNDLE = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
CA_BUNDLE_INSIDE = "etc/rnn-grader-test/host-ca-certificates.crt"


def why_not() -> str | None:
    """Why a clean root cannot be built or entered here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (debootstrap and chroot)"
    if (BASE / ".complete").exists():
        return None
    if not shutil.which("debootstrap"):
        return "debootstrap is not installed (apt-get install debootstrap)"
    return None


def base_root() -> Path:
    """The cached root: debootstrap's minbase with python3, built on first use (atomically)."""
    if (BASE / ".complete").exists():
        return BASE
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / f".build-{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    # in a mount namespace of its own: the /proc and /sys debootstrap mounts in the root die with it
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "debootstrap", "--variant=minbase",
                           "--include=python3", SUITE, str(build), MIRROR],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        raise RuntimeError(f"debootstrap {SUITE} failed (exit {done.returncode}):\n{done.stdout[-3000:]}"
                           f"\n{done.stderr[-3000:]}")
    (build / ".complete").touch()
    shutil.rmtree(BASE, ignore_errors=True)
    os.replace(build, BASE)
    return BASE


def fresh_root(where: Path) -> Path:
    """A private copy of the cached root at `where`, with empty apt lists (as a container image has them)
    and this machine's resolver (pip and apt inside need DNS)."""
    base = base_root()
    subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(where)], check=True, timeout=600)
    lists = where / "var/lib/apt/lists"
    for entry in lists.iterdir() if lists.is_dir() else []:
        if entry.is_file():
            entry.unlink()
    resolv = where / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    shutil.copyfile("/etc/resolv.conf", resolv)
    if Path(HOST_CA_BUNDLE).is_file():  # this network's trust (a TLS proxy's CA, say), for pip's PIP_CERT
        (where / CA_BUNDLE_INSIDE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOST_CA_BUNDLE, where / CA_BUNDLE_INSIDE)
    return where


def run_in(root: Path, script: str, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a bash script as root inside `root`, with /proc, /dev and /sys mounted in a private mount
    namespace: the mounts vanish with it, whatever happens (no unmounting, no mount left behind)."""
    mounts = ('mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && mount --make-rslave "$R/dev" '
              '&& mount --rbind /sys "$R/sys" && mount --make-rslave "$R/sys" && exec chroot "$R" /bin/bash -c "$S"')
    clean_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                 "LANG": "C.UTF-8", "R": str(root), "S": script, **(env or {})}
    if (root / CA_BUNDLE_INSIDE).is_file():
        clean_env["PIP_CERT"] = f"/{CA_BUNDLE_INSIDE}"
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", mounts],
                          env=clean_env, capture_output=True, text=True, timeout=timeout)
