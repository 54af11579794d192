"""The course file: deadline, grace, late policy and the service's keys, with errors that name the key."""

import datetime as dt

import pytest

from grader.course.course_file import CourseFileProblem, LatePolicy, load

pytestmark = pytest.mark.unit


def write(tmp_path, text):
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


def test_defaults_take_nothing_off(tmp_path):
    course = load(None)
    assert course.days_late(dt.datetime(2030, 1, 1)) == 0
    assert course.late.apply(7.0, 10.0, 3.0) == (7.0, "handed in 3.0 days late; no points are taken off")


def test_ten_percent_per_started_day_and_zero_after_a_week(tmp_path):
    course = load(write(tmp_path, """
[assignment]
deadline = 2026-12-04T23:59:00Z
grace_minutes = 15
[late]
per_day = 0.1
zero_after_days = 7
"""))
    deadline = dt.datetime(2026, 12, 4, 23, 59, tzinfo=dt.timezone.utc)
    assert course.days_late(deadline + dt.timedelta(minutes=10)) == 0  # within the grace
    late = course.days_late(deadline + dt.timedelta(minutes=15, hours=25))
    assert late == pytest.approx(25 / 24)
    score, note = course.late.apply(8.0, 10.0, late)
    assert score == pytest.approx(6.0) and "20% of 10 points" in note
    assert course.late.apply(8.0, 10.0, 7.5)[0] == 0.0
    assert course.late.apply(1.0, 10.0, 3.0)[0] == 0.0  # never below 0


def test_zero_after_zero_days_means_late_scores_zero():
    assert LatePolicy(zero_after_days=0).apply(9.0, 10.0, 0.01)[0] == 0.0
    assert LatePolicy(zero_after_days=0).apply(9.0, 10.0, 0.0)[0] == 9.0


@pytest.mark.parametrize("text, words", [
    ("[late]\nper_day = 2\n", "per_day must be a number between 0 and 1"),
    ("[late]\nper_dya = 0.1\n", "[late] has no key per_dya"),
    ("[lateness]\n", "unknown table [lateness]"),
    ("[assignment]\ndeadline = \"friday\"\n", "deadline must be a date and time"),
    ("[service]\ncounts = \"worst\"\n", "counts must be \"best\" or \"last\""),
    ("[service\n", "not valid TOML"),
])
def test_mistakes_name_the_key(tmp_path, text, words):
    with pytest.raises(CourseFileProblem) as caught:
        load(write(tmp_path, text))
    assert words in str(caught.value)


def test_a_deadline_without_offset_is_utc(tmp_path):
    course = load(write(tmp_path, "[assignment]\ndeadline = 2026-12-04T12:00:00\n"))
    assert course.deadline == dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)


def test_an_extension_moves_only_that_students_deadline_wherever_a_time_is_known(tmp_path):
    """Issue 28 item 12: [extensions] is read where lateness is judged from a time (Moodle's worksheet,
    Gradescope's metadata, the service); a Canvas `_late_` mark without a time is Canvas's own verdict."""
    from grader.course import lateness

    path = tmp_path / "course.toml"
    path.write_text('[assignment]\ndeadline = 2026-12-04T23:59:00Z\n[late]\nper_day = 0.1\n'
                    '[extensions]\n12345 = 2026-12-08T23:59:00Z\n"ann@example.edu" = 2026-12-08T23:59:00Z\n')
    course = load(path)
    moodle_time = "2026-12-06T10:00:00+00:00"  # as read from Moodle's worksheet
    assert not lateness.assess({"id": "12345", "handed_in": moodle_time}, course).late
    assert not lateness.assess({"id": "ann@example.edu", "handed_in": moodle_time}, course).late
    other = lateness.assess({"id": "23456", "handed_in": moodle_time}, course)
    assert other.late and 1 < other.days < 2
    assert course.days_late(dt.datetime(2026, 12, 9, 0, 59, tzinfo=dt.timezone.utc), "12345") == pytest.approx(1 / 24)
    assert lateness.assess({"id": "12345", "late": "yes"}, course).late, "Canvas's own mark stands"
    path.write_text("[extensions]\n12345 = \"next week\"\n")
    with pytest.raises(CourseFileProblem, match=r"\[extensions\] 12345 must be a date and time"):
        load(path)
