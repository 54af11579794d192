"""Loading a .py file: what cannot load is named by line or member; what fails after the definitions
is skipped and reported, and the definitions are still graded."""

from __future__ import annotations

from grader.judge.grading import grade_submission

ALL_BUT_INTERFACE = 12


def outputs(report):
    return {t.name: t for t in report.tests}


def test_syntax_error_names_the_line_and_makes_the_report_ungradable(make_submission, spec):
    path = make_submission(source="import numpy as np\n\nclass RNN:\n    def forward(self, x)\n        pass\n")
    report = grade_submission(path, spec)
    assert report.status == "ungradable" and report.score == 0
    interface = outputs(report)["interface"]
    assert interface.status == "error" and "line 4" in interface.output
    assert all(t.status == "error" and t.output.startswith("Not run") for t in report.tests[1:])
    assert "line 4" in report.to_dict()["output"]


def test_missing_class_is_named(make_submission, spec):
    path = make_submission(("class RNN", "class MyRNN"))
    report = grade_submission(path, spec)
    assert "no `RNN`" in outputs(report)["interface"].output
    assert len(report.failed) == 1 + ALL_BUT_INTERFACE and report.status == "graded"


def test_rnn_that_is_not_a_class_is_named(make_submission, spec):
    path = make_submission(source="def RNN(a, b, c):\n    return None\n")
    assert "a function named `RNN`" in outputs(grade_submission(path, spec))["interface"].output


def test_wrong_constructor_is_named_and_costs_the_checks_that_build_a_model(make_submission, spec):
    path = make_submission(("def __init__(self, input_size: int, hidden_size: int, output_size: int)",
                            "def __init__(self, input_size: int, hidden_size: int)"))
    report = grade_submission(path, spec)
    out = outputs(report)
    assert "RNN(input_size, hidden_size, output_size)" in out["interface"].output
    assert "takes 2 argument(s)" in out["interface"].output
    assert "TypeError" in out["forward_values"].output


def test_missing_method_costs_only_the_checks_that_call_it(make_submission, spec):
    path = make_submission(("def set_weights(self", "def put_weights(self"))
    report = grade_submission(path, spec)
    assert sorted(report.failed) == ["interface", "weights_io"]
    assert "`RNN.set_weights` is missing" in outputs(report)["interface"].output
    assert "AttributeError" in outputs(report)["weights_io"].output


def test_missing_numerical_gradient_function_costs_only_that_check(make_submission, spec):
    path = make_submission(("def get_numerical_gradient(", "def numerical_gradient_of("))
    report = grade_submission(path, spec)
    assert sorted(report.failed) == ["interface", "numerical_gradient"]
    assert "no function `get_numerical_gradient(model, x, eps)`" in outputs(report)["interface"].output


def test_failing_top_level_code_is_skipped_and_reported(make_submission, spec):
    tail = ("\nimport seaborn as plt\nget_ipython().run_line_magic('matplotlib', 'inline')\n"
            "model = RNN(3, 4, 2)\nplt.plot(model.forward(np.ones((5, 3))))\nraise SystemExit('demo over')\n")
    source = make_submission().read_text()
    report = grade_submission(make_submission(source=source + tail), spec)
    assert report.score == report.max_score
    interface = outputs(report)["interface"].output
    first = source.count("\n") + 2  # the line of the import
    assert f"line {first} (`import seaborn as plt`): ModuleNotFoundError" in interface
    assert "were still graded" in interface
    # work is not run at all, and the student is told what was not run, by line
    for what in (f"IPython commands (line {first + 1})", f"calls (line {first + 3})", f"raises (line {first + 4})"):
        assert what in interface, what


def test_code_under_main_guard_does_not_run(make_submission, spec):
    tail = "\nif __name__ == '__main__':\n    raise RuntimeError('should not run')\n"
    report = grade_submission(make_submission(source=make_submission().read_text() + tail), spec)
    assert report.score == report.max_score and "skipped" not in outputs(report)["interface"].output


def test_long_running_top_level_code_is_time_boxed(make_submission, spec):
    spec.data["limits"]["statement_seconds"] = 0.5
    tail = "\nimport time\ndef train():\n    while True:\n        time.sleep(0.01)\nlosses = train()\n"
    report = grade_submission(make_submission(source=make_submission().read_text() + tail), spec)
    assert report.score == report.max_score
    assert "still running after 0.5 s" in outputs(report)["interface"].output


def test_binary_files_get_an_ungradable_report(tmp_path, spec):
    binary = tmp_path / "sub.py"
    binary.write_bytes(b"\x00\x01\x02")
    report = grade_submission(binary, spec)
    assert report.status == "ungradable" and report.score == 0
    assert "binary" in report.tests[0].output


def test_numerical_gradient_eps_may_have_another_name(make_submission, spec):
    path = make_submission(("eps", "h"))  # every use of eps in the file is in get_numerical_gradient
    assert grade_submission(path, spec).failed == []


def test_numerical_gradient_without_eps_is_an_interface_problem(make_submission, spec):
    path = make_submission(("def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7)",
                            "def get_numerical_gradient(model: RNN, x: np.ndarray)"), ("eps", "1e-7"))
    report = grade_submission(path, spec)
    assert sorted(report.failed) == ["interface", "numerical_gradient"]
    assert "expected 3 (model, x, eps)" in outputs(report)["interface"].output
    assert "TypeError" in outputs(report)["numerical_gradient"].output
