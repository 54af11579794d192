"""Source as a stream of tokens that a copier's cosmetic edits do not change.

The code is lexed by one regular expression with Python's token rules (names, numbers, strings with
their prefixes and triple quotes, operators, comments, logical line ends by bracket depth). Not
`tokenize`: in Python 3.11 it is pure Python, about four times slower, most of the cost of a class,
and it stops at the first line it cannot read; this lexer reads any text to its end and never runs
anything. Then:

- comments, docstrings and other bare string statements, blank lines, indentation and line breaks are
  dropped, so whitespace, comments and a function moved into a helper (new indentation) change nothing;
- names become placeholders by role: `M` for an imported name (np, numpy, Dict), `F` for a function
  or class the code defines, `V` for every other variable or parameter; keywords, builtins and `self`
  stay as they are;
- attribute names (after a dot) stay only when the interface fixes them (the spec's class, methods,
  parameters, sizes: W, R, V, bs, by, forward) or when they are the library's vocabulary
  (np.tanh, np.random.uniform, x.shape, x.T, grads.items): a copier cannot rename those without
  changing what the code does, and they say how a student went about it; every other attribute, a
  cache the student named, becomes `A`: a copier renames those freely;
- numbers become `N` and strings `S`, so changed constants and messages hide nothing.

Each token keeps its line number, so a matching fragment can be shown where the student wrote it.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass

import numpy as np

KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"self", "cls"}
# what an array, a dict or a list offers (x.shape, x.T, grads.items(), states.append): library vocabulary
KEPT_ATTRIBUTES = frozenset(n for n in dir(np.ndarray) + dir(dict) + dir(list) if not n.startswith("_"))

NAME, NUMBER, STRING, OP, NEWLINE = "name", "number", "string", "op", "newline"
# Strings' loops are possessive (`++`, `*+`): a string that cannot end (a lone backslash last in the file)
# fails at once instead of trying every split of its run, which doubled the time with each character
LEXER = re.compile(r"""
 (?P<space>[ \t\f]+|\\\r?\n)
|(?P<comment>\#[^\r\n]*)
|(?P<newline>\r?\n|\r)
|(?P<string>(?:[rRbBuUfF]{1,2})?(?:'''(?:[^'\\]++|\\.|'(?!''))*+(?:'''|\Z)|\"\"\"(?:[^"\\]++|\\.|"(?!""))*+(?:\"\"\"|\Z)
                                  |'(?:[^'\\\r\n]++|\\.)*+(?:'|$)|"(?:[^"\\\r\n]++|\\.)*+(?:"|$)))
|(?P<number>(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+
             |(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)[jJ]?)
|(?P<name>[^\W\d]\w*)
|(?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|\*\*|//|==|!=|<=|>=|<<|>>|[-+*/%&|^@]=|[^\s\w])
|(?P<other>\S)
""", re.VERBOSE | re.DOTALL | re.MULTILINE)
OPEN, CLOSE = set("([{"), set(")]}")


@dataclass(frozen=True)
class Tokens:
    """A normalised token stream: the tokens' texts and the source line each came from."""

    texts: tuple[str, ...]
    lines: tuple[int, ...]


def lex(source: str) -> list[tuple[str, str, int]]:
    """(kind, text, line) of every token but spaces and comments; NEWLINE only where a logical line
    ends (outside brackets), once per line end."""
    found: list[tuple[str, str, int]] = []
    line, depth = 1, 0
    for match in LEXER.finditer(source):
        kind, text = match.lastgroup, match.group()
        if kind == "newline":
            if depth == 0 and found and found[-1][0] != NEWLINE:
                found.append((NEWLINE, "", line))
            line += 1
            continue
        if kind == "space" or kind == "comment":
            line += text.count("\n")
            continue
        if kind == "other":
            kind = OP
        elif kind == OP:
            depth = depth + 1 if text in OPEN else max(depth - 1, 0) if text in CLOSE else depth
        found.append((kind, text, line))
        if kind == STRING:
            line += text.count("\n")
    return found


def normalise(source: str, fixed: frozenset[str] = frozenset(),
              bindings: tuple[set[str], set[str]] | None = None) -> Tokens:
    """The normalised tokens of `source`; `fixed` are the names the interface dictates; `bindings`
    (imported, defined) when the names are bound elsewhere (a notebook's other cells)."""
    toks = lex(source)
    imported, defined = bindings or _bindings(toks)
    texts: list[str] = []
    rows: list[int] = []
    library = False  # the last name was imported or one of its attributes (np, np.random)
    statement_start = True
    bare_until = -1  # the strings before this index are a bare string statement, found once (not per string)
    for index, (kind, text, line) in enumerate(toks):
        if kind == NEWLINE:
            statement_start = True
            continue
        if kind == STRING and statement_start:
            if index >= bare_until:
                bare_until = _bare_strings_end(toks, index)
            if index < bare_until:
                continue  # a docstring or bare string: documentation, not code
        statement_start = False
        if kind == NAME:
            after_dot = bool(texts) and texts[-1] == "."
            if after_dot:
                if not library:
                    text = text if text in fixed or text in KEPT_NAMES or text in KEPT_ATTRIBUTES else "A"
            elif text in imported:
                text, library = "M", True
            elif text not in KEPT_NAMES:
                text, library = ("F" if text in defined else "V"), False
            else:
                library = False
        elif kind == NUMBER:
            text, library = "N", False
        elif kind == STRING:
            text, library = "S", False
        elif text != ".":
            library = False
        texts.append(text)
        rows.append(line)
    return Tokens(tuple(texts), tuple(rows))


def bindings(sources: list[str]) -> tuple[set[str], set[str]]:
    """The names that imports and definitions bind across several pieces of code (a notebook's cells)."""
    imported, defined = set(), set()
    for source in sources:
        more = _bindings(lex(source))
        imported |= more[0]
        defined |= more[1]
    return imported, defined


def _bindings(toks: list[tuple[str, str, int]]) -> tuple[set[str], set[str]]:
    """Names bound by an import (modules, their aliases, names from `from m import a`) and by
    `def`/`class`."""
    imported: set[str] = set()
    defined: set[str] = set()
    for index, (kind, text, _) in enumerate(toks):
        if kind != NAME:
            continue
        if index and toks[index - 1][1] in ("def", "class") and toks[index - 1][0] == NAME:
            defined.add(text)
        elif text == "import":
            imported.update(_imported(toks, index + 1))
    return imported, defined


def _imported(toks: list[tuple[str, str, int]], index: int) -> list[str]:
    """The names `import a.b as c, d` or `from m import (e as f, g)` binds: c, d, f, g (a dotted
    name binds its first part)."""
    names: list[str] = []
    expect_name, alias = True, False
    while index < len(toks) and toks[index][0] != NEWLINE and toks[index][1] != ";":  # `import os; import os`
        kind, text, _ = toks[index]
        if text == "as":
            alias = True
        elif kind == NAME and (expect_name or alias):
            if alias and names:
                names.pop()
            names.append(text)
            expect_name = alias = False
        elif text == ",":
            expect_name = True
        index += 1
    return names


def _bare_strings_end(toks: list[tuple[str, str, int]], index: int) -> int:
    """Where the run of implicitly joined strings starting at `index` ends, when the run is a whole
    statement (a docstring); `index` itself when it is not. One pass over the run, so adjacent
    literals cost linear time."""
    end = index + 1
    while end < len(toks) and toks[end][0] == STRING:
        end += 1
    whole = end >= len(toks) or toks[end][0] == NEWLINE or toks[end][1] == ";"
    return end if whole else index
