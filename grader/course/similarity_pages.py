"""The similarity views for course staff: OUTDIR/similarity.html (the ranked pairs) and one
side-by-side page per flagged pair under OUTDIR/similarity/, the matching fragments highlighted.

Pages are self-contained (inline CSS, no script, nothing fetched). Everything that comes from a
student (code, file names, ids) is HTML-escaped, and control characters are shown as visible
placeholders, never written raw.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import os

from grader.report import write_atomic

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: #fff3f0; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.code { font: 12px/1.35 ui-monospace, monospace; white-space: pre; overflow-x: auto; border: 1px solid #ccc; }
.code div { padding: 0 6px; }
.code .n { color: #999; display: inline-block; width: 3.5em; user-select: none; }
.code .cell { background: #eef; color: #446; }
.m0 { background: #ffe08a; } .m1 { background: #b8e6b8; } .m2 { background: #a9d4f5; }
.m3 { background: #f5c0e8; } .m4 { background: #d9c8f5; } .m5 { background: #f7cba0; }
"""


def clean(text: str) -> str:
    """Student text made safe for a page: control and bidirectional characters shown as \\xNN, then escaped."""
    return html.escape(CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text)), quote=True)


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{clean(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write_pages(out: Path, sources: list, pairs: list, folder_name: str,
                threshold: float) -> dict[tuple[str, str], str]:
    """similarity.html and a page per flagged pair (under OUTDIR/folder_name, pairs at or above
    `threshold` flagged); returns {(a, b): page path relative to OUTDIR}."""
    by_id = {s.id: s for s in sources}
    folder = out / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("pair-*.html"):  # pages of an earlier run whose pairs may be gone
        old.unlink(missing_ok=True)
    pages: dict[tuple[str, str], str] = {}
    rows = []
    for rank, pair in enumerate(pairs, start=1):
        link = ""
        if pair.flagged:
            name = f"pair-{rank:04d}.html"
            _write(folder / name, side_by_side(pair, by_id[pair.a], by_id[pair.b], rank))
            pages[(pair.a, pair.b)] = f"{folder_name}/{name}"
            link = f"<a href=\"{folder_name}/{name}\">side by side</a>"
        rows.append(f"<tr class=\"{'flagged' if pair.flagged else ''}\"><td class=num>{rank}</td>"
                    f"<td>{clean(pair.a)}</td><td>{clean(pair.b)}</td><td class=num>{pair.score:.2f}</td>"
                    f"<td class=num>{pair.share_a:.2f}</td><td class=num>{pair.share_b:.2f}</td>"
                    f"<td class=num>{len(pair.fragments)}</td><td>{link}</td></tr>")
    flagged = sum(1 for p in pairs if p.flagged)
    body = (f"<h1>Similarity</h1><p>{len(sources)} submissions compared on the code each student wrote "
            "(the assignment's given code and code most of the class shares taken out; names, comments, "
            f"layout and order ignored). {flagged} pair(s) at or above {threshold:.2f} are flagged; pairs "
            "below are listed for context. A high score says two students' own code is alike; it is "
            "a reason to look, not a verdict.</p>"
            "<table><tr><th>#</th><th>a</th><th>b</th><th>score</th><th>share of a</th><th>share of b</th>"
            "<th>fragments</th><th></th></tr>" + "".join(rows) + "</table>"
            + ("" if pairs else "<p>No pair of submissions shares code of its own.</p>"))
    write_atomic(out / "similarity.html", _page("Similarity", body))
    return pages


def _write(path: Path, text: str) -> None:
    """Whole or not at all, without an fsync per page: a page lost to a crash is written again by
    the next `grade similarity` (the CSV and pairs.json are written with write_atomic)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def side_by_side(pair, a, b, rank: int) -> str:
    """Two columns of code, each fragment the pair shares in the same colour on both sides."""
    marks_a: dict[int, int] = {}
    marks_b: dict[int, int] = {}
    for number, fragment in enumerate(pair.fragments):
        for line in range(fragment["a"][0], fragment["a"][1] + 1):
            marks_a.setdefault(line, number)
        for line in range(fragment["b"][0], fragment["b"][1] + 1):
            marks_b.setdefault(line, number)
    listing = "".join(f"<li>a {clean(a.span(f['a']))} ~ b {clean(b.span(f['b']))}</li>" for f in pair.fragments)
    body = (f"<p><a href=\"../similarity.html\">all pairs</a></p><h1>#{rank}: {clean(pair.a)} and "
            f"{clean(pair.b)}</h1><p>score {pair.score:.2f} (share of a {pair.share_a:.2f}, share of b "
            f"{pair.share_b:.2f}); {len(pair.fragments)} shared fragment(s), highlighted in matching "
            "colours. Names, comments and layout may differ inside a fragment: it matched after "
            f"normalisation.</p><details><summary>fragments</summary><ul>{listing}</ul></details>"
            f"<div class=sides><div><h2>a: {clean(pair.a)} ({clean(a.file)})</h2>{_code(a, marks_a)}</div>"
            f"<div><h2>b: {clean(pair.b)} ({clean(b.file)})</h2>{_code(b, marks_b)}</div></div>")
    return _page(f"{pair.a} and {pair.b}", body)


def _code(source, marks: dict[int, int]) -> str:
    starts = {first: cell for cell, first, _ in source.cells}
    rows, shown = [], 0
    for number, line in enumerate(source.code.split("\n"), start=1):
        shown += 1
        if number in starts:  # a notebook's lines are numbered within their cell, as Jupyter shows them
            rows.append(f"<div class=cell>cell {starts[number]}</div>")
            shown = 1
        mark = marks.get(number)
        css = f" class=m{mark % 6}" if mark is not None else ""
        rows.append(f"<div{css}><span class=n>{shown}</span>{clean(line.expandtabs(4))}</div>")
    return "<div class=code>" + "".join(rows) + "</div>"
