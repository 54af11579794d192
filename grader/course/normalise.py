"""Source as a stream of tokens that a copier's cosmetic edits do not change.

Python's `tokenize` (never `exec`, never `ast` on untrusted size limits) splits the code; then:

- comments, docstrings and other bare string statements, blank lines, indentation and line breaks are
  dropped, so whitespace, comments and a function moved into a helper (new indentation) change nothing;
- names become placeholders by role: `M` for an imported module (np, numpy), `F` for a function or
  class the file defines, `V` for every other variable or parameter; keywords, builtins and `self`
  stay as they are;
- attribute names (after a dot) stay only when the assignment fixes them (the names the skeleton and
  the spec define: W, R, V, bs, by, forward, grads, ...) or when they are the library's vocabulary
  (np.tanh, np.random.uniform, x.shape, x.T, grads.items): a copier cannot rename those without
  changing what the code does, and they say how a student went about it; every other attribute, a
  cache the student named, becomes `A`: a copier renames those freely;
- numbers become `N` and strings `S`, so changed constants and messages hide nothing.

Each token keeps its line number, so a matching fragment can be shown where the student wrote it.
"""

from __future__ import annotations

import builtins
import io
import keyword
import tokenize
from dataclasses import dataclass

import numpy as np

KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"self", "cls"}
# what an array, a dict or a list offers (x.shape, x.T, grads.items(), states.append): library vocabulary
KEPT_ATTRIBUTES = frozenset(n for n in dir(np.ndarray) + dir(dict) + dir(list) if not n.startswith("_"))
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
           tokenize.ENCODING, tokenize.ENDMARKER}
STATEMENT_START = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, None}


@dataclass(frozen=True)
class Tokens:
    """A normalised token stream: the tokens' texts and the source line each came from."""

    texts: tuple[str, ...]
    lines: tuple[int, ...]


def raw_tokens(source: str) -> list[tokenize.TokenInfo]:
    """Every token tokenize finds. Code that does not tokenize to the end (an unclosed bracket, a
    stray indent) is tokenized up to the fault, then again from the line after it, so one broken
    line does not hide the rest of a submission."""
    found: list[tokenize.TokenInfo] = []
    lines = None
    start = 0  # lines of source already tokenized
    text = source
    while True:
        last_line = 0
        try:
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if start:
                    tok = tok._replace(start=(tok.start[0] + start, tok.start[1]), end=(tok.end[0] + start, tok.end[1]))
                found.append(tok)
                last_line = tok.start[0]
            return found
        except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
            lines = lines or source.splitlines(keepends=True)
            where = getattr(exc, "lineno", None) or (exc.args[1][0] + start if len(exc.args) > 1 else 0)
            # the fault's line is skipped; never go backwards (an unclosed bracket reports its start)
            start = max(int(where or 0), last_line, start + 1)
            if start >= len(lines):
                return found
            text = "".join(lines[start:])


def normalise(source: str, fixed: frozenset[str] = frozenset(),
              bindings: tuple[set[str], set[str]] | None = None) -> Tokens:
    """The normalised tokens of `source`; `fixed` are the names the interface dictates; `bindings`
    (imported, defined) when the names are bound elsewhere (a notebook's other cells)."""
    toks = [t for t in raw_tokens(source) if t.type != tokenize.COMMENT]
    imported, defined = bindings or _bindings(toks)
    texts: list[str] = []
    rows: list[int] = []
    kept: list[tokenize.TokenInfo] = []  # significant tokens so far: for attribute positions
    previous_type = None  # for docstrings: a string that starts and ends a statement
    library = False  # the last name was a module or one of its attributes (np, np.random)
    for index, tok in enumerate(toks):
        kind = tok.type
        if kind in SKIPPED:
            if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
                previous_type = kind
            continue
        if kind == tokenize.STRING and previous_type in STATEMENT_START and _ends_statement(toks, index):
            previous_type = tokenize.STRING  # a docstring or bare string: documentation, not code
            continue
        if kind == tokenize.NAME:
            text, library = _name(tok.string, kept, library, imported, defined, fixed)
        elif kind == tokenize.NUMBER:
            text = "N"
        elif kind == tokenize.STRING:
            text = "S"
        else:
            text = tok.string
        if kind != tokenize.NAME and text != ".":
            library = False
        texts.append(text)
        rows.append(tok.start[0])
        kept.append(tok)
        previous_type = kind
    return Tokens(tuple(texts), tuple(rows))


def _name(name: str, kept: list, library: bool, imported: set[str], defined: set[str],
          fixed: frozenset[str]) -> tuple[str, bool]:
    """A name's placeholder, and whether it is the library's (so the attribute after it keeps its name)."""
    if kept and kept[-1].string == ".":
        if library:
            return name, True
        return (name if name in fixed or name in KEPT_NAMES or name in KEPT_ATTRIBUTES else "A"), False
    if name in imported:
        return "M", True
    if name in KEPT_NAMES:
        return name, False
    return ("F" if name in defined else "V"), False


def bindings(sources: list[str]) -> tuple[set[str], set[str]]:
    """The names that imports and definitions bind across several pieces of code (a notebook's cells)."""
    imported, defined = set(), set()
    for source in sources:
        more = _bindings([t for t in raw_tokens(source) if t.type != tokenize.COMMENT])
        imported |= more[0]
        defined |= more[1]
    return imported, defined


def _bindings(toks: list[tokenize.TokenInfo]) -> tuple[set[str], set[str]]:
    """Names bound by an import (modules, their aliases, names from `from m import a`) and by
    `def`/`class` in this file."""
    imported: set[str] = set()
    defined: set[str] = set()
    for index, tok in enumerate(toks):
        if tok.type != tokenize.NAME:
            continue
        if index and toks[index - 1].string in ("def", "class"):
            defined.add(tok.string)
        elif tok.string == "import":
            imported.update(_imported(toks, index + 1))
    return imported, defined


def _imported(toks: list[tokenize.TokenInfo], index: int) -> list[str]:
    """The names `import a.b as c, d` or `from m import (e as f, g)` binds: c, d, f, g (a dotted
    name binds its first part)."""
    names: list[str] = []
    expect_name = alias = False
    expect_name = True
    while index < len(toks) and toks[index].type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
        tok = toks[index]
        if tok.string == "as":
            alias = True
        elif tok.type == tokenize.NAME and (expect_name or alias):
            if alias and names:
                names.pop()
            names.append(tok.string)
            expect_name = alias = False
        elif tok.string == ",":
            expect_name = True
        index += 1
    return names


def _ends_statement(toks: list[tokenize.TokenInfo], index: int) -> bool:
    """Whether the string at `index` (with implicitly joined strings after it) is a whole statement."""
    index += 1
    while index < len(toks) and toks[index].type in (tokenize.STRING, tokenize.NL, tokenize.COMMENT):
        index += 1
    return index >= len(toks) or toks[index].type in (tokenize.NEWLINE, tokenize.ENDMARKER) or toks[index].string == ";"
