"""The grader's own peak memory while it grades hostile files (issue 26: under 200 MB for any single input).

Each input is graded by `grade_submission` in a fresh Python process (every isolation layer on), which
then prints its own peak resident set (VmHWM: the grader's process only; the student's
child is a separate process with its own memory limit). Printed per input: peak MB, the ratio to the
correct example's peak in the same run, seconds, and the report's status.

Inputs, each at the largest size the grader accepts:
- correct: the correct example (the baseline);
- forged frame: forward writes its own frames into the grader's channel, at the largest a reply may be
  (wire.MAX_REPLY), of the shapes that cost most to parse (`{}` objects, nesting, one long string, one
  string made 4 bytes a character by a single emoji);
- load flood: a 4.9 MB source of 60,000 top-level statements the loader skips (its load reply's size);
- notebook of {}: an 8 MB notebook whose cells hold nothing but empty objects (2 million: refused before
  they are expanded);
- notebooks of newlines: one code cell of 2 million empty lines (read in the grader), and of 1.2 million
  beside a 3 MB markdown cell (read by the reading child);
- notebook too big: a 100 MB notebook (refused by its size before it is parsed);
- deep notebook: 1,000,000 nested brackets in a notebook's metadata;
- printer: forward prints 200 MB.

    .venv/bin/python bench/bench_grader_memory.py [--limit-mb 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORRECT = (ROOT / "submissions_example" / "correct_vectorised.py").read_text()

FORGE = '''

import os as _os, struct as _struct, sys as _sys

def _forge(body):
    serve = _sys.modules.get("grader.child.serve")
    fd = getattr(serve, "_out_fd", -1)
    if fd >= 0:
        data = body.encode()
        try:
            _os.write(fd, _struct.pack(">4sQ", b"GRD1", len(data)) + data)
        except OSError:
            pass

_real_forward = RNN.forward
_calls = [0]

def _forward(self, *args, **kwargs):
    _calls[0] += 1
    size = 16 * 1024 * 1024
    shapes = [lambda seq: '{"seq": %d, "reply": {"results": [' % seq + ",".join(["{}"] * (size // 19)) + "]}}",
              lambda seq: '{"seq": %d, "reply": {"x": ' % seq + "[" * 15 + '"' + "a" * (size - 200) + '"'
                          + "]" * 15 + "}}",
              lambda seq: '{"seq": %d, "reply": {"results": [{"ok": "\U0001F600' % seq + "a" * (size - 200)
                          + '"}], "dropped_output": 0}}']
    _forge(shapes[_calls[0] % 3](_calls[0]))
    return _real_forward(self, *args, **kwargs)

RNN.forward = _forward
'''


# The same, at exactly what the current request's reply may cost (read from the child's own frames), as one
# string that a single emoji makes 4 bytes a character once parsed (199 MB before wire.cost counted it).
FORGE_AT_CAP = '''

import os as _os, sys as _sys

def _forge_at_cap():
    serve = _sys.modules.get("grader.child.serve")
    from grader import wire
    frame = _sys._getframe()
    while frame is not None and frame.f_code.co_name != "run":
        frame = frame.f_back
    if serve is None or frame is None or "steps" not in frame.f_locals:
        return
    cap = wire.reply_cap(frame.f_locals["steps"], frame.f_locals.get("largest", 0))
    head = b'{"seq":%d,"reply":{"results":[{"ok":"\\xf0\\x9f\\x98\\x80' % serve._seq
    tail = b'"}],"dropped_output":0}}'
    body = head + b"a" * (cap - 200 - len(head) - len(tail)) + tail
    view = memoryview(wire.HEADER.pack(wire.MAGIC, len(body)) + body)
    while view:
        view = view[_os.write(serve._out_fd, view):]

_forward_at_cap = RNN.forward

def _forward_forging(self, *args, **kwargs):
    _forge_at_cap()
    return _forward_at_cap(self, *args, **kwargs)

RNN.forward = _forward_forging
'''


def notebook(cells_source: str, extra_metadata: str = "{}") -> str:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": cells_source}
    text = json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [cell], "metadata": {}})
    return text.replace('"metadata": {}}', f'"metadata": {extra_metadata}}}', 1) if extra_metadata != "{}" else text


def inputs(folder: Path) -> dict[str, Path]:
    made = {}

    def write(name: str, text: str) -> None:
        made[name] = folder / name
        made[name].write_text(text)

    write("correct.py", CORRECT)
    write("forged_frame.py", CORRECT + FORGE)
    write("forged_frame_at_cap.py", CORRECT + FORGE_AT_CAP)
    write("load_flood.py", CORRECT + "\n" + "".join(f"print({i}) if False else None\n" for i in range(60_000))[:4_900_000])
    empties = ", ".join(["{}"] * (8 * 1024 * 1024 // 4))
    write("notebook_of_empties.ipynb", notebook(CORRECT).replace('"outputs": []', f'"outputs": [{empties}]', 1))
    write("notebook_of_newlines.ipynb", notebook(CORRECT + "\n" * 2_000_000))  # read here: 4.2 MB
    write("notebook_of_newlines_child.ipynb", json.dumps({  # over the in-process bounds: the reading child
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": CORRECT + "\n" * 1_200_000},
                  {"cell_type": "markdown", "metadata": {}, "source": "x" * 3_000_000}]}))
    write("notebook_too_big.ipynb", notebook(CORRECT + "\n#" + "x" * (100 * 1024 * 1024) + "\n"))
    write("deep_notebook.ipynb", notebook(CORRECT, "[" * 1_000_000 + "]" * 1_000_000))
    write("printer.py", CORRECT + "\n_f = RNN.forward\nRNN.forward = lambda self, *a, **k: (print('x' * (1 << 20) * 200), "
                                  "_f(self, *a, **k))[1]\n")
    return made


PROBE = """
import json, sys, time
from grader.judge.grading import grade_submission
from grader.judge.spec import load
started = time.monotonic()
report = grade_submission(sys.argv[1], load())
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would hold the bench's own peak
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak_mb": peak_kb / 1024,
                  "seconds": time.monotonic() - started, "status": report.status, "score": report.score}))
"""


def measure(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"peak_mb": float("nan"), "seconds": float("nan"), "status": f"crashed: {done.stderr[-200:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mb", type=float, default=200.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        made = inputs(Path(tmp))
        results = {name: measure(path) for name, path in made.items()}
    base = results["correct.py"]["peak_mb"]
    print(f"{'input':<26} {'peak MB':>8} {'x correct':>10} {'seconds':>8}  status, score")
    over = []
    for name, r in results.items():
        print(f"{name:<26} {r['peak_mb']:8.1f} {r['peak_mb'] / base:10.2f} {r['seconds']:8.2f}  {r['status']}, {r.get('score')}")
        if not r["peak_mb"] <= args.limit_mb:
            over.append(name)
    print(f"\nlimit {args.limit_mb:g} MB: " + (f"OVER for {', '.join(over)}" if over else "every input under it"))
    return 1 if over else 0


if __name__ == "__main__":
    start = time.monotonic()
    code = main()
    print(f"({time.monotonic() - start:.0f} s)")
    raise SystemExit(code)
