"""Similarity's cost on hostile hand-ins grows linearly with their size (grader/course/similarity.py).

Each stream is built at sizes s, 2s, 4s, 8s (up to similarity's MAX_BYTES, the largest file it
compares) and analysed in a class of three (the hostile file and two correct examples), as
`grade similarity` would. Printed per size: seconds, and seconds per MB relative to the smallest
size; linear time keeps that ratio near 1 (a quadratic step doubles it at each row).

Streams: adjacent string literals as a bare statement (was quadratic in `normalise`), the same
assigned, long bracketed runs, one huge correct-looking file, and code repeated many times on both
sides of a pair (the fragments of a pair), and a string that never ends, a lone backslash last.

    .venv/bin/python bench/bench_similarity_scaling.py [--largest-kb 1900]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from grader.course import similarity as sim

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "submissions_example" / "correct_vectorised.py").read_text()


def adjacent(size: int) -> str:
    return '"a" ' * (size // 4) + "\n"


def assigned(size: int) -> str:
    return "x = " + '"a" ' * (size // 4) + "\n"


def brackets(size: int) -> str:
    return "x = " + "(" * (size // 2) + ")" * (size // 2) + "\n"


def huge(size: int) -> str:
    copies = max(1, size // len(EXAMPLE))
    return "\n".join(EXAMPLE.replace("class ", f"class C{i}_") for i in range(copies))


def repeated(size: int) -> str:
    block = "h = np.tanh(W @ x + R @ h + b)\ny = V @ h + c\n"
    filler = "q{0} = {0} + {0} * {0} - {0} / {0} + {0} ** {0} - {0} % {0}\n"
    parts, i = [], 0
    while sum(map(len, parts)) < size:
        parts.append(block + filler.format(i))
        i += 1
    return "".join(parts)


def unterminated(size: int) -> str:
    """A triple-quoted string that never ends, a lone backslash last (exponential in a nested-loop lexer)."""
    return EXAMPLE + "\nNOTES = '''" + "a" * max(0, size - len(EXAMPLE) - 12) + "\\"


def imports_on_one_line(size: int) -> str:
    """`import os; ` on one logical line (each import once walked to the line's end: quadratic)."""
    return EXAMPLE + "\n" + "import os; " * max(1, (size - len(EXAMPLE)) // 11) + "\n"


STREAMS = {"adjacent literals (bare)": adjacent, "unterminated string, backslash last": unterminated,
           "imports joined by ; on one line": imports_on_one_line, "adjacent literals (assigned)": assigned,
           "bracketed run": brackets, "huge file of classes": huge, "code repeated on both sides": repeated}


def analyse(code: str, pair_with_itself: bool) -> float:
    sources = [sim.Source("hostile", "hostile.py", code), sim.Source("a", "a.py", EXAMPLE),
               sim.Source("b", "b.py", code if pair_with_itself else EXAMPLE)]
    start = time.perf_counter()
    sim.analyse(sources)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--largest-kb", type=int, default=sim.MAX_BYTES * 95 // 100 // 1024)
    args = parser.parse_args()
    largest = args.largest_kb * 1024
    sizes = [largest // 8, largest // 4, largest // 2, largest]
    print(f"similarity of a class of 3 with one hostile file, sizes up to {largest / 2**20:.2f} MB:")
    print(f"  {'stream':<32} {'size':>9} {'seconds':>9} {'s/MB vs smallest':>17}")
    for name, make in STREAMS.items():
        base = None
        for size in sizes:
            code = make(size)
            seconds = analyse(code, pair_with_itself=make is repeated)
            per_mb = seconds / (len(code) / 2**20)
            base = base or per_mb
            print(f"  {name:<32} {len(code) / 2**10:>7.0f}KB {seconds:>9.3f} {per_mb / base:>16.2f}x")


if __name__ == "__main__":
    main()
