"""The grading process of `grade serve` (python -m grader.serve.dispatcher): claims accepted gradings
and grades them in the batch's worker pool (`queue.run_dispatcher`); ends with its server."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="grader.serve.dispatcher")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    from grader.serve.queue import die_with_parent, run_dispatcher

    die_with_parent(args.parent)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; it stops us with SIGTERM
    from grader.judge import spec as specs

    spec = specs.load(args.spec)
    run_dispatcher(args.data, os.environ["GRADER_DATABASE_URL"], spec, max(1, args.jobs), stop=lambda: bool(stopping))
    return 0


if __name__ == "__main__":
    sys.exit(main())
