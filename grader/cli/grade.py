"""`grade SUBMISSION [OPTIONS]`: one file graded and shown in the chosen format; a folder or a zip is
handed to the batch (cli/folder.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.cli.folder import _grade_folder, _grade_zip, _pool_maker
from grader.cli.group import (EXIT_BELOW, EXIT_INTERRUPTED, FORMATS, GRADEBOOKS, GradeFileCommand, _below,
                               _choose_isolation, _load_spec, main, pack_option)


@main.command("grade", cls=GradeFileCommand, hidden=True)
@pack_option
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--spec", "spec_name", default=None,
              help="Assignment spec: an id under specs/ or a path to a spec JSON file (default: the pack's only "
                   "spec, else the demo pack's first assignment).")
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
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Folder: grade on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786); "
                   "needs `pip install 'rnn-grader[cluster]'`. See docs/cluster.md.")
@click.option("--require-isolation", default=None, metavar="LAYERS",
              help="Folder: refuse to grade (exit 2) where a child would lack one of these layers, e.g. "
                   "namespaces,landlock,seccomp; with --cluster, checked on every worker.")
@click.option("--gradebook", type=click.Choice(GRADEBOOKS), default=None,
              help="Folder: also write OUTDIR/gradebook.csv for this platform's import (scores after "
                   "OUTDIR/adjustments.csv). See `grade report --help`.")
@click.option("--assignment", default=None, metavar="NAME",
              help="With --gradebook canvas: the assignment column, as Canvas names it: \"Name (id)\".")
@click.option("--course", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              metavar="COURSE.TOML",
              help="Folder: the course file (deadline, grace, late policy, [extensions]); kept as "
                   "OUTDIR/course.toml, so `grade report` and later runs apply it too. See docs/course.md.")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              metavar="ROSTER.CSV",
              help="Folder: the class list (columns id, name[, email]): names on every page and gradebook, a row "
                   "for every student (\"no hand-in\" too); kept as OUTDIR/roster.csv.")
def grade_command(submission: Path, spec_name: str | None, seed: int | None, out: Path | None, fmt: str,
                  fail_under: float | None, jobs: int | None, pick: str | None, force: bool, quiet: bool,
                  isolation: str | None, similarity: bool, cluster: str | None, require_isolation: str | None,
                  gradebook: str | None, assignment: str | None, course: Path | None, roster: Path | None):
    """Grade one submission (.py or .ipynb), or every submission in a folder (with --out OUTDIR)."""
    _choose_isolation(isolation)
    if submission.is_file() and submission.suffix.lower() == ".zip":  # a platform's bulk download
        make_pool = _pool_maker(cluster, require_isolation)  # a zip is a folder: the same checks, the same pool
        return _grade_zip(submission, spec_name, seed, out, fmt, fail_under, jobs, pick, force, quiet, similarity,
                          make_pool, gradebook, assignment, course, roster)
    if submission.is_dir():
        make_pool = _pool_maker(cluster, require_isolation)
        return _grade_folder(submission, spec_name, seed, out, fmt, fail_under, jobs, pick, force, quiet,
                             similarity, make_pool, gradebook, assignment, course, roster)
    for name, value in (("--jobs", jobs), ("--pick", pick), ("--force", force), ("--similarity", similarity),
                        ("--cluster", cluster), ("--require-isolation", require_isolation), ("--gradebook", gradebook),
                        ("--course", course), ("--roster", roster)):
        if value:
            raise click.UsageError(f"{name} applies to a folder of submissions, and {submission} is a file.")
    if out is not None and out.is_dir():
        raise click.UsageError(f"--out {out} is a folder; for one submission give the report's file name.")
    spec = _load_spec(spec_name)
    import shutil

    from grader.sandbox.scratch import make_folder

    folder = make_folder("source")
    try:
        early = _prestart(submission, spec, folder)
        from grader.judge.grading import grade_submission  # numpy and the checks load while the child starts

        report = grade_submission(submission, spec, seed=seed, sandbox=early)
    except KeyboardInterrupt:
        from grader.report import clean  # a file name may hold terminal escapes

        click.echo(f"\nInterrupted: {clean(str(submission))} was not graded, and nothing was written. "
                   "Run the same command again to grade it.", err=True)
        sys.exit(EXIT_INTERRUPTED)
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
        sys.exit(EXIT_BELOW)


def _out_format(fmt: str) -> str:
    """What `--out FILE` holds: the format `--format` names when it is given, else the JSON report."""
    source = click.get_current_context().get_parameter_source("fmt")
    return fmt if source is not click.core.ParameterSource.DEFAULT else "json"


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
