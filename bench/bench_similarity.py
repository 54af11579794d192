"""How well and how fast the similarity check works (grader/course/similarity.py).

Accuracy, on the labelled set of bench/plagiarism.py (28 independent correct solutions in the given
code, planted copies of six kinds, several draws): recall of planted copies in the top k (k = the
number of related pairs) and at the threshold, and the false-flag rate among pairs of independent
solutions at the threshold, with the closest margins.

Cost, on N generated submissions (default 1,000: examples, correct and buggy, each disguised at
random and handed in with the given code): the whole `grade similarity` (read, normalise, winnow,
index, rank, CSV and pages), against two baselines from the same run: reading and tokenising alone,
and an all-pairs comparison of the same fingerprints on a sample, scaled to N.

    .venv/bin/python bench/bench_similarity.py [N] [--jobs J]
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import sys
import tempfile
import time
import tokenize
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plagiarism import EXAMPLES, disguise, independent_sources, write_labelled_set  # noqa: E402

from grader.course import discovery as batch  # noqa: E402
from grader.course import similarity as sim  # noqa: E402
from grader.judge.spec import load  # noqa: E402


def accuracy(spec, draws: int = 4) -> None:
    skeleton = spec.skeleton.read_text()
    found = total = top_found = 0
    worst_planted, best_independent, flagged_independent, independent_pairs = 1.0, 0.0, 0, 0
    for seed in range(draws):
        with tempfile.TemporaryDirectory() as folder:
            planted = write_labelled_set(Path(folder), copies_per_kind=3, seed=seed)
            subs, _ = batch.discover(Path(folder))
            analysis = sim.analyse([sim.read_source(s.path, s.id, s.name) for s in subs], skeleton, spec)
        groups: dict[str, set[str]] = {}
        for copy, original, _ in planted:
            groups.setdefault(original, {original}).add(copy)
        related = {frozenset(p) for g in groups.values() for p in itertools.combinations(g, 2)}
        scores = {frozenset((p.a, p.b)): p.score for p in analysis.pairs}
        top = {frozenset((p.a, p.b)) for p in analysis.pairs[:len(related)]}
        copies = {c for c, _, _ in planted}
        ids = [s.id for s in subs if s.id not in copies]
        for copy, original, _ in planted:
            score = scores.get(frozenset((copy, original)), 0.0)
            total += 1
            found += score >= sim.THRESHOLD
            top_found += frozenset((copy, original)) in top
            worst_planted = min(worst_planted, score)
        for a, b in itertools.combinations(ids, 2):
            score = scores.get(frozenset((a, b)), 0.0)
            independent_pairs += 1
            flagged_independent += score >= sim.THRESHOLD
            best_independent = max(best_independent, score)
    print(f"labelled set, {draws} draws: {total} planted copies, {independent_pairs} pairs of independent solutions")
    print(f"  recall of planted copies in the top k: {top_found}/{total}; at threshold {sim.THRESHOLD}: {found}/{total}")
    print(f"  false flags among independent pairs at the threshold: {flagged_independent}/{independent_pairs}")
    print(f"  lowest planted score {worst_planted:.3f}, highest independent score {best_independent:.3f}")


def generated_class(folder: Path, n: int, seed: int = 0) -> None:
    """n submissions: an example (correct or one-bug), disguised one of four ways, in the given code."""
    rng = random.Random(seed)
    given = independent_sources()
    others = sorted(p for p in EXAMPLES.glob("mutant_*.py"))
    tail = next(iter(given.values())).split("def get_analytical_gradient", 1)[1]
    pool = list(given.values()) + [p.read_text() + "\n\ndef get_analytical_gradient" + tail for p in others]
    for i in range(n):
        text = rng.choice(pool)
        kind = rng.choice(["rename", "reorder", "comments", "rename", "none"])
        try:
            text = text if kind == "none" else disguise(text, kind, rng)
        except (SyntaxError, StopIteration, ValueError):
            pass
        (folder / f"student{100000 + i}.py").write_text(text + f"\n# student {100000 + i}\n")


def cost(spec, n: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "subs", Path(tmp) / "out"
        folder.mkdir()
        generated_class(folder, n)
        subs, _ = batch.discover(folder)

        started = time.perf_counter()
        for sub in subs:  # baseline: read and tokenize, nothing else
            list(tokenize.generate_tokens(io.StringIO(sub.path.read_text()).readline))
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        sim.after_batch(out, spec, subs, analyse_now=False)
        recorded = time.perf_counter() - started
        started = time.perf_counter()
        sim.JOBS = jobs
        listed, count = sim.run(out, spec)
        whole = time.perf_counter() - started

        _, sources = sim.load_sources(out)
        sample = sources[:min(200, n)]
        analysis = sim.analyse(sample, spec.skeleton.read_text(), spec)
        started = time.perf_counter()
        for a, b in itertools.combinations(range(len(sample)), 2):
            np.intersect1d(analysis.own[a], analysis.own[b], assume_unique=True)
        pairs = len(sample) * (len(sample) - 1) / 2
        all_pairs = (time.perf_counter() - started) / pairs * n * (n - 1) / 2
    flagged = sum(1 for p in listed if p.flagged)
    print(f"{n} generated submissions, {jobs} job(s): {flagged} pairs flagged (the class is built from "
          f"{len(independent_sources())} correct and {len(list(EXAMPLES.glob('mutant_*.py')))} buggy examples)")
    print(f"  recording the sources in OUTDIR:            {recorded:6.2f} s")
    print(f"  grade similarity OUTDIR (all of it):        {whole:6.2f} s")
    print(f"  baseline, reading + tokenize alone (1 job): {baseline:6.2f} s  (similarity / baseline = {whole / baseline:.2f})")
    print(f"  all pairs compared in Python, scaled to {n}: {all_pairs:6.2f} s  (only the pair loop; "
          f"{all_pairs / whole:.1f}x the whole similarity run)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    spec = load()
    if not args.skip_accuracy:
        accuracy(spec)
    cost(spec, args.n, args.jobs)


if __name__ == "__main__":
    main()
