"""The durable grading queue: a submission is stored and committed (`accept`) before the student is told
it was received; a dispatcher process (`run_dispatcher`) claims accepted gradings, grades them in the
batch's worker pool (each worker forks its children from its own zygote) and records each result once.

States of a grading (one per distinct content and spec): accepted -> grading -> graded. A restart puts
every `grading` back to `accepted` (the dispatcher that claimed it is gone), so a kill -9 loses nothing;
the result is written only while the row is still `grading`, and the row's key is unique, so a content
is in the gradebook exactly once. Identical bytes share one grading.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.course.batch import placeholder_report
from grader.course.pool import Pool
from grader.serve.store import Grading, Submission, file_path, now, save_bytes

RETRIES = 3  # a content whose worker died this many times gets an `error` report instead of a fourth try


class Refused(Exception):
    """Why an upload was not accepted, in words for the student."""


def attempts_in_last_hour(session: Session, student: str, spec: str | None = None) -> int:
    """The student's attempts of the last hour; with `spec`, not those the grader failed on (status
    `error`, "not your fault"): a grader error never uses up an attempt."""
    since = now() - dt.timedelta(hours=1)
    query = (select(func.count()).select_from(Submission)
             .where(Submission.student_id == student, Submission.received_at > since))
    if spec is not None:
        failed = select(Grading.key).where(Grading.spec == spec, Grading.status == "error")
        query = query.where(Submission.key.not_in(failed))
    return session.scalar(query) or 0


def over_limit(student: str, limit: int) -> str:
    return (f"You have handed in {limit} times in the last hour, the most this course allows; "
            "try again later (your earlier attempts are kept).")


def accept(make_session: sessionmaker, data: Path, student: str, content: bytes, suffix: str, filename: str,
           spec: str, course, limit: int | None = None, sha256: str | None = None) -> Submission:
    """Count the student's attempts, then store the bytes and commit the submission and (for new content)
    its grading; raise Refused, with nothing written, when the student is over the limit of attempts
    per hour. Returns the committed submission."""
    received = now()
    with make_session() as session, session.begin():
        if limit is not None and attempts_in_last_hour(session, student, spec) >= limit:
            raise Refused(over_limit(student, limit))
        key = save_bytes(data, content, suffix, sha256)  # on disk (fsync'd) before the row that names it
        sub = Submission(student_id=student, key=key, filename=filename, size=len(content), received_at=received,
                         days_late=course.days_late(received))
        session.add(sub)
        _insert_grading(session, key, spec, received)
    return sub


def _insert_grading(session: Session, key: str, spec: str, when: dt.datetime) -> None:
    """A grading row for this content unless one exists (insert ... on conflict do nothing)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(Grading).values(key=key, spec=spec, state="accepted", claims=0, graded=0,
                                           accepted_at=when).on_conflict_do_nothing())


def enqueue_all(make_session: sessionmaker, spec: str) -> int:
    """A grading by this spec for every content ever submitted (a regrade after a pack change)."""
    with make_session() as session, session.begin():
        keys = set(session.scalars(select(Submission.key).distinct()))
        for key in keys:
            _insert_grading(session, key, spec, now())
    return len(keys)


def requeue(make_session: sessionmaker) -> int:
    """Every grading a dead dispatcher had claimed goes back to the queue."""
    with make_session() as session, session.begin():
        return session.execute(update(Grading).where(Grading.state == "grading").values(state="accepted")).rowcount


def claim(make_session: sessionmaker, spec: str, count: int) -> list[str]:
    """Up to `count` accepted contents, oldest first, now `grading`."""
    with make_session() as session, session.begin():
        keys = list(session.scalars(select(Grading.key).where(Grading.spec == spec, Grading.state == "accepted")
                                    .order_by(Grading.accepted_at).limit(count).with_for_update(skip_locked=True)))
        if keys:
            session.execute(update(Grading).where(Grading.spec == spec, Grading.key.in_(keys),
                                                  Grading.state == "accepted")
                            .values(state="grading", claims=Grading.claims + 1))
    return keys


def finish(make_session: sessionmaker, spec: str, key: str, report: dict) -> bool:
    """Record the result, only if this grading is still claimed; False when it was not (already done)."""
    with make_session() as session, session.begin():
        done = session.execute(update(Grading).where(Grading.spec == spec, Grading.key == key,
                                                     Grading.state == "grading")
                               .values(state="graded", report=report, score=float(report["score"]),
                                       status=report.get("status"), graded=Grading.graded + 1,
                                       graded_at=now())).rowcount
    return bool(done)


def retry_or_fail(make_session: sessionmaker, spec_obj, key: str, why: str) -> None:
    """A worker died on this content: back to the queue, or after RETRIES an `error` report."""
    spec = spec_obj.fingerprint
    with make_session() as session, session.begin():
        row = session.get(Grading, (key, spec))
        if row is None or row.state != "grading":
            return
        if row.claims < RETRIES:
            row.state = "accepted"
            return
    report = placeholder_report(spec_obj, spec_obj.seed, f"submission{Path(key).suffix}", key.split(".")[0],
                                f"the grader failed on this submission ({why}); this is not your fault: "
                                "course staff have been told", "error").to_dict()
    finish(make_session, spec, key, report)


class ServePool(Pool):
    """The batch's pool, fed one job at a time as jobs arrive instead of from a fixed list."""

    def idle(self) -> list[dict]:
        return [w for w in self.workers if w["job"] is None]

    def give(self, worker: dict, job: tuple[str, str, str]) -> None:
        worker["job"] = job
        worker["conn"].send(job)

    def results(self, timeout: float) -> list[tuple[str, dict]]:
        """What finished within `timeout`: (key, report dict or {"error": why})."""
        if not any(w["job"] for w in self.workers):
            time.sleep(timeout)
            return []
        return self.finished(timeout)


def run_dispatcher(data: Path, url: str, spec, jobs: int, stop=None) -> None:
    """Grade what is accepted, forever (or until `stop()` is true and nothing is in flight)."""
    from sqlalchemy.orm import sessionmaker as maker

    from grader.sandbox.reaping import become_subreaper
    from grader.serve.store import engine_for

    become_subreaper()
    engine = engine_for(url)
    make_session = maker(engine, expire_on_commit=False)
    requeue(make_session)
    pool = ServePool(jobs, spec, spec.seed)
    try:
        while True:
            idle = [] if stop is not None and stop() else pool.idle()
            if idle:
                for worker, key in zip(idle, claim(make_session, spec.fingerprint, len(idle))):
                    pool.give(worker, (key, str(file_path(data, key)), f"submission{Path(key).suffix}"))
            if stop is not None and stop() and not any(w["job"] for w in pool.workers):
                break
            for key, result in pool.results(0.05):
                if "error" in result:
                    retry_or_fail(make_session, spec, key, result["error"])
                else:
                    finish(make_session, spec.fingerprint, key, result)
    finally:
        pool.close()
        engine.dispose()


def pending(make_session: sessionmaker, spec: str) -> int:
    """How many gradings by this spec are not graded yet."""
    with make_session() as session:
        return session.scalar(select(func.count()).select_from(Grading)
                              .where(Grading.spec == spec, Grading.state != "graded")) or 0


def die_with_parent(parent: int) -> None:
    """The dispatcher ends when `grade serve` does (even by kill -9): a restart starts a new one."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent:
        os._exit(0)
