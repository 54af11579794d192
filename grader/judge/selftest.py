"""Course-staff CI: prove the grader right before students see it.

`grade selftest` passes when the reference scores full marks, every example in submissions_example/
scores exactly what expectations.json says, check by check and misconception by misconception, every
report follows specs/report.schema.json, and grading again with the same seed gives the same report.
What differs is printed as a table of expected against got, so a failing CI log says what to fix.
"""

from __future__ import annotations

import json
from typing import Callable

from grader.report import PASSED, Report
from grader.judge.spec import SCHEMAS, Spec

# Fields that may differ between two gradings of the same file with the same seed: wall-clock time.
NOT_REPRODUCIBLE = ("execution_time",)
SUBMISSION_SUFFIXES = (".py", ".ipynb")


def all_expectations(spec: Spec) -> dict[str, dict]:
    """The spec's expectations.json (see `Spec.examples`): file name -> {"fails": [...], "diagnoses": [...]}."""
    path = spec.examples / "expectations.json"
    return json.loads(path.read_text()) if path.exists() else {}


def expectations(spec: Spec) -> dict[str, dict]:
    return {name: entry for name, entry in all_expectations(spec).items() if entry.get("spec", spec.id) == spec.id}


def schema_errors(report: dict) -> list[str]:
    import jsonschema

    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
            for e in validator.iter_errors(report)]


def differences(report: Report, spec: Spec, entry: dict) -> list[str]:
    """Lines saying how a report differs from its expectation; none when it is exactly as expected."""
    checks = {c["name"]: float(c["points"]) for c in spec.checks}
    lines = [f"expectation names {name!r}, which is not a check of {spec.id}"
             for name in entry["fails"] if name not in checks]
    rows = []
    for test in report.tests:
        want_pass = test.name not in entry["fails"]
        want = f"passed {test.max_score:g}/{test.max_score:g}" if want_pass else f"failed 0/{test.max_score:g}"
        got = f"{test.status} {test.score:g}/{test.max_score:g}"
        if want_pass != (test.status == PASSED) or test.score != (test.max_score if want_pass else 0):
            rows.append((test.name, want, got, test.output if test.status != PASSED else ""))
    if rows:
        width = max(len(r[0]) for r in rows)
        lines.append(f"{'check':<{width}}  {'expected':<18}  got")
        for name, want, got, feedback in rows:
            lines.append(f"{name:<{width}}  {want:<18}  {got}")
            if feedback:
                lines.append(f"{'':<{width}}  {'':<18}  {feedback[:300]}")
    if "diagnoses" in entry:
        want, got = set(entry["diagnoses"]), {d.id for d in report.diagnoses}
        lines += [f"diagnosis {d}: expected, not named" for d in sorted(want - got)]
        lines += [f"diagnosis {d}: named, not expected" for d in sorted(got - want)]
    lines += [f"report does not follow report.schema.json at {e}" for e in schema_errors(report.to_dict())]
    return lines


def reproducible(first: Report, second: Report) -> list[str]:
    """The fields of two reports of one file and seed that differ, `NOT_REPRODUCIBLE` aside."""
    a, b = first.to_dict(), second.to_dict()
    for key in NOT_REPRODUCIBLE:
        a.pop(key, None), b.pop(key, None)
    diffs = [key for key in sorted(set(a) | set(b)) if key != "tests" and a.get(key) != b.get(key)]
    for t1, t2 in zip(a["tests"], b["tests"]):
        diffs += [f"tests/{t1['name']}/{key}" for key in t1 if t1[key] != t2.get(key)]
    return [f"graded twice with seed {first.seed}, {d} differs" for d in diffs]


def variant_problems(spec: Spec, reports: dict[str, Report]) -> list[str]:
    """The forward variants the gradients may be judged against (`variants.declared`) must be real: each
    is matched to a mutant example (a report naming it), and the reference's forward matches none on
    hidden probes (else a correct forward could be judged against a wrong one)."""
    import numpy as np

    from grader.judge import variants
    from grader.judge.compare import rel_error
    from grader.judge.context import Context

    declared = variants.declared(spec.reference) if "parameters" in (spec.model or {}) else {}
    named = {d.id for report in reports.values() for d in report.diagnoses}
    if not declared:
        return []
    lines = [f"variant {v}: no mutant example is matched to it (none of expectations.json's reports names it)"
             for v in sorted(declared) if v not in named]
    ctx = Context(spec=spec, path=spec.reference_path, seed=spec.seed, display_name="selftest")
    alike = {v: 0 for v in declared}  # on how many configurations the reference's forward is the variant's
    for index, config in enumerate(spec.configs):
        rng = ctx.rng("selftest-variants", index)
        weights, x = ctx.hidden_weights(rng, config), ctx.hidden_input(rng, config)
        want = np.ravel(spec.reference.forward(weights, x)[0])
        for v, variant in declared.items():
            got = np.ravel(variants.trusted_pair(ctx, variant)[0](weights, x))
            alike[v] += got.size == want.size and rel_error(got, want) <= 1e-5
    # alike on some configurations is fine (last_step_only when T = 1); on all, the variant is the reference
    lines += [f"variant {v}: the reference's forward matches it on every configuration"
              for v, n in alike.items() if n == len(spec.configs)]
    return lines


def run_selftest(spec: Spec, echo: Callable[[str], None] = print) -> bool:
    from grader.judge.grading import grade_submission

    def show(label: str, report: Report, problems: list[str], expected_score: float) -> None:
        score = f"{report.score:g}/{report.max_score:g}"
        if not problems:
            echo(f"ok    {label}  {score}  ({report.execution_time:.1f} s)")
            return
        echo(f"FAIL  {label}  {score}" + (f", expected {expected_score:g}" if report.score != expected_score else ""))
        for line in problems:
            echo(f"        {line}")

    failed: list[str] = []
    reference_path = spec.reference_path
    reference = grade_submission(reference_path, spec)
    problems = differences(reference, spec, {"fails": [], "diagnoses": []})
    show(f"reference {reference_path.name}", reference, problems, reference.max_score)
    failed += [reference_path.name] if problems else []

    entries, examples = expectations(spec), spec.examples
    listed = set(all_expectations(spec))
    present = sorted(examples.iterdir()) if examples.is_dir() else []
    for path in (p for p in present if p.suffix in SUBMISSION_SUFFIXES and p.name not in listed):
        echo(f"FAIL  {path.name}: no entry in expectations.json says what it should score")
        failed.append(path.name)
    reports: dict[str, Report] = {}
    for name, entry in sorted(entries.items()):
        if not (examples / name).exists():
            echo(f"FAIL  {name}: listed in expectations.json but not in {examples.name}/")
            failed.append(name)
            continue
        reports[name] = report = grade_submission(examples / name, spec)
        problems = differences(report, spec, entry)
        expected = sum(c["points"] for c in spec.checks if c["name"] not in entry["fails"])
        show(name, report, problems, expected)
        failed += [name] if problems else []

    for line in variant_problems(spec, reports):
        echo(f"FAIL  {line}")
        failed.append(line.split(":")[0])

    # Grading is deterministic by construction, so two samples suffice: the reference, and the first
    # example with a named misconception (it exercises failing checks and their feedback).
    again = [(reference_path, reference)] + [(examples / n, r) for n, r in reports.items() if r.diagnoses][:1]
    for path, first in again:
        problems = reproducible(first, grade_submission(path, spec, seed=first.seed))
        echo(f"{'FAIL' if problems else 'ok  '}  {path.name} graded twice: "
             f"{'identical' if not problems else 'not identical'} apart from {', '.join(NOT_REPRODUCIBLE)}")
        for line in problems:
            echo(f"        {line}")
        failed += [f"{path.name} (reproducibility)"] if problems else []

    graded = 1 + len(reports)
    if failed:
        echo(f"selftest FAILED: {len(failed)} problem(s): {', '.join(failed)}")
    else:
        echo(f"selftest passed: {graded} submissions scored as expected, every report valid, "
             f"{len(again)} graded twice identically")
    return not failed
