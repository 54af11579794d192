"""The top level of a submission: how it is parsed, which statements run, and IPython syntax made inert.

Used by the child's loader (`child.Session.load`); pure stdlib, no student code runs here. Notebooks
are full of top-level work (demo runs, gradient checks, timing loops, plots, training). The rule,
documented in the README: definitions run; bindings and blocks that may hold definitions run under a
time box; work (calls, loops, `with` blocks, asserts, raises) and IPython commands never run.
"""

from __future__ import annotations

import ast
import re

RUN, BOXED, NOT_RUN = "run", "boxed", "not run"

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
# what a statement that never runs is, as the student reads it in a list ("loops (cell 5, line 2)")
WORK = {ast.Expr: "calls", ast.For: "loops", ast.AsyncFor: "loops", ast.While: "loops", ast.With: "`with` blocks",
        ast.AsyncWith: "`with` blocks", ast.Assert: "asserts", ast.Raise: "raises"}
IPYTHON = "IPython commands"


def plan(stmt: ast.stmt) -> tuple[str, str | None]:
    """How one top-level statement is loaded: RUN, BOXED (under the time box) or NOT_RUN and what it is."""
    if isinstance(stmt, DEFINITIONS):
        return RUN, None  # def, class, import; later ones replace earlier ones, as in a notebook
    if any(isinstance(node, ast.Name) and node.id == "get_ipython" for node in ast.walk(stmt)):
        return NOT_RUN, IPYTHON  # never a shell command, never a timing loop
    if isinstance(stmt, ast.Expr) and (isinstance(stmt.value, ast.Constant) or _is_setattr(stmt.value)):
        return BOXED, None  # a bare string does nothing; setattr(RNN, "backward", backward) attaches a method
    if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, ast.Call):
        return NOT_RUN, "expressions"  # `model.W` or `x.shape` at the end of a cell, to display it
    if type(stmt) in WORK:
        return NOT_RUN, WORK[type(stmt)]
    return BOXED, None  # assignments (RNN.backward = backward, EPS = 1e-7), if/try blocks, del


def _is_setattr(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "setattr"


def too_big(exc: Exception) -> str:
    if isinstance(exc, ValueError):  # null bytes: the grader refuses such a file before it gets here
        return f"cannot be parsed ({exc})"
    return (f"it is too large or too deeply nested for Python to parse ({type(exc).__name__}); split long "
            "expressions and keep data out of the source")


def parse(lines: list[str], first: int, last: int, filename: str) -> ast.Module:
    """Parse lines first..last (1-based) of a file, keeping the file's line numbers.

    Plain Python first; when that fails, IPython syntax is translated line for line and parsing tried
    again, so a cell or a script pasted from a notebook still loads. Raises SyntaxError (the translated
    text's, whose lines are the student's) when neither parses.
    """
    unit = lines[first - 1:last]
    padding = "\n" * (first - 1)  # line numbers of the whole file, in errors and tracebacks alike
    try:
        return ast.parse(padding + "\n".join(unit), filename)
    except SyntaxError:
        pass
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        raise SyntaxError(too_big(exc), (filename, first, 0, "")) from None
    try:
        return ast.parse(padding + "\n".join(translate_ipython(unit)), filename)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SyntaxError(too_big(exc), (filename, first, 0, "")) from None


# ------------------------------------------------------------------ IPython syntax

CELL_MAGIC = re.compile(r"%%(\w+)\s*(.*)")
PYTHON_BODY = {"time", "timeit", "capture", "prun"}  # cell magics whose body is ordinary Python
ASSIGNED = re.compile(r"(\s*)([\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*)([%!])(.*)")  # t = %timeit -o f(x); out = !ls
LINE_MAGIC = re.compile(r"(\s*)%(\w+)\s*(.*)")
SHELL = re.compile(r"(\s*)!(.*)")
HELP = re.compile(r"(\s*)(?:\?{1,2}([\w.]+)|([\w.]+)\?{1,2})\s*")  # ?RNN, RNN??


def translate_ipython(lines: list[str]) -> list[str]:
    """IPython syntax as the `get_ipython()` calls nbconvert writes, line for line.

    Line for line keeps every line number pointing at what the student wrote. The calls are never run
    (`plan` says NOT_RUN for any statement that mentions get_ipython), so a shell command stays text.
    """
    out = list(lines)
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    magic = CELL_MAGIC.fullmatch(lines[first].strip()) if first < len(lines) else None
    if magic and magic.group(1) not in PYTHON_BODY:  # %%bash, %%writefile, %%html: the whole cell is one call
        body = "\n".join(lines[first + 1:])
        call = f"get_ipython().run_cell_magic({magic.group(1)!r}, {magic.group(2)!r}, {body!r})"
        return out[:first] + [call] + [""] * (len(lines) - first - 1)
    if magic:  # %%time: the line is a call, the body stays Python and loads like any cell
        out[first] = f"get_ipython().run_cell_magic({magic.group(1)!r}, {magic.group(2)!r}, '')"
        first += 1
    for index in range(first, len(out)):
        out[index] = _translate_line(out[index])
    return out


def _translate_line(line: str) -> str:
    if match := ASSIGNED.fullmatch(line):
        indent, target, kind, rest = match.groups()
        return indent + target + (_magic_call(rest) if kind == "%" else f"get_ipython().getoutput({rest!r})")
    if match := LINE_MAGIC.fullmatch(line):
        return match.group(1) + _magic_call(line.strip()[1:])
    if match := SHELL.fullmatch(line):
        return f"{match.group(1)}get_ipython().system({match.group(2)!r})"
    if match := HELP.fullmatch(line):
        return f"{match.group(1)}get_ipython().run_line_magic('pinfo', {(match.group(2) or match.group(3))!r})"
    return line


def _magic_call(text: str) -> str:
    name, _, args = text.partition(" ")
    return f"get_ipython().run_line_magic({name!r}, {args.strip()!r})"
