"""A class at once: a folder or a platform's zip graded into OUTDIR (locally or on a Dask cluster), and
`grade similarity OUTDIR`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.cli.group import (EXIT_BELOW, EXIT_INTERRUPTED, EXIT_REFUSED, GRADEBOOKS, _below, _load_spec,
                              _say_missing_layers, main)


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
        return _grade_folder(root, *args, shown=archive)


def _grade_folder(folder: Path, spec_name: str | None, seed: int | None, out: Path | None, fmt: str,
                  fail_under: float | None, jobs: int | None, pick: str | None, force: bool, quiet: bool,
                  similarity: bool = False, make_pool=None, gradebook: str | None = None,
                  assignment: str | None = None, course: Path | None = None, roster: Path | None = None,
                  shown: Path | None = None):
    from grader.course import batch
    from grader.course.policy import Refused

    if out is None:
        raise click.UsageError(f"{folder} is a folder: say where the reports go with --out OUTDIR.")
    if out.exists() and not out.is_dir():
        raise click.UsageError(f"--out {out} is a file; for a folder of submissions give an output folder.")
    if _inside(out, folder):
        # refused, not excluded: the next run would find the grader's own folders (feedback/, students/)
        # among the students, and a class folder handed on or zipped would carry every report with it
        raise click.UsageError(f"--out {out} is inside the folder of submissions {shown or folder}: its pages "
                               "and reports would be graded as students on the next run. Give a folder "
                               "outside it, e.g. --out graded.")
    if fmt not in ("text", "json"):
        raise click.UsageError(f"--format {fmt} applies to one submission; a folder's summary is text or json.")
    spec = _load_spec(spec_name)
    _check_course(course)
    _check_roster(roster)
    _check_adjustments(out)
    try:
        result = batch.grade_folder(folder, out, spec, seed=seed, jobs=jobs, pick=pick, force=force, quiet=quiet,
                                    similarity=similarity, make_pool=make_pool, gradebook=gradebook,
                                    assignment=assignment, course=course, roster=roster)
    except Refused as exc:
        click.echo(f"Not graded: {exc}\nReports finished before this are kept in {out}.", err=True)
        sys.exit(EXIT_REFUSED)
    except KeyboardInterrupt:
        done = len(list(out.glob("*.json")))
        click.echo(f"\nInterrupted. Finished reports are kept in {out} ({done} files); run the same command "
                   "again to grade the rest.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if not quiet:
        _say_missing_layers(result)
    if not result.submissions:
        click.echo(f"Not graded: no submission (.py or .ipynb, directly or in a sub-folder) in {shown or folder}; "
                   "nothing was graded.", err=True)
        sys.exit(EXIT_REFUSED)
    if result.pick_missed:
        ids = result.pick_missed
        click.echo(f"Warning: --pick {pick!r} matched none of the files of {len(ids)} student(s) "
                   f"({', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}); the usual rule chose their file.",
                   err=True)
    if fmt == "json":
        click.echo((out / "summary.json").read_text(), nl=False)
    else:
        click.echo(batch.render_summary(result, out, spec), nl=False)
        click.echo(_pages_line(out, result, gradebook))
        if result.similarity is not None:
            click.echo(_similarity_line(out, *result.similarity))
    _class_pages_said(out, result.problems, result.changes if fmt != "json" else None)
    if fail_under is not None:
        # the score that counts, as every view shows it (the grader's own when the pages could not be built)
        rows = (result.summary or {}).get("submissions") or [
            {"id": i, "score": r["score"], "max_score": r["max_score"]} for i, r in result.reports.items()]
        below = [r["id"] for r in rows if r.get("score") is not None
                 and _below(float(r["score"]), float(r["max_score"]), fail_under)]
        if below:
            click.echo(f"{len(below)} submission(s) scored below --fail-under {fail_under:g}%: "
                       f"{', '.join(below[:10])}{' ...' if len(below) > 10 else ''}.", err=True)
            sys.exit(EXIT_BELOW)


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


def _pool_maker(cluster: str | None, require: str | None):
    """What grades a folder's files: a Dask cluster's workers with --cluster, else forked local workers;
    either way, --require-isolation refuses workers whose children would lack a layer."""
    if cluster is None and require is None:
        return None
    from grader.sandbox import isolation
    from grader.course.policy import lacking, parse_layers

    try:
        required = parse_layers(require)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--require-isolation") from None
    if cluster is None:
        missing = lacking(isolation.plan().to_dict(), required)
        if missing:
            click.echo(f"Not graded: this machine's children would lack the isolation layer(s) "
                       f"{', '.join(missing)} that --require-isolation asks for; `grade doctor` says how to "
                       "add them.", err=True)
            sys.exit(EXIT_REFUSED)
        return None
    try:
        from grader.course.cluster import ClusterPool
    except ImportError as exc:
        raise click.UsageError(f"--cluster needs Dask ({exc}); install it with "
                               "`pip install 'rnn-grader[cluster]'` (or `pip install -e '.[cluster]'`).") from None

    return lambda _workers, spec, seed: ClusterPool(cluster, spec, seed, required)


def _inside(out: Path, folder: Path) -> bool:
    try:
        out, folder = out.resolve(), folder.resolve()
    except OSError:
        return False
    return out == folder or folder in out.parents


def _check_roster(roster: Path | None) -> None:
    """A roster is read before anything is graded: a mistake in it costs no batch."""
    from grader.course.roster import RosterProblem, read

    if roster is None:
        return
    try:
        read(roster)
    except RosterProblem as exc:
        raise click.BadParameter(str(exc), param_hint="--roster") from None


def _check_adjustments(out: Path) -> None:
    """OUTDIR/adjustments.csv without the columns it needs is refused before grading, never ignored."""
    from grader.course.adjustments import problem_with_columns

    problem = problem_with_columns(out)
    if problem:
        raise click.UsageError(problem)


def _check_course(course: Path | None) -> None:
    """A course file is read before anything is graded or written: a mistake in it costs no batch."""
    from grader.course.course_file import CourseFileProblem, load

    try:
        load(course)
    except CourseFileProblem as exc:
        raise click.BadParameter(str(exc), param_hint="--course") from None


def _pages_line(out: Path, result, gradebook: str | None) -> str:
    """Where the class pages (and the gradebook) are, and how many handed in late."""
    late = sum(1 for sub in result.submissions if getattr(sub, "late", False))
    line = f"The class: {out / 'index.html'} (a page per student in students/, feedback/ for the LMS)"
    if gradebook:
        line += f"; gradebook for {gradebook}: {out / 'gradebook.csv'}"
    if late:
        policy = "course.toml's late policy applied" if (out / "course.toml").is_file() else "no late policy given"
        line += f"; {late} handed in late ({policy})"
    return line + "."


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
@click.option("--course", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              metavar="COURSE.TOML",
              help="The course file (deadline, grace, late policy, [extensions]) to apply from now on: it "
                   "replaces OUTDIR/course.toml, which is applied when this is not given.")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              metavar="ROSTER.CSV", help="The class list (id, name[, email]) to use from now on: it replaces "
                                         "OUTDIR/roster.csv.")
def report_command(outdir: Path, gradebook: str | None, assignment: str | None, course: Path | None,
                   roster: Path | None):
    """Rebuild OUTDIR's summary, class pages and gradebook from its reports, without grading (after
    editing adjustments.csv, or with a new course file or roster).

    \b
    summary.csv and summary.json (score: the score that counts; grader_score: the grader's own),
    index.html (the class, for staff), students/ID.html (each student's view), feedback/ID.md (the
    same as plain text for a comment box), gradebook.csv: with --gradebook, or the one the batch or the
    last `grade report` wrote (OUTDIR/settings.json remembers --gradebook and --assignment). Yours:
    adjustments.csv (id, check or total, points, comment), course.toml (see --course), roster.csv."""
    from grader.course import overview
    from grader.course import roster as roster_file
    from grader.course.course_file import CourseFileProblem
    from grader.report import write_atomic

    _check_course(course)
    _check_roster(roster)
    _check_adjustments(outdir)
    try:
        if course is not None and (outdir / "summary.json").is_file():
            write_atomic(outdir / overview.COURSE, course.read_text(encoding="utf-8-sig"))
        if roster is not None and (outdir / "summary.json").is_file():
            write_atomic(outdir / roster_file.FILE, roster.read_text(encoding="utf-8-sig"))
        built = overview.build(outdir, gradebook, assignment, remember=True)
    except overview.NothingToShow as exc:
        raise click.UsageError(str(exc)) from None
    except CourseFileProblem as exc:
        raise click.UsageError(f"{exc} (OUTDIR's copy of the course file; fix it or pass --course)") from None
    except roster_file.RosterProblem as exc:
        raise click.UsageError(f"{exc} (OUTDIR's copy of the roster; fix it or pass --roster)") from None
    if not built.students:
        click.echo(f"Not built: {outdir} holds no report to show.", err=True)
        sys.exit(EXIT_REFUSED)
    _class_pages_said(outdir, built.problems, None)
    summary = built.summary
    click.echo(f"Wrote {outdir / 'index.html'} and a page per student who handed in "
               f"({summary.get('count', 0)}) in {outdir / 'students'}, feedback in {outdir / 'feedback'}, "
               f"summary.csv" + (f", {built.gradebook}" if built.gradebook else "") + ". "
               f"Mean score that counts {summary.get('mean_score', 0):.2f} / {summary.get('max_score', 0):g} "
               f"(the grader's own: {summary.get('grader_mean_score', 0):.2f}).")
