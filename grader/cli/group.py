"""The `grade` command group: `grade SUBMISSION` routed to the grade command, the options every command
shares (`--pack`), the spec loader that turns a bad spec into a usage error, and `--isolation`'s check."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from grader import __version__

# Every exit code of `grade`, in one place (README "Exit codes" says the same).
EXIT_OK = 0
EXIT_BELOW = 1  # --fail-under: a score below the bar (selftest: an example off its expectations); nothing else
EXIT_REFUSED = 2  # a usage mistake or input refused before grading (click's own usage errors are 2 too)
EXIT_INTERRUPTED = 130  # Ctrl-C: what was finished is kept

FORMATS = ["text", "json", "markdown", "gradescope", "junit"]
GRADEBOOKS = ["canvas", "moodle", "csv"]


def _load_spec(name: str | None):
    """The spec named, or without a name the pack's default: its only spec when it has one, else
    the demo pack's first assignment (spec.DEFAULT_SPEC)."""
    from grader.judge import spec
    try:
        if name is None:
            pack = spec.current_pack()
            files = sorted(p for p in pack.specs.glob("*.json") if not p.name.endswith(".schema.json")) \
                if pack.specs.is_dir() else []
            name = files[0].stem if len(files) == 1 else spec.DEFAULT_SPEC
        return spec.load(name)
    except spec.NoPack as exc:
        raise click.UsageError(str(exc)) from None
    except spec.SpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--spec") from None


class GradeGroup(click.Group):
    """`grade SUBMISSION` grades; `grade selftest` is a subcommand. A path is never taken for one.

    Grading a file is the hidden `grade` subcommand, but users never type its name: the group's help shows
    its options, and its usage and errors say `grade SUBMISSION [OPTIONS]` (see GradeFileCommand)."""

    def resolve_command(self, ctx, args):
        if args and args[0] in self.commands:
            return super().resolve_command(ctx, args)
        return "grade", self.commands["grade"], args

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version", "--list-specs") \
                and args[0].partition("=")[0] != "--pack":
            args = ["grade", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage(ctx.command_path, "SUBMISSION [OPTIONS]")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx, formatter):
        rows = [record for param in self.commands["grade"].params
                if isinstance(param, click.Option) and (record := param.get_help_record(ctx))]
        with formatter.section("Grading options (grade SUBMISSION [OPTIONS])"):
            formatter.write_dl(rows)
        super().format_options(ctx, formatter)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # click would say "Aborted!" and exit 1, which means --fail-under
            click.echo("\nInterrupted: the command stopped before it finished.", err=True)
            sys.exit(EXIT_INTERRUPTED)


class _ContextAsTyped(click.Context):
    """The context of `grade SUBMISSION`: it names itself `grade`, not `grade grade`, in usage and errors."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else super().command_path


class GradeFileCommand(click.Command):
    context_class = _ContextAsTyped

    def collect_usage_pieces(self, ctx):
        return ["SUBMISSION", "[OPTIONS]"]


def _use_pack(ctx, _param, value: Path | None):
    """--pack DIR, or GRADER_PACK when it is not given: checked, then named in the environment (as an
    absolute path) before anything loads a spec, so batch workers started later find the same pack."""
    from grader import pack as packs
    from grader.judge import spec

    if ctx.resilient_parsing:
        return
    if value is None:
        # no variable: the demo pack beside the package, if any; the group's own --pack leaves the variable
        # to the commands that load a spec (`GRADER_PACK=hw3 grade new-pack hw3` makes it)
        if not os.environ.get(spec.PACK_VARIABLE) or ctx.parent is None:
            return
        value, where = Path(os.environ[spec.PACK_VARIABLE]), f"{spec.PACK_VARIABLE}={os.environ[spec.PACK_VARIABLE]}"
    else:
        where = f"--pack {value}"
    problem = packs.problem(value)
    if problem:
        raise click.UsageError(f"{where}: {problem}.")
    os.environ[spec.PACK_VARIABLE] = str(value.resolve())


PACK_HELP = ("Assignment pack: a folder with specs/, reference/, support/ and submissions_example/ "
             "(default: $GRADER_PACK, else the demo assignments of a checkout). `grade new-pack DIR` makes one.")


def pack_option(command):
    """--pack DIR on every command that loads a spec; eager, so it is in place before --spec is read."""
    return click.option("--pack", type=click.Path(path_type=Path), default=None, expose_value=False,
                        is_eager=True, callback=_use_pack, metavar="DIR", help=PACK_HELP)(command)


def _list_specs(ctx, _param, value):
    """`grade --list-specs`: one line per shipped spec, its id and what students implement."""
    if not value or ctx.resilient_parsing:
        return
    from grader.judge import spec
    if not spec.current_pack().specs.is_dir():
        raise click.UsageError(spec.no_pack_message())
    specs = spec.available()
    width = max(len(s.id) for s in specs)
    for each in specs:
        default = " (default)" if each.id == spec.DEFAULT_SPEC else ""
        click.echo(f"{each.id:<{width}}  {each.summary}{default}")
    ctx.exit(0)


@click.group(cls=GradeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grade")
@click.option("--list-specs", is_flag=True, expose_value=False, callback=_list_specs,
              help="List the assignment specs of the pack, one line each, and exit.")
@pack_option  # eager, and --list-specs is not: the pack is in place before the listing, in any order
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
    grade report OUTDIR                 rebuild the pages, summary and gradebook from OUTDIR's reports
    grade FOLDER --out D --cluster A    the same batch on a Dask cluster (docs/cluster.md)
    grade FOLDER --out D --roster roster.csv --course course.toml   names, every student, deadlines
    grade selftest                      course-staff CI: every spec's examples score what they should
    grade --list-specs                  the assignments this grader knows; choose one with --spec ID
    grade bundle --out autograder.zip   a Gradescope autograder for the spec
    grade doctor                        the isolation layers a submission gets on this machine
    grade new-pack DIR                  a pack of your own: a toy assignment to replace, with examples

    \b
    Assignments come from a pack: --pack DIR (on any command) or GRADER_PACK=DIR; a checkout's
    specs/, reference/ and submissions_example/ are the demo pack.
    """


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


def _below(score: float, max_score: float, percent: float) -> bool:
    return bool(max_score) and 100 * score / max_score < percent


def _say_missing_layers(result) -> None:
    """Once per batch, on stderr: the isolation layers some submission was graded without."""
    from grader.report import isolation_note

    missing = sorted({layer for report in result.reports.values()
                      for layer in (report.get("isolation") or {}).get("missing", [])},
                     key=lambda layer: ("namespaces", "landlock", "seccomp", "uid").index(layer)
                     if layer in ("namespaces", "landlock", "seccomp", "uid") else 9)
    if missing:
        click.echo(isolation_note({"active": [], "missing": missing}), err=True)
