"""A labelled set for the similarity check: independent correct solutions, and planted copies of them.

The independent solutions are submissions_example/correct_*.py (28 styles), each handed in the way a
student hands it in: inside the assignment's given code (the skeleton's helpers and demo cells
appended). The planted copies take one of them and disguise it the way copiers do:

- rename: every variable, parameter, helper and self-chosen attribute renamed (through `ast`, which
  also drops every comment and reformats the whole file);
- reorder: methods and module-level functions in another order;
- comments: comments added and removed, blank lines and spacing changed, a docstring added;
- helper: a method's body moved into a module-level helper that the method calls;
- notebook: the file as a Jupyter notebook, one cell per definition, cells shuffled, markdown added;
- all: rename, then reorder, then comments.
"""

from __future__ import annotations

import ast
import builtins
import json
import random
import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "submissions_example"
SKELETON = Path(__file__).resolve().parent.parent / "specs" / "skeletons" / "rnn-seq2one.py"
KINDS = ("rename", "reorder", "comments", "helper", "notebook", "all")
# names a copier cannot change without breaking the interface the grader calls
INTERFACE = {"RNN", "forward", "backward", "update", "get_weights", "set_weights", "get_numerical_gradient",
             "W", "R", "V", "bs", "by", "self", "np", "numpy", "__init__", "input_size", "hidden_size",
             "output_size", "model", "x", "eps", "d_loss", "lr", "weights", "Dict", "Tuple", "typing"}


# Examples that are another example's very code saved differently (an encoding test, not a style of their own).
SAME_CODE = {"correct_vectorised_bom", "correct_latin1"}


def independent_sources() -> dict[str, str]:
    """{name: source} of every correct example, with the skeleton's given helpers and demos appended."""
    given = SKELETON.read_text()
    tail = given[given.index("def gradient_check"):]
    helper = given[given.index("def get_analytical_gradient"):given.index("def gradient_check")]
    out = {}
    for path in sorted(EXAMPLES.glob("correct_*.py")):
        if path.stem in SAME_CODE:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
        helper_body = helper.replace("    raise NotImplementedError\n",
                                     "    model.forward(x)\n    return model.backward(np.ones(model.output_size))\n")
        out[path.stem] = text.rstrip("\n") + "\n\n\n" + helper_body + tail
    return out


class _Renamer(ast.NodeTransformer):
    def __init__(self, rng: random.Random):
        self.rng, self.names = rng, {}

    def new(self, name: str) -> str:
        if name in INTERFACE or name in dir(builtins) or name.startswith("__"):
            return name
        if name not in self.names:
            self.names[name] = f"{self.rng.choice(['tmp', 'val', 'q', 'z', 'buf', 'my'])}_{len(self.names)}"
        return self.names[name]

    def visit_Name(self, node):
        node.id = self.new(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.new(node.arg)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.new(node.name)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            node.attr = self.new(node.attr)
        return node

    def visit_keyword(self, node):
        self.generic_visit(node)
        return node


def rename(source: str, rng: random.Random) -> str:
    tree = _Renamer(rng).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def reorder(source: str, rng: random.Random) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            methods = [i for i, s in enumerate(node.body) if isinstance(s, ast.FunctionDef)]
            shuffled = methods[:]
            rng.shuffle(shuffled)
            body = list(node.body)
            for place, take in zip(methods, shuffled):
                node.body[place] = body[take]
    defs = [i for i, s in enumerate(tree.body) if isinstance(s, (ast.FunctionDef, ast.ClassDef))]
    shuffled = defs[:]
    rng.shuffle(shuffled)
    body = list(tree.body)
    for place, take in zip(defs, shuffled):
        tree.body[place] = body[take]
    return _keep_comments_unparse(source, tree)


def _keep_comments_unparse(source: str, tree: ast.Module) -> str:
    """Reordered statements as their original text (comments kept), top-level and in classes."""
    lines = source.split("\n")

    def text(node) -> str:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "\n".join(lines[first - 1:node.end_lineno])

    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            head = lines[node.lineno - 1:node.body[0].lineno - 1]
            out.append("\n".join(head) + "\n" + "\n\n".join(text(s) for s in node.body))
        else:
            out.append(text(node))
    return "\n\n\n".join(out) + "\n"


def comments(source: str, rng: random.Random) -> str:
    out = []
    for line in source.split("\n"):
        stripped = line.strip()
        if stripped.startswith("#") and rng.random() < 0.7:
            continue  # comments removed
        line = re.sub(r"\s*#.*$", "", line) if "#" in line and "'" not in line and '"' not in line else line
        line = re.sub(r"([^\s=!<>*/+-])=([^=\s])", r"\1 = \2", line) if "def " not in line and "(" not in line else line
        if stripped and rng.random() < 0.25 and not stripped.endswith(("\\", ",", "(", "[", "{")):
            line += "  # " + rng.choice(["this took a while", "see lecture 4", "check shapes", "works"])
        out.append(line)
        if not stripped and rng.random() < 0.3:
            out.append("")
    return "\n".join(out)


def helper(source: str, rng: random.Random) -> str:
    """The longest method's body moved into a module-level function the method calls."""
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    methods = [m for m in cls.body if isinstance(m, ast.FunctionDef) and m.name != "__init__"]
    target = max(methods, key=lambda m: m.end_lineno - m.lineno)
    lines = source.split("\n")
    body = lines[target.body[0].lineno - 1:target.end_lineno]
    indent = len(body[0]) - len(body[0].lstrip())
    args = [a.arg for a in target.args.args]
    helper_name = f"_{target.name}_impl"
    helper_text = f"def {helper_name}({', '.join(args)}):\n" + "\n".join(
        "    " + line[indent:] if line.strip() else "" for line in body)
    call = " " * indent + f"return {helper_name}({', '.join(args)})"
    new_lines = lines[:target.body[0].lineno - 1] + [call] + lines[target.end_lineno:]
    return "\n".join(new_lines).rstrip("\n") + "\n\n\n" + helper_text + "\n"


def notebook(source: str, rng: random.Random) -> str:
    """The file as a notebook: one code cell per top-level statement group, shuffled, with markdown."""
    tree = ast.parse(source)
    lines = source.split("\n")
    cells, previous_end = [], 0
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        cells.append("\n".join(lines[previous_end:node.end_lineno]).strip("\n"))
        previous_end = node.end_lineno
        del first
    head, rest = cells[:2], cells[2:]
    rng.shuffle(rest)
    nb_cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Assignment 1: Numpy RNN\nMy solution."}]
    for cell in head + rest:
        nb_cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                         "source": cell})
        if rng.random() < 0.3:
            nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": "Next part."})
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": nb_cells,
                       "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}}}, indent=1)


def disguise(source: str, kind: str, rng: random.Random) -> str:
    if kind == "all":
        return comments(reorder(rename(source, rng), rng), rng)
    return {"rename": rename, "reorder": reorder, "comments": comments, "helper": helper,
            "notebook": notebook}[kind](source, rng)


def write_labelled_set(folder: Path, copies_per_kind: int = 3, seed: int = 0) -> list[tuple[str, str, str]]:
    """Write the independent solutions and the planted copies into folder (one file each);
    return the planted pairs as (copy id, original id, kind)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sources = independent_sources()
    for name, text in sources.items():
        (folder / f"{name}.py").write_text(text)
    planted = []
    names = sorted(sources)
    for kind in KINDS:
        for original in rng.sample(names, copies_per_kind):
            copy_id = f"copy_{kind}_{original.removeprefix('correct_')}"
            suffix = ".ipynb" if kind == "notebook" else ".py"
            (folder / f"{copy_id}{suffix}").write_text(disguise(sources[original], kind, rng))
            planted.append((copy_id, original, kind))
    return planted
