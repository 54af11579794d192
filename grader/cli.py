"""The command line: `grade SUBMISSION`, `grade selftest`. A thin layer over `engine` and `views`."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from grader import __version__

FORMATS = ["text", "json"]


def _write_atomic(path: Path, text: str) -> None:
    """A report is either absent or whole: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _load_spec(name: str):
    from grader import spec
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
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["grade", *args]
        return super().parse_args(ctx, args)


@click.group(cls=GradeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grade")
def main():
    """Grade NumPy RNN submissions against a hidden reference, in isolation.

    \b
    grade SUBMISSION.py                 grade one file, print a summary
    grade SUBMISSION.py --out r.json    also write the JSON report
    grade selftest                      course-staff CI: the examples score what they should
    """


@main.command("grade")
@click.argument("submission", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--spec", "spec_name", default="rnn-seq2one", show_default=True,
              help="Assignment spec: an id under specs/ or a path to a spec JSON file.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Hidden seed (default: the spec's).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON report to this file.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="What to print on stdout.")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None,
              help="Exit 1 when the score is below this percentage.")
@click.option("--isolation", default=None, envvar="GRADER_ISOLATION", show_envvar=True,
              help="Isolation layers: full (default: all this machine has), minimal, or a list such as "
                   "namespaces,seccomp. See `grade doctor`.")
def grade_command(submission: Path, spec_name: str, seed: int | None, out: Path | None, fmt: str,
                  fail_under: float | None, isolation: str | None):
    """Grade one submission (.py)."""
    from grader.engine import grade_submission
    from grader.views import VIEWS, render_json

    _choose_isolation(isolation)
    spec = _load_spec(spec_name)
    report = grade_submission(submission, spec, seed=seed)
    if out is not None:
        _write_atomic(out, render_json(report))
    click.echo(VIEWS[fmt](report), nl=False)
    if fail_under is not None and report.max_score and 100 * report.score / report.max_score < fail_under:
        click.echo(f"Score {report.score:g}/{report.max_score:g} is below --fail-under {fail_under:g}%.", err=True)
        sys.exit(1)


@main.command("selftest")
@click.option("--spec", "spec_name", default="rnn-seq2one", show_default=True,
              help="Assignment spec to test: an id under specs/ or a path.")
def selftest_command(spec_name: str):
    """Check the grader on the spec's examples: each scores exactly what its expectation says."""
    from grader.selftest import run_selftest

    spec = _load_spec(spec_name)
    ok = run_selftest(spec, echo=lambda line: click.echo(line))
    sys.exit(0 if ok else 1)


@main.command("doctor")
def doctor_command():
    """Show the isolation layers a submission gets on this machine, and how to add the missing ones."""
    from grader import isolation

    click.echo("Isolation layers on this machine (GRADER_ISOLATION="
               f"{os.environ.get('GRADER_ISOLATION', 'full')}):")
    try:
        lines = isolation.describe()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo("\n".join(lines))


def _choose_isolation(choice: str | None) -> None:
    """The child's layers follow GRADER_ISOLATION; --isolation sets it for this run, once checked."""
    from grader import isolation

    if choice is None:
        return
    try:
        isolation.plan(choice)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--isolation") from None
    os.environ["GRADER_ISOLATION"] = choice


if __name__ == "__main__":
    main()
