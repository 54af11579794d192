"""Notebook submissions: read with nbformat, loaded cell by cell, top-level work not run, IPython
syntax inert, and every location said as the student sees it ("cell 3, line 5")."""

from __future__ import annotations

import importlib.util
import json
import re
import textwrap

import nbformat
import pytest
from nbformat import v3, v4

from grader.child import toplevel
from grader.judge.grading import grade_submission
from grader.sandbox.process import Sandbox
from grader.judge.spec import EXAMPLES, load

CORRECT = (EXAMPLES / "correct_vectorised.py").read_text()
IMPORTS = "from typing import Dict\n\nimport numpy as np"
CLASS = CORRECT[CORRECT.index("class RNN"):CORRECT.index("\n\n\ndef get_numerical_gradient")]
NUMGRAD = CORRECT[CORRECT.index("def get_numerical_gradient"):].strip()
MARKDOWN = "# Assignment 1: Numpy RNN\n\nImplement the RNN below."


def write_notebook(tmp_path, *cells: str, name: str = "sub.ipynb"):
    """A v4 notebook: a markdown cell first, then one code cell per argument ("md:" starts markdown)."""
    notebook = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}})
    notebook.cells = [v4.new_markdown_cell(MARKDOWN)] + [
        v4.new_markdown_cell(cell[3:]) if cell.startswith("md:") else v4.new_code_cell(cell) for cell in cells]
    path = tmp_path / name
    path.write_text(nbformat.writes(notebook))
    return path


def outputs(report) -> dict[str, str]:
    return {t.name: t.output for t in report.tests}


def method(name: str) -> str:
    """One method of the correct class as a module-level function, and the class without it."""
    start = CLASS.index(f"    def {name}(")
    end = CLASS.find("\n    def ", start + 1)
    return textwrap.dedent(CLASS[start:end if end > 0 else None]).strip()


def without(name: str) -> str:
    start = CLASS.index(f"    def {name}(")
    end = CLASS.find("\n    def ", start + 1)
    return CLASS[:start] + (CLASS[end + 1:] if end > 0 else "")


def test_definitions_spread_over_cells_score_full_marks(tmp_path, spec):
    report = grade_submission(write_notebook(tmp_path, IMPORTS, "md:## Exercise 1", CLASS, NUMGRAD), spec)
    assert (report.status, report.score, report.failed) == ("graded", report.max_score, [])
    assert outputs(report)["interface"] == "Your file loads and has the documented interface."


def test_a_child_started_early_for_the_notebook_file_is_not_the_one_that_loads_it(tmp_path, spec):
    path = write_notebook(tmp_path, IMPORTS, CLASS, NUMGRAD)
    early = Sandbox(str(path), spec.limits(), path.name)  # as `grade FILE` starts one for a .py
    early.start()
    report = grade_submission(path, spec, sandbox=early)
    assert report.failed == [] and not early.alive


def test_a_version_3_notebook_is_upgraded_and_graded(tmp_path, spec):
    cells = [v3.new_text_cell("markdown", source=MARKDOWN)] + [
        v3.new_code_cell(input=code) for code in (IMPORTS, CLASS, NUMGRAD)]
    notebook = v3.new_notebook(worksheets=[v3.new_worksheet(cells=cells)])
    path = tmp_path / "old.ipynb"
    path.write_text(v3.writes_json(notebook))
    assert json.loads(path.read_text())["nbformat"] == 3
    report = grade_submission(path, spec)
    assert (report.status, report.failed) == ("graded", [])


def _valid_notebook_text(tmp_path) -> str:
    return write_notebook(tmp_path, IMPORTS, CLASS, NUMGRAD, name="whole.ipynb").read_text()


@pytest.mark.parametrize("damage, words", [
    (lambda text: text[: len(text) // 2], "not valid JSON, perhaps truncated"),
    (lambda text: "", "not valid JSON"),
    (lambda text: json.dumps([1, 2]), "not a Jupyter notebook"),
    (lambda text: json.dumps({**json.loads(text), "cells": "none"}), "not a valid notebook"),
    (lambda text: json.dumps({**json.loads(text), "nbformat": 99}), "not a notebook this grader can read"),
    (lambda text: text.replace('"language": "python"', '"language": "R"'), "kernel runs R, not Python"),
])
def test_an_unreadable_notebook_gets_an_ungradable_report_that_says_why(tmp_path, spec, damage, words):
    path = tmp_path / "broken.ipynb"
    path.write_text(damage(_valid_notebook_text(tmp_path)))
    report = grade_submission(path, spec)
    assert (report.status, report.score) == ("ungradable", 0)
    interface = report.tests[0]
    assert interface.name == "interface" and interface.status == "error"
    assert words in interface.output and "Traceback" not in interface.output
    assert all(t.output.startswith("Not run") for t in report.tests[1:])


def test_a_notebook_broken_only_where_grading_does_not_look_is_graded_like_jupyter_opens_it(tmp_path, spec):
    notebook = json.loads(_valid_notebook_text(tmp_path))
    notebook["cells"][1]["outputs"] = [{"output_type": "stream", "name": 42}, {"output_type": "weird"}]
    path = tmp_path / "odd-outputs.ipynb"
    path.write_text(json.dumps(notebook))
    report = grade_submission(path, spec)
    assert (report.status, report.failed) == ("graded", [])


def test_a_notebook_with_a_damaged_cell_is_ungradable_and_names_the_cell(tmp_path, spec):
    notebook = json.loads(_valid_notebook_text(tmp_path))
    notebook["cells"][2]["source"] = 7
    path = tmp_path / "damaged.ipynb"
    path.write_text(json.dumps(notebook))
    report = grade_submission(path, spec)
    assert report.status == "ungradable" and "cell 3 of the notebook is damaged" in report.tests[0].output


def test_a_notebook_that_is_not_utf8_is_ungradable(tmp_path, spec):
    path = tmp_path / "latin1.ipynb"
    path.write_bytes(_valid_notebook_text(tmp_path).replace("Implement", "Implémént").encode("latin-1"))
    report = grade_submission(path, spec)
    assert report.status == "ungradable" and "not UTF-8" in report.tests[0].output


def test_magics_shell_lines_and_cell_magics_load_and_never_run(tmp_path, spec):
    marker = tmp_path / "shell-ran"
    path = write_notebook(
        tmp_path,
        f"%matplotlib inline\n!touch {marker}\n" + IMPORTS,
        f"%%bash\ntouch {marker}\n",
        "%%time\n" + CLASS,  # a cell magic whose body is Python: the class is still defined
        f"files = !touch {marker}\nt = %timeit -o RNN(2, 3, 1)\nRNN?\n" + NUMGRAD,
    )
    report = grade_submission(path, spec)
    assert report.failed == [] and not marker.exists()
    assert ("IPython commands (cell 2, lines 1, 2; cell 3, line 1; cell 4, line 1; cell 5, lines 1, 2, 3)"
            in outputs(report)["interface"])


def test_an_exported_scripts_get_ipython_lines_are_never_run(tmp_path, spec, make_submission):
    marker = tmp_path / "shell-ran"
    fake_ipython = ("class Shell:\n    def __getattr__(self, name):\n"
                    f"        open({str(marker)!r}, 'w').close()\n        return lambda *args: None\n\n"
                    "def get_ipython():\n    return Shell()\n")
    lines = ["get_ipython().run_line_magic('matplotlib', 'inline')",
             f"get_ipython().system('touch {marker}')",
             f"get_ipython().run_cell_magic('bash', '', 'touch {marker}\\n')",
             "t = get_ipython().run_line_magic('timeit', '-o RNN(2, 3, 1)')"]
    source = fake_ipython + CORRECT + "\n" + "\n".join(lines) + "\n"
    first = source.count("\n") - len(lines) + 1
    report = grade_submission(make_submission(source=source), spec)
    assert report.failed == [] and not marker.exists()
    expected = ", ".join(str(first + i) for i in range(len(lines)))
    assert f"IPython commands (lines {expected})" in outputs(report)["interface"]


def test_a_py_with_raw_ipython_lines_pasted_from_a_notebook_still_loads(make_submission, spec):
    report = grade_submission(make_submission(source="%matplotlib inline\n!pip install tqdm\n" + CORRECT), spec)
    assert report.failed == [] and "IPython commands (lines 1, 2)" in outputs(report)["interface"]


def test_top_level_work_is_not_run_and_a_slow_binding_is_time_boxed(tmp_path, spec):
    spec.data["limits"]["statement_seconds"] = 0.5
    path = write_notebook(
        tmp_path, IMPORTS, CLASS, NUMGRAD,
        "model = RNN(3, 8, 1)\nfor epoch in range(10**9):\n    print('epoch', epoch)\n"
        "    model.forward(np.ones((4, 3)))\n    model.backward(np.ones(1))\n    model.update(0.1)",
        "while True:\n    pass",
        "print(get_numerical_gradient(model, np.ones((4, 3))))\nplt.plot([1, 2])\nmodel.W",
        "with open('log.txt', 'w') as fh:\n    fh.write('x' * 10**9)\nassert False, 'a test cell'",
        "def train():\n    while True:\n        pass\n\nlosses = train()",
    )
    report = grade_submission(path, spec)
    assert report.failed == [] and report.printed_bytes == 0  # not a single print of the work ran
    interface = outputs(report)["interface"]
    assert "loops (cell 5, line 2; cell 6, line 1)" in interface
    assert "calls (cell 7, lines 1, 2), expressions (cell 7, line 3)" in interface
    assert "`with` blocks (cell 8, line 1), asserts (cell 8, line 3)" in interface
    assert "cell 9, line 5 (`losses = train()`): still running after 0.5 s" in interface


def test_once_the_load_budget_is_spent_bindings_are_skipped_and_definitions_still_run(tmp_path, spec):
    spec.data["limits"].update(load_seconds=2.5, statement_seconds=1)  # 1.5 s for the statements
    path = write_notebook(tmp_path, IMPORTS, CLASS, "def spin():\n    while True:\n        pass",
                          "a = spin()", "b = spin()", "c = spin()", NUMGRAD)
    report = grade_submission(path, spec)
    assert report.failed == []  # get_numerical_gradient, defined after the budget ran out, was graded
    interface = outputs(report)["interface"]
    assert "cell 5, line 1 (`a = spin()`): still running after 1.0 s" in interface
    assert "cell 6, line 1 (`b = spin()`): still running" in interface
    assert "cell 7, line 1 (`c = spin()`): not run: loading had used up its 2.5 s" in interface


def test_a_later_definition_wins_and_methods_attached_later_count(tmp_path, spec):
    broken_class = without("backward").replace(method("update").replace("\n", "\n    "),
                                               "def update(self, lr):\n        raise NotImplementedError")
    assert "raise NotImplementedError" in broken_class
    path = write_notebook(
        tmp_path, IMPORTS, broken_class,
        "def get_numerical_gradient(model, x, eps=1e-7):\n    return {}",
        method("backward") + "\n\nRNN.backward = backward",
        method("update") + "\n\nsetattr(RNN, 'update', update)",
        "md:A later cell replaces the first attempt.",
        NUMGRAD,
    )
    report = grade_submission(path, spec)
    assert report.failed == [], outputs(report)
    assert "skipped" not in outputs(report)["interface"].lower()


def test_missing_packages_in_a_definitions_cell_cost_nothing_and_are_named(tmp_path, spec):
    for package in ("seaborn", "tqdm", "pandas"):  # (matplotlib stays installed: notebooks import it)
        assert importlib.util.find_spec(package) is None, f"test setup: {package} is installed here"
    cell = "import seaborn as sns\nfrom tqdm import tqdm\nimport pandas as pd\n" + IMPORTS + "\n\n" + CLASS
    report = grade_submission(write_notebook(tmp_path, cell, NUMGRAD), spec)
    assert report.failed == []
    interface = outputs(report)["interface"]
    for line, code, package in ((1, "import seaborn as sns", "seaborn"),
                                (2, "from tqdm import tqdm", "tqdm"), (3, "import pandas as pd", "pandas")):
        assert (f"cell 2, line {line} (`{code}`): ModuleNotFoundError: No module named '{package}' "
                "(not installed where submissions are graded)") in interface


def test_every_location_in_feedback_is_a_cell_and_a_line(tmp_path, spec):
    failing_class = CLASS.replace("        T = x.shape[0]\n        a = np.zeros(",
                                  "        T = x.shape[0]\n        if T == 1:\n            raise ValueError('one step')\n"
                                  "        a = np.zeros(")
    raise_line = failing_class.split("\n").index("            raise ValueError('one step')") + 1
    path = write_notebook(tmp_path, IMPORTS, failing_class, "x = 1\ndef oops(:\n    pass",
                          "md:Try it", "model = RNN(3, 4, 1)\nh = 3\ny = undefined_name + h\nreturn h", NUMGRAD)
    report = grade_submission(path, spec)
    out = outputs(report)
    assert f"ValueError: one step (cell 3, line {raise_line}, in forward: raise ValueError('one step'))" \
        in out["forward_shape"]
    assert "cell 4, line 2 (`def oops(:`): SyntaxError: invalid syntax; the whole cell was skipped" in out["interface"]
    assert "cell 6, line 3 (`y = undefined_name + h`): NameError" in out["interface"]
    assert "cell 6, line 4 (`return h`): SyntaxError: 'return' outside function." in out["interface"]
    # no location anywhere that is a line of the joined cells rather than of a cell
    for text in out.values():
        assert not re.search(r"\bline \d", re.sub(r"cell \d+, lines? \d+(, \d+)*", "", text)), text


def test_a_hang_while_loading_names_the_cell_that_was_running(tmp_path, spec):
    spec.data["limits"]["load_seconds"] = 2
    hang = "import signal\nif True:\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        pass"
    report = grade_submission(write_notebook(tmp_path, IMPORTS, CLASS, hang, NUMGRAD), spec)
    assert "(cell 4, line 2 was running)" in outputs(report)["interface"]


def test_the_seed_notebook_and_its_export_grade_exactly_like_the_py():
    spec = load()
    reports = {name: grade_submission(EXAMPLES / name, spec)
               for name in ("seed_student.py", "seed_student.ipynb", "seed_student_nbconvert.py")}
    py = reports.pop("seed_student.py")
    assert sorted(py.failed) == ["gradient_d_bs", "update"]
    for name, report in reports.items():
        assert (report.score, report.failed) == (py.score, py.failed), name
        assert [d.id for d in report.diagnoses] == [d.id for d in py.diagnoses], name
        # the same feedback check by check; only where things are (interface) is said differently
        assert {k: v for k, v in outputs(report).items() if k != "interface"} == \
               {k: v for k, v in outputs(py).items() if k != "interface"}, name
    notebook = outputs(reports["seed_student.ipynb"])["interface"]
    assert "IPython commands (cell 10, line 1; cell 11, line 1)" in notebook
    assert "cell 12, line 1 (`if analytical_time.average < numerical_time.average:`): NameError" in notebook


@pytest.mark.parametrize("line, translated", [
    ("%matplotlib inline", "get_ipython().run_line_magic('matplotlib', 'inline')"),
    ("    %time f(x)", "    get_ipython().run_line_magic('time', 'f(x)')"),
    ("!pip install tqdm", "get_ipython().system('pip install tqdm')"),
    ("t = %timeit -o f(x)", "t = get_ipython().run_line_magic('timeit', '-o f(x)')"),
    ("out = !ls -l", "out = get_ipython().getoutput('ls -l')"),
    ("RNN.forward??", "get_ipython().run_line_magic('pinfo', 'RNN.forward')"),
    ("y = x % 2", "y = x % 2"),
])
def test_ipython_lines_become_get_ipython_calls_line_for_line(line, translated):
    assert toplevel.translate_ipython([line]) == [translated]


def test_a_cell_magic_that_is_not_python_becomes_one_call_on_its_first_line():
    cell = ["", "%%bash", "echo hi", "rm -rf /"]
    assert toplevel.translate_ipython(cell) == [
        "", "get_ipython().run_cell_magic('bash', '', 'echo hi\\nrm -rf /')", "", ""]


def test_a_notebook_of_too_many_code_cells_is_refused_and_costs_the_grader_little():
    """Red team (issue 26): 700,000 one-character code cells made the grader hold a pair of numbers per cell
    in lists and tuples (272 MB). More than MAX_CODE_CELLS code cells are refused, by either reader."""
    import json

    from grader import notebook as nb

    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "x = 1"}
             for _ in range(nb.MAX_CODE_CELLS + 1)]
    data = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()
    with pytest.raises(nb.NotebookError, match="code cells"):
        nb.read(data)
    with pytest.raises(nb.NotebookError, match="code cells"):
        nb.read_in_child(data)
    assert len(nb.read(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                   "cells": cells[:50]}).encode()).numbers) == 50


def test_the_reading_child_refuses_millions_of_containers_before_expanding_them():
    """Red team (issue 26): 31 million `{}` in a 95 MB notebook's outputs took the reading child 2.3 GB."""
    from grader import notebook as nb

    outputs = b",".join([b"{}"] * (nb.READER_CONTAINERS + 1))
    data = (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", '
            b'"metadata": {}, "execution_count": null, "source": "x = 1", "outputs": [' + outputs + b"]}]}")
    with pytest.raises(nb.NotebookError, match="too large or too deeply structured"):
        nb.read(data)
