"""Course staff's commands: `selftest`, `bundle` and `gradescope-run` (Gradescope), `new-pack`, `doctor`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from grader.cli.group import EXIT_BELOW, EXIT_OK, _load_spec, main, pack_option


@main.command("selftest")
@pack_option
@click.option("--spec", "spec_name", default=None,
              help="Assignment spec to test: an id under specs/ or a path (default: every shipped spec).")
def selftest_command(spec_name: str | None):
    """Course-staff CI: the reference scores full marks, each example exactly what expectations.json
    says (checks and misconceptions), every report is valid, and regrading gives the same report."""
    from grader.judge import spec
    from grader.judge.selftest import run_selftest

    if not spec_name and not spec.current_pack().specs.is_dir():
        raise click.UsageError(spec.no_pack_message())
    specs = [_load_spec(spec_name)] if spec_name else spec.available()
    failed = []
    for each in specs:
        if len(specs) > 1:
            click.echo(f"== {each.id}")
        if not run_selftest(each, echo=lambda line: click.echo(line)):
            failed.append(each.id)
    if len(specs) > 1:
        verdict = f"FAILED for {', '.join(failed)}" if failed else "all passed"
        click.echo(f"selftest of {len(specs)} specs: {verdict}")
    sys.exit(EXIT_BELOW if failed else EXIT_OK)


@main.command("bundle")
@pack_option
@click.option("--spec", "spec_name", default=None,
              help="Assignment spec to grade: an id under specs/ or a path (default: the pack's only spec, "
                   "else the demo pack's first assignment).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("autograder.zip"),
              show_default=True, help="Where to write the zip to upload to Gradescope.")
def bundle_command(spec_name: str | None, out: Path):
    """Write a Gradescope autograder zip: setup.sh, run_autograder, the grader and the spec."""
    from grader.course.bundle import write_bundle

    spec = _load_spec(spec_name)
    files = write_bundle(spec, out)
    click.echo(f"Wrote {out} ({len(files)} files) for {spec.id} {spec.version}. Upload it as the "
               "autograder of a Gradescope programming assignment (Ubuntu 24.04 base image).")


@main.command("gradescope-run")
@pack_option
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/autograder"),
              show_default=True, help="Gradescope's folder: submission/ is read, results/ is written.")
@click.option("--spec", "spec_name", default=None,
              help="Assignment spec: an id under specs/ or a path (default: the pack's only spec, else the "
                   "demo pack's first assignment).")
def gradescope_run_command(root: Path, spec_name: str | None):
    """What run_autograder does: grade ROOT/submission, write ROOT/results/results.json.

    \b
    The file graded is the first .py or .ipynb under submission/ in this order: files that define
    the spec's class before others, .py before .ipynb, shallower before deeper, then by path.
    """
    from grader.course.bundle import autograde
    from grader.report.views import render_text

    spec = _load_spec(spec_name)
    results, report = autograde(root, spec)
    from grader.report import clean, write_atomic

    write_atomic(root / "results" / "results.json", json.dumps(results, indent=2) + "\n")
    # this log is the student's when the spec makes stdout visible: staff-only facts only when it is not
    if report and report.isolation_note() and spec.visibility("stdout") == "hidden":
        click.echo(report.isolation_note(), err=True)
    click.echo(render_text(report) if report else clean(results["output"]))


@main.command("new-pack")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--id", "assignment_id", default=None,
              help="The assignment's id (default: the folder's name, in lower case with dashes).")
def new_pack_command(folder: Path, assignment_id: str | None):
    """Make an assignment pack in FOLDER (new or empty): a toy assignment (one tanh layer) with its spec,
    reference, support module and examples, which passes `grade selftest` as it is. Replace it with yours."""
    import shlex

    from grader import pack as packs

    try:
        written = packs.new_pack(folder, assignment_id)
    except packs.PackError as exc:
        raise click.UsageError(str(exc)) from None
    made = next(p for p in written if p.parent.name == "specs").stem
    click.echo(f"Made the assignment pack {folder} with a toy assignment `{made}` (a scaffold to replace):")
    click.echo("".join(f"  {p}\n" for p in written), nl=False)
    where = shlex.quote(str(folder))
    example = shlex.quote(str(folder / "submissions_example" / made / "correct.py"))
    click.echo(f"Next:\n  grade selftest --pack {where}\n  grade {example} --pack {where} --spec {made}\n"
               f"Then replace the toy with your assignment ({folder / 'README.md'} says how).")


@main.command("doctor")
def doctor_command():
    """Show the isolation layers a submission gets on this machine, and how to add the missing ones."""
    from grader.sandbox import isolation

    click.echo("Isolation layers on this machine (GRADER_ISOLATION="
               f"{os.environ.get('GRADER_ISOLATION', 'full')}):")
    try:
        lines = isolation.describe()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo("\n".join(lines))
