"""The LTI outbox alone (no platform, no server): what is decided, what is sent, in which order, and
who a platform user is. The score source and the platform call are replaced by recorders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("jwt", reason="the [serve] extra is part of [test]: pip install -e '.[test]'")

from grader.serve.lti import outbox, people, services  # noqa: E402
from grader.serve.lti.models import Identity, Score, Target  # noqa: E402
from grader.serve.store import Student, open_store  # noqa: E402
from test_serve_postgres import postgres  # noqa: E402,F401  (a PostgreSQL server, or the test is skipped)

pytestmark = pytest.mark.unit  # on SQLite; the same tests on PostgreSQL start a server (skipped without one)


@dataclass
class Spec:
    fingerprint: str = "f" * 64


@dataclass
class FakeService:
    make_session: object
    out: Path
    spec: Spec


class Config:
    def find(self, issuer, client_id):
        return "registration" if issuer == "https://lms" else None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database(request):
    """None (SQLite in the data folder), or a fresh database on the PostgreSQL server the serve tests start."""
    if request.param == "sqlite":
        yield None
        return
    import uuid

    from sqlalchemy import create_engine, text

    server = request.getfixturevalue("postgres")
    name = f"lti_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield server.replace("@/postgres?", f"@/{name}?")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def world(tmp_path, monkeypatch, database):
    _engine, make_session = open_store(tmp_path / "data", database)
    service = FakeService(make_session, tmp_path / "data" / "class", Spec())
    with make_session() as session, session.begin():
        session.add(Student(id="alice", name="Alice", token_hash="0" * 64))
        session.flush()
        who = Identity(issuer="https://lms", deployment_id="d", sub="u1", student_id="alice")
        session.add(who)
        session.flush()
        session.add(Target(identity_id=who.id, issuer="https://lms", client_id="c", lineitem="https://lms/li/1",
                           sub="u1", student_id="alice"))
    scores = {}
    sent, down = [], []
    monkeypatch.setattr(outbox, "counted_scores", lambda _service: dict(scores))

    def post(_tokens, _reg, lineitem, sub, given, most, stamp):
        if "[" in lineitem:
            raise services.Unsendable(f"the line item {lineitem!r} is not a URL")
        if down:
            raise services.PlatformError("the platform is away")
        sent.append((sub, given, most, stamp))

    monkeypatch.setattr(services, "post_score", post)
    return service, scores, sent, down


def rows(service):
    with service.make_session() as session:
        return [(r.score_given, r.state) for r in session.query(Score).order_by(Score.id)]


def due_now(service):
    from sqlalchemy import update

    with service.make_session() as session, session.begin():
        session.execute(update(Score).values(next_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))


def test_a_score_is_written_once_per_change_and_sent_once(world):
    service, scores, sent, _down = world
    scores["alice"] = (7.0, 10.0)
    assert outbox.decide(service) == 1
    assert outbox.decide(service) == 0  # unchanged: nothing new
    assert outbox.send_due(service, Config(), None) == 1
    assert outbox.send_due(service, Config(), None) == 0
    assert [s[:3] for s in sent] == [("u1", 7.0, 10.0)]
    assert rows(service) == [(7.0, "sent")]


def test_a_newer_score_supersedes_an_unsent_one_which_is_never_sent(world):
    service, scores, sent, down = world
    scores["alice"] = (5.0, 10.0)
    outbox.decide(service)
    down.append(True)
    outbox.send_due(service, Config(), None)  # refused: retried later
    scores["alice"] = (9.0, 10.0)
    outbox.decide(service)
    down.clear()
    due_now(service)
    outbox.send_due(service, Config(), None)
    assert [s[1] for s in sent] == [9.0]
    assert rows(service) == [(5.0, "superseded"), (9.0, "sent")]


def test_a_refused_send_waits_longer_each_time_and_keeps_its_value_and_timestamp(world):
    service, scores, sent, down = world
    scores["alice"] = (6.0, 10.0)
    outbox.decide(service)
    down.append(True)
    waits, stamps = [], set()
    for _ in range(3):
        due_now(service)
        before = dt.datetime.now(dt.timezone.utc)
        outbox.send_due(service, Config(), None)
        with service.make_session() as session:
            row = session.query(Score).one()
            at = row.next_at if row.next_at.tzinfo else row.next_at.replace(tzinfo=dt.timezone.utc)
            waits.append((at - before).total_seconds())
            stamps.add(row.timestamp)
            assert row.state == "pending" and "away" in row.error
    assert waits[0] < waits[1] < waits[2] and len(stamps) == 1
    down.clear()
    due_now(service)
    outbox.send_due(service, Config(), None)
    assert sent == [("u1", 6.0, 10.0, stamps.pop())]


def test_timestamps_of_a_line_item_always_increase(world):
    service, scores, sent, _down = world
    for value in (1.0, 2.0, 3.0, 4.0):
        scores["alice"] = (value, 10.0)
        outbox.decide(service)
        outbox.send_due(service, Config(), None)
    stamps = [s[3] for s in sent]
    assert [s[1] for s in sent] == [1.0, 2.0, 3.0, 4.0]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4


def test_a_student_without_a_counted_score_is_not_sent_anything(world):
    service, _scores, sent, _down = world
    assert outbox.decide(service) == 0 and outbox.send_due(service, Config(), None) == 0 and sent == []


def test_a_sourcedid_is_never_an_id_and_each_identity_has_its_own_student(world):
    service, *_ = world
    make = service.make_session
    first = people.remember(make, "https://lms", "d", "u2", "Mallory", [], False, sourcedid="alice")
    other_deployment = people.remember(make, "https://lms", "d2", "u2", "Mallory", [], False, sourcedid="alice")
    again = people.remember(make, "https://lms", "d", "u2", "Mallory", [], False, sourcedid="alice")
    assert first.student_id == again.student_id and first.id == again.id
    assert len({"alice", first.student_id, other_deployment.student_id}) == 3
    assert first.student_id.startswith("lti-") and len(first.student_id) == 24
    staff = people.remember(make, "https://lms", "d", "t1", "Teacher", [], True)
    assert staff.student_id is None


def test_two_first_launches_at_once_make_one_identity(world):
    from concurrent.futures import ThreadPoolExecutor

    service, *_ = world
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: people.remember(service.make_session, "https://lms", "d", "race", "R", [],
                                                       False), range(16)))
    assert len({m.id for m in made}) == 1 and len({m.student_id for m in made}) == 1
    with service.make_session() as session:
        assert session.query(Identity).filter_by(sub="race").count() == 1


def test_a_row_that_can_never_be_sent_is_failed_and_the_others_are_sent(world):
    service, scores, sent, _down = world
    with service.make_session() as session, session.begin():
        session.add(Student(id="bob", name="Bob", token_hash="1" * 64))
        session.flush()
        who = Identity(issuer="https://lms", deployment_id="d", sub="u3", student_id="bob")
        session.add(who)
        session.flush()
        first = Target(identity_id=who.id, issuer="https://lms", client_id="c", lineitem="http://[bad",
                       sub="u3", student_id="bob")
        session.add(first)
    scores["bob"], scores["alice"] = (3.0, 10.0), (8.0, 10.0)
    outbox.decide(service)
    outbox.send_due(service, Config(), None)
    assert [s[:2] for s in sent] == [("u1", 8.0)]
    assert sorted(rows(service)) == [(3.0, "failed"), (8.0, "sent")]
    assert "not a URL" in outbox.status(service)["failed"][0]["error"]


def test_logins_in_flight_are_bounded_and_a_flood_never_refuses_someone_else():
    """F11 (the store alone): one address keeps `per_address` logins in flight, past it its own oldest is
    dropped (round 2, F8: refusing the new one locked a whole NAT out for ten minutes); past `most` the
    oldest of all is dropped, so a flood from many addresses never refuses a new login."""
    import time

    from grader.serve.lti.launch import Logins, Pending

    def login(address):
        return Pending("n", "https://lms", "c", "https://tool/lti/launch", address, time.monotonic())

    logins = Logins(most=100, per_address=10)
    for i in range(10):
        logins.add(f"flood-{i}", login("10.0.0.1"))
    logins.add("classmate", login("10.0.0.1"))  # the same NAT: kept, its address's oldest dropped
    assert logins.count["10.0.0.1"] == 10 and logins.take("flood-0") is None
    assert logins.take("classmate").address == "10.0.0.1"
    for i in range(1000):  # many addresses
        logins.add(f"spread-{i}", login(f"10.1.{i // 250}.{i % 250}"))
    assert len(logins.pending) == 100 and sum(logins.count.values()) == 100
    logins.add("real", login("192.0.2.7"))
    assert logins.take("real").address == "192.0.2.7" and logins.take("real") is None  # used once


def test_the_logins_redirect_uri_follows_the_base_url_not_the_host_header():
    """Red team round 2 (F10): the redirect_uri sent to the platform came from the request's Host header;
    with --base-url it is the tool's own origin, whatever Host the client sent."""
    from types import SimpleNamespace

    from grader.serve.lti.routes import origin

    request = SimpleNamespace(url=SimpleNamespace(scheme="http", netloc="evil.example"))
    configured = SimpleNamespace(settings=SimpleNamespace(base_url="https://grader.example.edu/course/"))
    assert origin(request, configured) == "https://grader.example.edu"
    unset = SimpleNamespace(settings=SimpleNamespace(base_url=None))
    assert origin(request, unset) == "http://evil.example"  # no base URL: the request's (as before)
