"""The scores that go back to the platforms, durably: `decide` compares each LTI student's score that
counts (the gradebook's: adjustments and the late policy applied, `staff.gradebook_rows`) with the
last one written for their line item and writes a new outbox row when it differs; `send_due` sends
the newest pending row of each line item, retried with backoff until the platform takes it.

Why nothing is lost: the outbox is derived from what the database and the class folder already hold
(committed gradings, adjustments.csv, the course file in force), and `decide` runs at every start and
after every change, so a crash between grading and sending, or while sending, leaves a difference that
the next pass writes or a pending row that the next pass sends. Why nothing is sent wrong: a row's
value and timestamp are fixed when it is written; only a line item's newest row is ever sent (older
pending ones are superseded first, in one transaction), one loop decides and sends, and AGS platforms
keep the score with the latest timestamp, so a retry of a row already taken changes nothing."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import func, select, update

from grader.serve.lti.models import Score, Target
from grader.serve.store import Grading, Submission, now

BACKOFF = (1, 2, 4, 8, 15, 30, 60, 120, 300)  # seconds before the next try, by the number of tries
log = logging.getLogger("grader.lti")


def counted_scores(service) -> dict[str, tuple[float, float]]:
    """{student id: (score that counts, most)}: the gradebook's own rows, so the platform gets what
    gradebook.csv says; nothing for a student with no hand-in, nor for one the grader could not score
    (status `error`: its blank cell is not a zero)."""
    from grader.serve.staff import gradebook_rows

    return {row["id"]: (float(row["score"]), float(row["max_score"])) for row in gradebook_rows(service)
            if row["score"] is not None and row["status"] != "error"}


def _stamp(previous: str | None) -> str:
    """Now, ISO 8601 in UTC with microseconds, and later than the line item's previous timestamp."""
    moment = now()
    if previous:
        last = dt.datetime.fromisoformat(previous)
        if moment <= last:
            moment = last + dt.timedelta(microseconds=1)
    return moment.isoformat(timespec="microseconds")


def decide(service) -> int:
    """Write a pending row for every line item whose counted score differs from its last row's.
    Returns how many were written."""
    with service.make_session() as session:
        targets = list(session.scalars(select(Target)))
    if not targets:
        return 0
    scores = counted_scores(service)
    written = 0
    with service.make_session() as session, session.begin():
        for target in targets:
            if target.student_id not in scores:
                continue
            given, most = scores[target.student_id]
            last = session.scalar(select(Score).where(Score.target_id == target.id).order_by(Score.id.desc()).limit(1))
            if last is not None and (last.score_given, last.score_maximum) == (given, most):
                continue
            session.execute(update(Score).where(Score.target_id == target.id, Score.state == "pending")
                            .values(state="superseded"))
            session.add(Score(target_id=target.id, score_given=given, score_maximum=most, state="pending", tries=0,
                              timestamp=_stamp(last.timestamp if last else None), next_at=now(), error="",
                              created_at=now()))
            written += 1
    return written


def send_due(service, config, tokens) -> int:
    """Send every pending row whose time has come; returns how many the platforms took."""
    from grader.serve.lti import services

    with service.make_session() as session:
        due = list(session.execute(select(Score, Target).join(Target, Target.id == Score.target_id)
                                   .where(Score.state == "pending", Score.next_at <= now()).order_by(Score.id)))
    taken = 0
    for row, target in due:  # each row on its own: one that cannot be sent never holds up the others
        reg = config.find(target.issuer, target.client_id)
        try:
            if reg is None:
                raise services.PlatformError(f"{target.issuer} ({target.client_id}) is no longer in lti.json")
            with service.make_session() as session:  # a newer row of this line item supersedes this one
                newest = session.scalar(select(func.max(Score.id)).where(Score.target_id == target.id))
            if newest != row.id:
                _set(service, row.id, state="superseded")
                continue
            services.post_score(tokens, reg, target.lineitem, target.sub, row.score_given, row.score_maximum,
                                row.timestamp)
        except services.Unsendable as exc:
            _failed(service, row, target, str(exc))
            continue
        except services.PlatformError as exc:
            wait = BACKOFF[min(row.tries, len(BACKOFF) - 1)]
            log.warning("score for %s not sent (try %d, again in %d s): %s", target.student_id, row.tries + 1,
                        wait, exc)
            _set(service, row.id, tries=row.tries + 1, error=str(exc)[:300], next_at=now() + dt.timedelta(seconds=wait))
            continue
        except Exception as exc:  # noqa: BLE001 - a row this code cannot send: failed, with the reason
            _failed(service, row, target, f"{type(exc).__name__}: {exc}")
            continue
        _set(service, row.id, state="sent", sent_at=now(), error="")
        taken += 1
    return taken


def _failed(service, row: Score, target: Target, reason: str) -> None:
    log.error("score for %s can never be sent to %r: %s", target.student_id, target.lineitem[:200], reason)
    _set(service, row.id, state="failed", tries=row.tries + 1, error=reason[:300])


def _set(service, row_id: int, **values) -> None:
    with service.make_session() as session, session.begin():
        session.execute(update(Score).where(Score.id == row_id, Score.state == "pending").values(**values))


def status(service) -> dict:
    """Rows by state; each pending or failed row's tries and last error; each membership service's."""
    from grader.serve.lti.models import Membership

    with service.make_session() as session:
        states = dict(session.execute(select(Score.state, func.count()).group_by(Score.state)).all())
        waiting = session.execute(select(Score, Target).join(Target, Target.id == Score.target_id)
                                  .where(Score.state.in_(("pending", "failed"))).order_by(Score.id).limit(200)).all()
        services = list(session.scalars(select(Membership).limit(200)))

    def view(r, t):
        return {"student": t.student_id, "lineitem": t.lineitem, "score": r.score_given, "tries": r.tries,
                "error": r.error, "timestamp": r.timestamp}

    return {"states": states, "pending": [view(r, t) for r, t in waiting if r.state == "pending"],
            "failed": [view(r, t) for r, t in waiting if r.state == "failed"],
            "memberships": [{"url": m.url, "read_at": m.read_at.isoformat() if m.read_at else None, "error": m.error}
                            for m in services]}


def changes(service) -> tuple:
    """A cheap fingerprint of what a counted score depends on: gradings, hand-ins, adjustments, targets."""
    from grader.course.adjustments import FILE

    with service.make_session() as session:
        graded = session.execute(select(func.count(), func.max(Grading.graded_at))
                                 .where(Grading.state == "graded")).one()
        handed = session.scalar(select(func.max(Submission.id)))
        targets = session.scalar(select(func.count()).select_from(Target))
    path = service.out / FILE
    adjusted = path.stat().st_mtime_ns if path.is_file() else 0
    return tuple(graded), handed, targets, adjusted, service.spec.fingerprint


class Sender:
    """The background loops: one decides after every change (and at start) and sends what is due; the
    other reads the rosters, so a slow membership service never holds up a score (each platform call
    is bounded by a wall-clock deadline, services.fetch)."""

    def __init__(self, service, config, tokens, roster=None, every: float = 0.5, settle: float = 2.0):
        self.service, self.config, self.tokens, self.roster, self.every = service, config, tokens, roster, every
        self.settle = settle  # seconds between two decisions: a deadline burst is one class refresh, not hundreds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="lti-outbox", daemon=True)
        self.roster_thread = threading.Thread(target=self.read_rosters, name="lti-roster", daemon=True)

    def start(self) -> None:
        self.thread.start()
        if self.roster is not None:
            self.roster_thread.start()

    def read_rosters(self) -> None:
        while not self.stop.is_set():
            try:
                self.roster()
            except Exception:  # a roster that cannot be read never stops the next reading
                log.exception("reading the LTI membership services failed")
            self.stop.wait(max(self.every, 1.0))

    def run(self) -> None:
        import time

        seen, decided = None, 0.0
        while not self.stop.is_set():
            try:
                current = changes(self.service)
                if current != seen and time.monotonic() - decided >= self.settle:
                    decided = time.monotonic()
                    decide(self.service)
                    seen = current
                send_due(self.service, self.config, self.tokens)
            except Exception:  # a bad pass is retried on the next; the loop never ends on its own
                log.exception("the LTI outbox pass failed")
                seen = None
            self.stop.wait(self.every)

    def close(self) -> None:
        self.stop.set()
        for thread in (self.thread, self.roster_thread):
            if thread.is_alive():
                thread.join(timeout=15)
