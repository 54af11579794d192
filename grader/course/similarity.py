"""Which students' own code is alike: winnowed fingerprints, an inverted index, ranked pairs.

Each submission's code (a notebook's code cells) is normalised (`normalise.py`), cut into k-grams
of K tokens, hashed, and winnowed (Schleimer, Wilkerson and Aiken, SIGMOD 2003: the smallest hash of
every window of WINDOW k-grams is kept), so any shared run of K + WINDOW - 1 tokens is found whatever
surrounds it. Fingerprints are a set: reordered methods or cells keep theirs.

What is not the student's own is removed by fingerprint, as MOSS does: every k-gram of the spec's
skeleton (the given class, docstrings, TODO banners, given helpers and demo cells), and every
fingerprint that more than COMMON_SHARE of the class has (code everyone writes for these equations).

Pairs come only from the index fingerprint -> submissions: a pair is looked at only when the two
share a fingerprint, so the cost follows the number of shared fingerprints, not n^2 comparisons.
A pair's score is the share of the smaller side's own fingerprints that the other side has too
(copydetect's and MOSS's "percent matched" of the side that matched most), with a floor of
MIN_FINGERPRINTS on the denominator so that two nearly empty hand-ins cannot score high.
"""

from __future__ import annotations

import csv
import io
import json
import tokenize
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.course.normalise import Tokens, bindings, normalise

K = 12  # tokens per k-gram: shorter runs are the equations everyone writes the same way
WINDOW = 8  # winnowing window: every shared run of K + WINDOW - 1 = 19 tokens is found
COMMON_SHARE = 0.1  # a fingerprint more than this share of the class has is boilerplate ...
COMMON_AT_LEAST = 5  # ... and than this many submissions (so a copy ring of five in a small class stays)
MIN_FINGERPRINTS = 40  # floor of a score's denominator
THRESHOLD = 0.5  # a pair at or above is flagged (bench/bench_similarity.py and tests measure it)
LIST_FLOOR = 0.2  # pairs listed in similarity.csv; below, a pair is two independent solutions
LIST_MOST = 1000  # at most this many pairs are listed
MAX_BYTES = 2_000_000  # a larger hand-in is not compared (no RNN solution is near this)
MAX_FRAGMENTS = 100  # fragments shown per pair: the first, in the order of the first submission
BASE = np.uint64(1_000_003)
JOBS = 0  # processes that normalise and winnow a large class (0: one per core); the rest is numpy in one
PARALLEL_FROM = 200  # below this many submissions, one process is quicker than starting a pool
FOLDER = "similarity"  # OUTDIR/similarity/: sources.json, pairs.json, one page per flagged pair


@dataclass
class Source:
    """The code a student wrote, as compared: a .py file's text, or a notebook's code cells joined."""

    id: str
    file: str
    code: str
    cells: list[list[int]] = field(default_factory=list)  # [cell number, first line, last line] per code cell
    sha256: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "file": self.file, "sha256": self.sha256, "code": self.code, "cells": self.cells}

    def place(self, line: int) -> str:
        """A line of `code` as the student sees it: "12", or "cell 3 line 5" in a notebook."""
        for cell, first, last in self.cells:
            if first <= line <= last:
                return f"cell {cell} line {line - first + 1}"
        return str(line)

    def span(self, lines: list[int]) -> str:
        """A line range as the student sees it: "12-18", "cell 3 line 5-9", "cell 3 line 5 to cell 4 line 2"."""
        first, last = (self.place(n) for n in lines)
        if first == last:
            return first
        same_cell = first.rsplit(" ", 1)[0] == last.rsplit(" ", 1)[0] or not self.cells
        return f"{first}-{last.rsplit(' ', 1)[-1]}" if same_cell else f"{first} to {last}"


@dataclass
class Fingerprints:
    """One submission's winnowed fingerprints: hash, first token of its k-gram, and token lines."""

    hashes: np.ndarray
    positions: np.ndarray
    lines: np.ndarray


@dataclass
class Pair:
    a: str
    b: str
    score: float
    share_a: float
    share_b: float
    shared: int
    fragments: list[dict] = field(default_factory=list)  # {"a": [first, last], "b": [first, last]}

    @property
    def flagged(self) -> bool:
        return self.score >= THRESHOLD

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "score": round(self.score, 4), "share_a": round(self.share_a, 4),
                "share_b": round(self.share_b, 4), "shared": self.shared, "flagged": self.flagged,
                "fragments": self.fragments}


# ------------------------------------------------------------------ reading code

def read_source(path: Path, id: str, name: str) -> Source | None:
    """A submission's code as compared; None when it cannot be read as code at all."""
    import hashlib
    import os

    try:  # never through a symbolic link: it could name any file the grader can read
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BYTES:
        return None
    sha = hashlib.sha256(data).hexdigest()
    if path.suffix == ".ipynb":
        from grader.notebook import NotebookError, read
        from grader.child.toplevel import translate_ipython

        try:
            script = read(data)
        except NotebookError:
            return None
        lines = script.source.split("\n")
        cells = [[number, first, last] for number, (first, last) in zip(script.numbers, script.cells)]
        for _, first, last in cells:  # %magics as nbconvert writes them, line for line
            lines[first - 1:last] = translate_ipython(lines[first - 1:last])
        return Source(id, name, "\n".join(lines), cells, sha)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = data.decode("utf-8", errors="replace")
    return Source(id, name, text.replace("\r\n", "\n").replace("\r", "\n"), [], sha)


def fixed_names(spec=None) -> frozenset[str]:
    """Names the interface dictates, so no copier can change them: the spec's class, methods,
    parameters, sizes and functions. (The skeleton's other names, self.grads or self.y_hat, are
    suggestions a copier renames freely: they become placeholders like any other.)"""
    if spec is None:
        return frozenset()
    model = spec.model
    return frozenset([model.get("class", ""), *model.get("parameters", {}), *model.get("methods", {}),
                      *model.get("sizes", []), *model.get("functions", {}), *spec.functions]) - {""}


def tokens_of(source: Source, fixed: frozenset[str]) -> Tokens:
    """Normalised tokens; a notebook's cells one by one, so a cell that does not parse spoils only itself."""
    if not source.cells:
        return normalise(source.code, fixed)
    lines = source.code.split("\n")
    cells = ["\n".join(lines[first - 1:last]) + "\n" for _, first, last in source.cells]
    names = bindings(cells)  # np imported in one cell is np in every cell
    texts, rows = [], []
    for (_, first, _), cell in zip(source.cells, cells):
        part = normalise(cell, fixed, names)
        texts.extend(part.texts)
        rows.extend(row + first - 1 for row in part.lines)
    return Tokens(tuple(texts), tuple(rows))


# ------------------------------------------------------------------ fingerprints

_IDS: dict[str, int] = {}


def kgram_hashes(tokens: Tokens) -> np.ndarray:
    """The hash of every k-gram (a polynomial hash, wrapping in 64 bits: the same in every process)."""
    ids = np.fromiter((_IDS.get(t) or _IDS.setdefault(t, zlib.crc32(t.encode()) + 1) for t in tokens.texts),
                      dtype=np.uint64, count=len(tokens.texts))
    count = len(ids) - K + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    for offset in range(K):
        hashes = hashes * BASE + ids[offset:offset + count]
    return hashes


def winnow(tokens: Tokens) -> Fingerprints:
    """The rightmost smallest hash of every window of WINDOW consecutive k-grams."""
    hashes = kgram_hashes(tokens)
    lines = np.asarray(tokens.lines, dtype=np.int32)
    if len(hashes) <= WINDOW:
        chosen = np.arange(len(hashes))
    else:
        windows = np.lib.stride_tricks.sliding_window_view(hashes, WINDOW)[:, ::-1]
        chosen = np.unique(np.arange(len(windows)) + WINDOW - 1 - np.argmin(windows, axis=1))
    return Fingerprints(hashes[chosen], chosen.astype(np.int32), lines)


# ------------------------------------------------------------------ the index and the pairs

@dataclass
class Analysis:
    ids: list[str]
    own: list[np.ndarray]  # each submission's own fingerprints (sorted, unique), skeleton and boilerplate out
    prints: list[Fingerprints]
    pairs: list[Pair]
    removed_skeleton: int = 0
    removed_common: int = 0


def analyse(sources: list[Source], skeleton: str | None = None, spec=None) -> Analysis:
    """Every pair of submissions that share own fingerprints, best first, with its fragments."""
    prints = _all_prints(sources, fixed_names(spec))
    fixed = fixed_names(spec)
    n = len(sources)
    sets = [np.unique(p.hashes) for p in prints]
    owners = np.repeat(np.arange(n, dtype=np.int64), [len(s) for s in sets])
    hashes = np.concatenate(sets) if sets else np.zeros(0, dtype=np.uint64)
    given = np.zeros(len(hashes), dtype=bool)
    if skeleton:
        given = np.isin(hashes, kgram_hashes(normalise(skeleton, fixed)))
    hashes, owners = hashes[~given], owners[~given]
    unique, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    common = counts[inverse] > max(COMMON_AT_LEAST, COMMON_SHARE * n)
    removed_common = int(np.count_nonzero(counts > max(COMMON_AT_LEAST, COMMON_SHARE * n)))
    hashes, owners, inverse = hashes[~common], owners[~common], inverse[~common]
    own = [np.zeros(0, dtype=np.uint64)] * n
    sizes = np.bincount(owners, minlength=n).astype(np.int64)
    order = np.argsort(owners, kind="stable")
    for i, chunk in enumerate(np.split(hashes[order], np.cumsum(sizes)[:-1]) if n else []):
        own[i] = chunk
    keys, counts = _shared_counts(inverse, owners, n)
    first, second = np.divmod(keys, n)
    scores = counts / np.maximum(np.minimum(sizes[first], sizes[second]), MIN_FINGERPRINTS)
    order = np.lexsort((second, first, -counts, -scores))  # best first; ties by shared, then by position
    ids = [s.id for s in sources]
    pairs = [Pair(ids[a], ids[b], score, count / max(sizes[a], 1), count / max(sizes[b], 1), count)
             for a, b, score, count in zip(first[order].tolist(), second[order].tolist(),
                                           scores[order].tolist(), counts[order].tolist())]
    listed = [p for p in pairs if p.score >= LIST_FLOOR][:LIST_MOST]
    index = {s.id: i for i, s in enumerate(sources)}
    for pair in listed:
        pair.fragments = fragments(prints[index[pair.a]], prints[index[pair.b]],
                                   np.intersect1d(own[index[pair.a]], own[index[pair.b]], assume_unique=True))
    return Analysis([s.id for s in sources], own, prints, pairs,
                    removed_skeleton=int(np.count_nonzero(given)), removed_common=removed_common)


def _all_prints(sources: list[Source], fixed: frozenset[str]) -> list[Fingerprints]:
    """Every submission's fingerprints; lexing is pure Python, so a large class is split over
    forked processes (each returns plain arrays)."""
    import os

    jobs = JOBS or os.cpu_count() or 1
    if jobs <= 1 or len(sources) < PARALLEL_FROM:
        return [winnow(tokens_of(s, fixed)) for s in sources]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.starmap(_prints_of, [(s, fixed) for s in sources], chunksize=16)


def _prints_of(source: Source, fixed: frozenset[str]) -> Fingerprints:
    return winnow(tokens_of(source, fixed))


def _shared_counts(groups: np.ndarray, owners: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """How many fingerprints each pair (key a * n + b, a < b) shares: every pair within each posting
    list of the index, counted with numpy."""
    nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if len(groups) == 0:
        return nothing
    order = np.lexsort((owners, groups))
    groups, owners = groups[order], owners[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, len(groups)])
    keys = []
    for size in np.unique(lengths[lengths > 1]):
        firsts = starts[lengths == size]
        members = owners[firsts[:, None] + np.arange(size)]  # one row per posting list of this size
        left, right = np.triu_indices(size, 1)
        keys.append((members[:, left] * n + members[:, right]).ravel())
    if not keys:
        return nothing
    return np.unique(np.concatenate(keys), return_counts=True)


def fragments(first: Fingerprints, second: Fingerprints, shared: np.ndarray) -> list[dict]:
    """Where the pair's shared fingerprints are: runs of matching k-grams in the first submission, each
    with the runs in the second that hold the same fingerprints, as line ranges."""
    common = set(shared.tolist())
    first_hashes = first.hashes.tolist()
    in_second: dict[int, list[int]] = {}  # where each shared fingerprint is in the second: one pass, not one per run
    for i, h in enumerate(second.hashes.tolist()):
        if h in common:
            in_second.setdefault(h, []).append(i)
    found = []
    for run in _runs(first, [i for i, h in enumerate(first_hashes) if h in common]):
        there = sorted({i for h in {first_hashes[j] for j in run} for i in in_second[h]})
        for other in _runs(second, there):
            found.append({"a": _line_range(first, run), "b": _line_range(second, other)})
        if len(found) >= MAX_FRAGMENTS:  # code repeated many times on both sides: the output would be quadratic
            del found[MAX_FRAGMENTS:]
            break
    found.sort(key=lambda f: (f["a"], f["b"]))
    return found


def _runs(prints: Fingerprints, indices: list[int]) -> list[list[int]]:
    """Indices of matched fingerprints grouped into runs whose k-grams overlap or nearly touch."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and prints.positions[index] - prints.positions[runs[-1][-1]] <= K + WINDOW:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _line_range(prints: Fingerprints, run: np.ndarray) -> list[int]:
    first_token = int(prints.positions[run[0]])
    last_token = min(int(prints.positions[run[-1]]) + K - 1, len(prints.lines) - 1)
    return [int(prints.lines[first_token]), int(prints.lines[last_token])]


# ------------------------------------------------------------------ OUTDIR

def record_sources(out: Path, sources: list[Source], spec_id: str) -> None:
    """OUTDIR/similarity/sources.json: the code of every submission, so `grade similarity OUTDIR`
    needs nothing but OUTDIR (the downloads may have moved). Only what students handed in."""
    from grader.report import write_atomic

    (out / FOLDER).mkdir(parents=True, exist_ok=True)
    data = {"spec": spec_id, "submissions": [s.to_dict() for s in sources]}
    write_atomic(out / FOLDER / "sources.json", json.dumps(data) + "\n")


def load_sources(out: Path) -> tuple[str, list[Source]]:
    """The spec's id and the sources a batch recorded; FileNotFoundError or ValueError otherwise."""
    data = json.loads((out / FOLDER / "sources.json").read_text())
    return data["spec"], [Source(s["id"], s["file"], s["code"], s.get("cells", []), s.get("sha256", ""))
                          for s in data["submissions"]]


def write_results(out: Path, sources: list[Source], analysis: Analysis) -> list[Pair]:
    """similarity.csv, similarity/pairs.json, similarity.html and a page per flagged pair; the listed pairs."""
    from grader.course import similarity_pages
    from grader.report import write_atomic

    listed = [p for p in analysis.pairs if p.score >= LIST_FLOOR][:LIST_MOST]
    by_id = {s.id: s for s in sources}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "a", "b", "score", "share_a", "share_b", "shared_fingerprints", "flagged", "fragments"])
    for rank, pair in enumerate(listed, start=1):
        writer.writerow([rank, pair.a, pair.b, f"{pair.score:.3f}", f"{pair.share_a:.3f}", f"{pair.share_b:.3f}",
                         pair.shared, "yes" if pair.flagged else "no",
                         "; ".join(f"a {by_id[pair.a].span(f['a'])} ~ b {by_id[pair.b].span(f['b'])}"
                                   for f in pair.fragments)])
    (out / FOLDER).mkdir(parents=True, exist_ok=True)
    write_atomic(out / "similarity.csv", buffer.getvalue())
    pages = similarity_pages.write_pages(out, sources, listed, FOLDER, THRESHOLD)
    data = {"threshold": THRESHOLD, "k": K, "window": WINDOW, "submissions": len(sources),
            "removed_skeleton_fingerprints": analysis.removed_skeleton,
            "removed_common_fingerprints": analysis.removed_common,
            "pairs": [dict(p.to_dict(), rank=r, page=pages.get((p.a, p.b))) for r, p in enumerate(listed, 1)]}
    write_atomic(out / FOLDER / "pairs.json", json.dumps(data, indent=1) + "\n")
    return listed


def ranked_pairs(out: Path) -> list[dict]:
    """The ranked pairs of OUTDIR as plain data, best first, for the class overview page: a, b (ids),
    score, share_a, share_b, flagged, rank, page (a path relative to OUTDIR, or None), fragments.
    Empty when no similarity was run."""
    try:
        return json.loads((out / FOLDER / "pairs.json").read_text())["pairs"]
    except (OSError, ValueError, KeyError):
        return []


def run(out: Path, spec) -> tuple[list[Pair], int]:
    """`grade similarity OUTDIR`: analyse what OUTDIR recorded, write the results; the listed pairs
    and the number of submissions compared."""
    _, sources = load_sources(out)
    skeleton = spec.skeleton.read_text() if spec.skeleton and spec.skeleton.is_file() else None
    analysis = analyse(sources, skeleton, spec)
    return write_results(out, sources, analysis), len(sources)


def after_batch(out: Path, spec, submissions, analyse_now: bool) -> tuple[list[Pair], int] | None:
    """What `grade FOLDER --out OUTDIR` does at its end: record every submission's code in OUTDIR
    (so `grade similarity OUTDIR` works later from OUTDIR alone) and, with --similarity, analyse."""
    sources = [s for s in (read_source(sub.path, sub.id, sub.name) for sub in submissions if sub.path) if s]
    record_sources(out, sources, spec.id)
    return run(out, spec) if analyse_now else None
