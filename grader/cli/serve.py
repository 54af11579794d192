"""`grade serve`: the grading service students hand in to (grader/serve/). One command; the course file
says the rest (deadline, late policy, which attempt counts, limits)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from grader.cli.group import main, pack_option


@main.command("serve")
@click.option("--course", "course", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="course.toml: deadline, grace, late policy, [service] counts, attempts_per_hour, upload_bytes.")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False), default=Path("grader-data"),
              show_default=True, help="Folder for the database (SQLite), the handed-in files and the class pages.")
@click.option("--db", "url", default=None, envvar="GRADER_DATABASE_URL", metavar="URL",
              help="A database URL instead of SQLite in --data, e.g. postgresql+psycopg://... "
                   "(or GRADER_DATABASE_URL).")
@click.option("--spec", "spec_name", default=None, metavar="ID", help="The assignment (default: the pack's default).")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Roster CSV (id, name): each new student gets a sign-in link, written to DATA/links.csv.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--base-url", default=None, help="The address students open (for the links; default http://HOST:PORT).")
@click.option("--forwarded-allow-ips", "proxies", default=None, envvar="GRADER_FORWARDED_ALLOW_IPS", metavar="IPS",
              help="The reverse proxy's address(es), comma-separated (e.g. 127.0.0.1): only from them are "
                   "X-Forwarded-For and X-Forwarded-Proto believed. Default: none, from anyone.")
@click.option("--jobs", "-j", type=int, default=None, help="Grading workers (default: the number of cores).")
@click.option("--lti", "lti_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="LTI 1.3 tool configuration (pylti1p3's JSON; see docs/lti.md): launches and grades back.")
@pack_option
def serve(course, data, url, spec_name, roster, host, port, base_url, proxies, jobs, lti_file):
    """Run the grading service: students hand in, read feedback; staff see the class live.

    \b
    GRADER_STAFF_TOKEN=... grade serve --course course.toml --roster roster.csv
    Students open the links in DATA/links.csv; staff open http://HOST:PORT/staff/signin and type the token.
    On the internet, put it behind a TLS proxy (docs/deploy.md).
    """
    try:
        import uvicorn

        from grader.serve import tokens
        from grader.serve.app import create_app
        from grader.serve.service import Settings
    except ImportError as exc:
        raise click.UsageError(f"grade serve needs the service's extra: pip install 'rnn-grader[serve]' "
                               f"({exc.name} is missing).") from None
    from grader.course.course_file import CourseFileProblem
    from grader.judge import spec as specs

    if tokens.staff_token() is None:
        click.echo(f"Note: {tokens.STAFF_VARIABLE} is not set (or shorter than 16 characters): staff pages are "
                   "closed until it is.", err=True)
    settings = Settings(data=data, url=url, spec=spec_name or "", course_file=course,
                        jobs=jobs or os.cpu_count() or 1, base_url=base_url or f"http://{host}:{port}")
    try:
        app = create_app(settings)
    except CourseFileProblem as exc:
        raise click.BadParameter(str(exc), param_hint="--course") from None
    except specs.SpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--spec") from None
    service = app.state.service
    from grader import student_ids
    from grader.serve import classroom

    clashing = [sid for sid, _ in classroom.roster(service.make_session) if student_ids.reserved(sid)]
    if clashing:  # added before the rule: their reports would overwrite the class's own files
        click.echo(f"Note: the id(s) {', '.join(clashing)} name files of the class folder (summary.json, ...), so "
                   "the staff overview and the gradebook fail once they hand in: rename them in the database.",
                   err=True)
    lti = _lti(app, service, lti_file) if lti_file is not None else None
    if roster is not None:
        try:
            issued = tokens.issue(service.make_session, tokens.read_roster(roster.read_text(encoding="utf-8-sig")))
        except tokens.RosterProblem as exc:
            service.close()
            raise click.BadParameter(str(exc), param_hint="--roster") from None
        links = data / "links.csv"
        tokens.keep_links(data, issued, settings.base_url)  # whole or not at all; staff's eyes only
        click.echo(f"{len(issued)} new sign-in link(s) in {links} (students already known keep theirs).", err=True)
    click.echo(f"Serving {service.spec.id} on http://{host}:{port}/ (data in {data}).", err=True)
    try:
        from grader.serve import connections

        connections.enough_files()
        # no access log: a sign-in link's token is in its URL
        options = connections.uvicorn_options(proxies)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, **options)
    finally:
        if lti is not None:
            lti.close()
        service.close()
    sys.exit(0)


def _lti(app, service, path: Path):
    try:
        from grader.serve.lti.config import ConfigProblem
        from grader.serve.lti.routes import enable
    except ImportError as exc:
        service.close()
        raise click.UsageError(f"--lti needs the service's extra: pip install 'rnn-grader[serve]' "
                               f"({exc.name} is missing).") from None
    try:
        return enable(app, service, path)
    except ConfigProblem as exc:
        service.close()
        raise click.BadParameter(str(exc), param_hint="--lti") from None
