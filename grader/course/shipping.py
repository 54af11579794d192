"""The assignment as it travels to a cluster's workers: the spec, its reference and its support modules
as bytes, with the spec's fingerprint. A worker unpacks it into a private folder and grades with the
spec read from there, refusing a pack whose contents do not give the fingerprint it came with.

The folder is made with mode 0700 outside every path a child may read (Landlock lets a child read only
Python, site-packages, its submission and its scratch), so a submission cannot read the reference.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

from grader.judge.spec import Spec
from grader.pack import Pack


class PackError(Exception):
    """A pack that cannot be used on this worker; the text says why."""


def make_pack(spec: Spec) -> dict:
    """What the coordinator sends: plain data (JSON-safe), the reference's bytes in base64."""
    return {"fingerprint": spec.fingerprint, "spec": spec.data, "reference_name": spec.reference_path.name,
            "reference": base64.b64encode(spec.reference_path.read_bytes()).decode("ascii"),
            "support": spec.support_modules()}


def unpack(pack: dict, base: str | None = None) -> Spec:
    """Write the pack into a new private folder and return its spec; PackError on a fingerprint that
    does not match, or a folder a child could read."""
    from grader.sandbox import isolation

    from grader.sandbox.scratch import make_folder

    # mode 0700, named by its owner's pid so that a later grader sweeps it when the owner died (kill -9)
    root = Path(make_folder("pack") if base is None else tempfile.mkdtemp(prefix="rnn-grader-pack-", dir=base))
    readable = [p for p in isolation.python_paths() if root.is_relative_to(os.path.realpath(p))]
    try:
        if readable:
            raise PackError(f"the pack's folder {root} lies inside {readable[0]}, which a submission's child "
                            "may read; set TMPDIR to a folder outside Python's installation")
        name = Path(pack["reference_name"]).name
        if name != pack["spec"]["reference"] or name in ("", ".", ".."):
            raise PackError("the pack's reference is not the one its spec names")
        (root / "reference").mkdir(mode=0o700)
        _write(root / "reference" / name, base64.b64decode(pack["reference"]))
        if pack["support"]:
            folder = Path(str(pack["spec"].get("support", ""))).name
            if not folder or folder in (".", ".."):
                raise PackError("the pack carries support modules its spec does not name")
            (root / "support" / folder).mkdir(mode=0o700, parents=True)
            for module, source in pack["support"].items():
                if not module.isidentifier():
                    raise PackError(f"the pack names a support module {module!r} that is not a module name")
                _write(root / "support" / folder / f"{module}.py", source.encode())
        (root / "specs").mkdir(mode=0o700)
        _write(root / "specs" / "spec.json", json.dumps(pack["spec"]).encode())
        spec = Spec(pack["spec"], root / "specs" / "spec.json", Pack(root))  # this private folder is its pack
        if spec.fingerprint != pack["fingerprint"]:
            raise PackError(f"the pack's contents give the fingerprint {spec.fingerprint[:12]}, not the "
                            f"{pack['fingerprint'][:12]} it was sent with")
    except (PackError, KeyError, TypeError, ValueError, OSError) as exc:
        discard(root)
        raise exc if isinstance(exc, PackError) else PackError(f"the pack is malformed ({exc})") from None
    return spec


def discard(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
