"""The class pages' cost against the batch's: `grade FOLDER --out OUTDIR` on a generated class, then
`grade report OUTDIR` (index.html, a page and a feedback file per student, no grading), same run.
The goal: building the pages costs under 10 % of grading.

With --canvas the class is a Canvas bulk download as a zip (several files per student, late ones) graded
with a course file's late policy, in one command, as tests/test_class_zip.py does.

Usage: python bench/bench_pages.py [-n 300] [--jobs 2] [--repeat 3] [--canvas]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from classroom import make_canvas_class, make_class, zip_class


def timed(*command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="submissions in the generated class")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3, help="page builds timed (the best is kept)")
    parser.add_argument("--canvas", action="store_true", help="a Canvas zip with late files and --course")
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "class", Path(tmp) / "out"
        extra = []
        if args.canvas:
            make_canvas_class(folder, args.n, hostile_share=0.0, seed=5)
            course = Path(tmp) / "course.toml"
            course.write_text("[assignment]\ndeadline = 2026-12-04T23:59:00Z\n[late]\nper_day = 0.1\n")
            folder, extra = zip_class(folder, Path(tmp) / "class.zip", hostile_members=False), ["--course", str(course)]
        else:
            make_class(folder, args.n, hostile_share=0.0, seed=5)
        batch = timed(grade, str(folder), "--out", str(out), "--jobs", str(args.jobs), "-q", *extra)
        scratch = []
        for _ in range(args.repeat):  # from scratch: every page written, as on a first batch
            shutil.rmtree(out / "students")
            shutil.rmtree(out / "feedback")
            (out / "index.html").unlink()
            scratch.append(timed(grade, "report", str(out)))
        pages = min(scratch)
        same = min(timed(grade, "report", str(out)) for _ in range(args.repeat))  # nothing changed
        students = len(list((out / "students").glob("*.html")))
        inside = min(in_batch(out) for _ in range(args.repeat))
    print(f"class of {args.n}{' (Canvas zip, late policy)' if args.canvas else ''} ({students} student pages), "
          f"{args.jobs} jobs")
    print(f"batch (grading and pages): {batch:.1f} s")
    print(f"grade report, every page written (best of {args.repeat}): {pages:.2f} s")
    print(f"grade report, nothing changed (best of {args.repeat}): {same:.2f} s")
    print(f"pages as the batch builds them: {inside:.2f} s")
    print(f"pages / batch: {100 * inside / batch:.1f} % in the batch (goal: under 10 %); as `grade report` "
          f"alone: {100 * pages / batch:.1f} % written, {100 * same / batch:.1f} % unchanged")


def in_batch(out: Path) -> float:
    """What the pages add to a batch: every page built from scratch, timed in a process of its own."""
    script = ("import shutil, sys, time\nfrom pathlib import Path\nfrom grader.course import overview\n"
              "out = Path(sys.argv[1])\n"
              "shutil.rmtree(out / 'students'); shutil.rmtree(out / 'feedback'); (out / 'index.html').unlink()\n"
              "start = time.perf_counter(); overview.build(out); print(time.perf_counter() - start)\n")
    done = subprocess.run([sys.executable, "-c", script, str(out)], check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


if __name__ == "__main__":
    main()
