"""The command line: `grade SUBMISSION`, `grade selftest`. A thin layer over `engine` and `views`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from grader import __version__

FORMATS = ["text", "json", "markdown", "gradescope", "junit"]
GRADEBOOKS = ["canvas", "moodle", "csv"]


def _load_spec(name: str):
    from grader.judge import spec
    try:
        return spec.load(name)
    except spec.SpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--spec") from None


class GradeGroup(click.Group):
    """`grade SUBMISSION` grades; `grade selftest` is a subcommand. A path is never taken for one."""

    def resolve_command(self, ctx, args):
        if args and args[0] in self.commands:
            return super().resolve_command(ctx, args)
        return "grade", self.commands["grade"], args

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version", "--list-specs"):
            args = ["grade", *args]
        return super().parse_args(ctx, args)


def _list_specs(ctx, _param, value):
    """`grade --list-specs`: one line per shipped spec, its id and what students implement."""
    if not value or ctx.resilient_parsing:
        return
    from grader.judge import spec
    specs = spec.available()
    width = max(len(s.id) for s in specs)
    for each in specs:
        default = " (default)" if each.id == spec.DEFAULT_SPEC else ""
        click.echo(f"{each.id:<{width}}  {each.summary}{default}")
    ctx.exit(0)


@click.group(cls=GradeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grade")
@click.option("--list-specs", is_flag=True, expose_value=False, is_eager=True, callback=_list_specs,
              help="List the assignment specs this grader ships, one line each, and exit.")
def main():
    """Grade NumPy RNN submissions against a hidden reference, in isolation.

    \b
    grade SUBMISSION.py|.ipynb          grade one file, print a summary
    grade SUBMISSION.py --out r.json    also write the JSON report
    grade SUB.py --format junit --out junit.xml   --out holds the --format given (else JSON)
    grade FOLDER|ZIP --out OUTDIR       batch: a report per submission, summary.csv, summary.json
    grade FOLDER --out OUTDIR --similarity   also rank pairs of students by similarity
    grade similarity OUTDIR             the same ranking, later, from OUTDIR alone
    grade FOLDER --out OUTDIR --gradebook canvas   also OUTDIR/gradebook.csv (canvas, moodle or csv)
    grade report OUTDIR                 rebuild index.html, students/, feedback/ from OUTDIR's reports
    grade selftest                      course-staff CI: every spec's examples score what they should
    grade --list-specs                  the assignments this grader knows; choose one with --spec ID
    grade bundle --out autograder.zip   a Gradescope autograder for the spec
    grade doctor                        the isolation layers a submission gets on this machine
    """


@main.command("grade")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--spec", "spec_name", default="rnn-seq2one", show_default=True,
              help="Assignment spec: an id under specs/ or a path to a spec JSON file.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Hidden seed (default: the spec's).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="A file: also write the report there, in the --format given (without --format: the JSON "
                   "report). For a folder: the output folder (required).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="What to print on stdout, and what --out FILE holds (for a folder: the class summary, "
                   "as text or JSON).")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None,
              help="Exit 1 when a score is below this percentage.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Folder: submissions graded at once (default: the number of cores).")
@click.option("--pick", default=None, metavar="GLOB",
              help="Folder: in a sub-folder with several .py/.ipynb files, grade the one whose name matches.")
@click.option("--force", is_flag=True, help="Folder: grade everything again, even reports that are up to date.")
@click.option("--quiet", "-q", is_flag=True,
              help="Folder: nothing on stderr (no progress, no note of missing isolation layers).")
@click.option("--isolation", default=None, envvar="GRADER_ISOLATION", show_envvar=True,
              help="Isolation layers: full (default: all this machine has), minimal, or a list such as "
                   "namespaces,seccomp. See `grade doctor`.")
@click.option("--similarity", is_flag=True,
              help="Folder: also rank pairs of students by the similarity of the code they wrote themselves "
                   "(OUTDIR/similarity.csv, similarity.html). See `grade similarity --help`.")
@click.option("--gradebook", type=click.Choice(GRADEBOOKS), default=None,
              help="Folder: also write OUTDIR/gradebook.csv for this platform's import (scores after "
                   "OUTDIR/adjustments.csv). See `grade report --help`.")
@click.option("--assignment", default=None, metavar="NAME",
              help="With --gradebook canvas: the assignment column, as Canvas names it: \"Name (id)\".")
def grade_command(submission: Path, spec_name: str, seed: int | None, out: Path | None, fmt: str,
                  fail_under: float | None, jobs: int | None, pick: str | None, force: bool, quiet: bool,
                  isolation: str | None, similarity: bool, gradebook: str | None, assignment: str | None):
    """Grade one submission (.py or .ipynb), or every submission in a folder (with --out OUTDIR)."""
    _choose_isolation(isolation)
    if submission.is_file() and submission.suffix.lower() == ".zip":  # a platform's bulk download
        return _grade_zip(submission, spec_name, seed, out, fmt, fail_under, jobs, pick, force, quiet, similarity,
                          gradebook, assignment)
    if submission.is_dir():
        return _grade_folder(submission, spec_name, seed, out, fmt, fail_under, jobs, pick, force, quiet,
                             similarity, gradebook, assignment)
    for name, value in (("--jobs", jobs), ("--pick", pick), ("--force", force), ("--similarity", similarity),
                        ("--gradebook", gradebook)):
        if value:
            raise click.UsageError(f"{name} applies to a folder of submissions, and {submission} is a file.")
    if out is not None and out.is_dir():
        raise click.UsageError(f"--out {out} is a folder; for one submission give the report's file name.")
    spec = _load_spec(spec_name)
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="grader-source-")
    try:
        early = _prestart(submission, spec, folder)
        from grader.judge.grading import grade_submission  # numpy and the checks load while the child starts

        report = grade_submission(submission, spec, seed=seed, sandbox=early)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    from grader.report.views import VIEWS

    if report.isolation_note():  # for whoever runs the grader, never in what the student reads
        click.echo(report.isolation_note(), err=True)
    if out is not None:
        from grader.report import write_atomic

        write_atomic(out, VIEWS[_out_format(fmt)](report))
    click.echo(VIEWS[fmt](report), nl=False)
    if fail_under is not None and _below(report.score, report.max_score, fail_under):
        click.echo(f"Score {report.score:g}/{report.max_score:g} is below --fail-under {fail_under:g}%.", err=True)
        sys.exit(1)


def _out_format(fmt: str) -> str:
    """What `--out FILE` holds: the format `--format` names when it is given, else the JSON report."""
    source = click.get_current_context().get_parameter_source("fmt")
    return fmt if source is not click.core.ParameterSource.DEFAULT else "json"


def _say_missing_layers(result) -> None:
    """Once per batch, on stderr: the isolation layers some submission was graded without."""
    from grader.report import isolation_note

    missing = sorted({layer for report in result.reports.values()
                      for layer in (report.get("isolation") or {}).get("missing", [])},
                     key=lambda layer: ("namespaces", "landlock", "seccomp", "uid").index(layer)
                     if layer in ("namespaces", "landlock", "seccomp", "uid") else 9)
    if missing:
        click.echo(isolation_note({"active": [], "missing": missing}), err=True)


def _prestart(submission: Path, spec, folder: str):
    """Start the child before the grader imports numpy and its checks: both take ~0.1 s, and the
    child needs nothing from them. Only for a .py file (anything else is converted or refused first),
    on a private copy in `folder` of the bytes read now: the engine uses it only if it reads the same."""
    if submission.suffix != ".py":
        return None
    from grader import source
    from grader.sandbox.process import Sandbox

    read = source.read(submission)
    if read.problem:
        return None
    box = Sandbox(str(source.private_copy(read.data, Path(folder))), spec.limits(), submission.name)
    try:
        box.start()
    except OSError:
        box.close()
        return None
    return box


def _below(score: float, max_score: float, percent: float) -> bool:
    return bool(max_score) and 100 * score / max_score < percent


def _grade_zip(archive: Path, *args):
    """A zip is unpacked into a private folder (regular files only, names kept inside it) and graded
    as that folder; the folder goes when grading ends. OUTDIR keeps the reports and the code."""
    import tempfile

    from grader.course.unzip import ZipProblem, unpack

    with tempfile.TemporaryDirectory(prefix="grade-zip-") as folder:
        try:
            skipped = unpack(archive, Path(folder))
        except ZipProblem as exc:
            raise click.UsageError(str(exc)) from None
        if skipped:
            click.echo(f"Left out {len(skipped)} member(s) of {archive.name} that are links or would land "
                       "outside the folder.", err=True)
        root = Path(folder)
        inside = list(root.iterdir())
        if len(inside) == 1 and inside[0].is_dir():  # a zip of one folder holding the submissions
            root = inside[0]
        return _grade_folder(root, *args)


def _grade_folder(folder: Path, spec_name: str, seed: int | None, out: Path | None, fmt: str,
                  fail_under: float | None, jobs: int | None, pick: str | None, force: bool, quiet: bool,
                  similarity: bool = False, gradebook: str | None = None, assignment: str | None = None):
    from grader.course import batch

    if out is None:
        raise click.UsageError(f"{folder} is a folder: say where the reports go with --out OUTDIR.")
    if out.exists() and not out.is_dir():
        raise click.UsageError(f"--out {out} is a file; for a folder of submissions give an output folder.")
    if fmt not in ("text", "json"):
        raise click.UsageError(f"--format {fmt} applies to one submission; a folder's summary is text or json.")
    spec = _load_spec(spec_name)
    try:
        result = batch.grade_folder(folder, out, spec, seed=seed, jobs=jobs, pick=pick, force=force, quiet=quiet,
                                    similarity=similarity, gradebook=gradebook, assignment=assignment)
    except KeyboardInterrupt:
        done = len(list(out.glob("*.json")))
        click.echo(f"\nInterrupted. Finished reports are kept in {out} ({done} files); run the same command "
                   "again to grade the rest.", err=True)
        sys.exit(130)
    if not quiet:
        _say_missing_layers(result)
    if not result.submissions:
        click.echo(f"Warning: no submission (.py or .ipynb, directly or in a sub-folder) in {folder}; "
                   "nothing was graded.", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo((out / "summary.json").read_text(), nl=False)
    else:
        click.echo(batch.render_summary(result, out, spec), nl=False)
        if result.similarity is not None:
            click.echo(_similarity_line(out, *result.similarity))
    _class_pages_said(out, result.problems, result.changes if fmt != "json" else None)
    if fail_under is not None:
        below = [i for i, r in result.reports.items() if _below(r["score"], r["max_score"], fail_under)]
        if below:
            click.echo(f"{len(below)} submission(s) scored below --fail-under {fail_under:g}%: "
                       f"{', '.join(below[:10])}{' ...' if len(below) > 10 else ''}.", err=True)
            sys.exit(1)


def _class_pages_said(out: Path, problems: list[str], changes: list[dict] | None) -> None:
    """After the class pages: what was left out of them (stderr), and who moved on a regrade (stdout)."""
    from grader.course.adjustments import changes_line

    for line in problems:
        click.echo(f"Warning: {line}", err=True)
    if changes is not None:
        click.echo(changes_line(out, changes))


@main.command("report")
@click.argument("outdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--gradebook", type=click.Choice(GRADEBOOKS), default=None,
              help="Also write OUTDIR/gradebook.csv for this platform's import.")
@click.option("--assignment", default=None, metavar="NAME",
              help="With --gradebook canvas: the assignment column, as Canvas names it: \"Name (id)\".")
def report_command(outdir: Path, gradebook: str | None, assignment: str | None):
    """Rebuild OUTDIR's class pages from its reports, without grading (after editing adjustments.csv).

    \b
    index.html (the class, for staff), students/ID.html (each student's view), feedback/ID.md (the
    same in Markdown), gradebook.csv with --gradebook. Yours: adjustments.csv (id, check or total,
    points, comment), applied to every score shown."""
    from grader.course import overview

    try:
        built = overview.build(outdir, gradebook, assignment)
    except overview.NothingToShow as exc:
        raise click.UsageError(str(exc)) from None
    if not built.students:
        click.echo(f"Warning: {outdir} holds no report to show.", err=True)
        sys.exit(1)
    _class_pages_said(outdir, built.problems, None)
    click.echo(f"Wrote {outdir / 'index.html'} and a page per student ({len(built.students)}) in "
               f"{outdir / 'students'}, feedback in {outdir / 'feedback'}"
               + (f"; {built.gradebook}" if built.gradebook else "") + ".")


@main.command("similarity")
@click.argument("outdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--spec", "spec_name", default=None,
              help="Assignment spec whose skeleton is taken out (default: the one OUTDIR was graded with).")
def similarity_command(outdir: Path, spec_name: str | None):
    """Rank pairs of students in OUTDIR (a `grade FOLDER --out OUTDIR` run) by the similarity of the
    code they wrote themselves.

    \b
    The spec's skeleton (given code, docstrings, TODO banners) and code most of the class shares are
    taken out; renamed variables, reordered methods or cells, comments and layout do not hide a copy.
    Writes OUTDIR/similarity.csv, OUTDIR/similarity.html and a side-by-side page per flagged pair.
    """
    from grader.course import similarity

    try:
        recorded, _ = similarity.load_sources(outdir)
    except (OSError, ValueError, KeyError, TypeError):
        raise click.UsageError(f"{outdir} holds no record of a batch's submissions ({similarity.FOLDER}/"
                               "sources.json); grade the folder first: grade FOLDER --out OUTDIR.") from None
    spec = _load_spec(spec_name or recorded)
    listed, count = similarity.run(outdir, spec)
    click.echo(_similarity_line(outdir, listed, count))


def _similarity_line(out: Path, listed: list, count: int) -> str:
    flagged = [p for p in listed if p.flagged]
    top = ", ".join(f"{p.a} & {p.b} ({p.score:.2f})" for p in flagged[:3])
    return (f"Similarity: {count} submissions compared, {len(flagged)} pair(s) flagged"
            + (f" ({top}{' ...' if len(flagged) > 3 else ''})" if flagged else "")
            + f"; see {out / 'similarity.html'} and similarity.csv.")


@main.command("selftest")
@click.option("--spec", "spec_name", default=None,
              help="Assignment spec to test: an id under specs/ or a path (default: every shipped spec).")
def selftest_command(spec_name: str | None):
    """Course-staff CI: the reference scores full marks, each example exactly what expectations.json
    says (checks and misconceptions), every report is valid, and regrading gives the same report."""
    from grader.judge import spec
    from grader.judge.selftest import run_selftest

    specs = [_load_spec(spec_name)] if spec_name else spec.available()
    failed = []
    for each in specs:
        if len(specs) > 1:
            click.echo(f"== {each.id}")
        if not run_selftest(each, echo=lambda line: click.echo(line)):
            failed.append(each.id)
    if len(specs) > 1:
        click.echo(f"selftest of {len(specs)} specs: " + (f"FAILED for {', '.join(failed)}" if failed else "all passed"))
    sys.exit(1 if failed else 0)


@main.command("bundle")
@click.option("--spec", "spec_name", default="rnn-seq2one", show_default=True,
              help="Assignment spec to grade: an id under specs/ or a path.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("autograder.zip"),
              show_default=True, help="Where to write the zip to upload to Gradescope.")
def bundle_command(spec_name: str, out: Path):
    """Write a Gradescope autograder zip: setup.sh, run_autograder, the grader and the spec."""
    from grader.course.bundle import write_bundle

    spec = _load_spec(spec_name)
    files = write_bundle(spec, out)
    click.echo(f"Wrote {out} ({len(files)} files) for {spec.id} {spec.version}. Upload it as the "
               "autograder of a Gradescope programming assignment (Ubuntu 24.04 base image).")


@main.command("gradescope-run")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/autograder"),
              show_default=True, help="Gradescope's folder: submission/ is read, results/ is written.")
@click.option("--spec", "spec_name", default="rnn-seq2one", show_default=True,
              help="Assignment spec: an id under specs/ or a path.")
def gradescope_run_command(root: Path, spec_name: str):
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


def _choose_isolation(choice: str | None) -> None:
    """The child's layers follow GRADER_ISOLATION; --isolation sets it for this run, once checked."""
    from grader.sandbox import isolation

    if choice is None:
        return
    try:
        isolation.plan(choice)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--isolation") from None
    os.environ["GRADER_ISOLATION"] = choice


if __name__ == "__main__":
    main()
