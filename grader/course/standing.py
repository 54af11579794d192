"""The score that counts: one function from a report's score, staff's adjustments and the late policy
(with the student's own deadline from `[extensions]`) to plain numbers, which every view shows (the
batch's stdout, summary.csv, summary.json, index.html, the student's page and feedback, the gradebook,
and the service's pages and API). The order: staff's adjustments to checks (a correction of the
grading), then the late policy on that total, then staff's `total` adjustments (their last word: an
extension given late can give back what the policy took), kept within 0 and the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.course.course_file import UNKNOWN_DAYS, CourseFile
from grader.course.lateness import Lateness

# What each number is called, wherever a person reads it (column names and their meaning).
COLUMNS = {
    "score": "the score that counts: the grader's, after staff's adjustments and the late policy",
    "grader_score": "the grader's own score, before adjustments and the late policy",
    "adjusted": "staff's adjustments, in points (checks and total)",
    "late_penalty": "points the late policy took off",
}


@dataclass(frozen=True)
class Standing:
    grader_score: float
    max_score: float
    score: float  # the score that counts
    adjusted: float = 0.0  # staff's net adjustment, in points, as it landed (after each check's limits)
    late_penalty: float = 0.0  # points the late policy took off
    late_sentence: str = ""  # what the late policy did, in the student's words; empty when on time
    checks: dict = field(default_factory=dict)  # each check's points after staff's corrections
    capped: bool = False  # staff's total adjustments went past the maximum (or below 0) and were held there

    def numbers(self) -> dict:
        """The plain values a summary row or an API answer carries."""
        return {"score": self.score, "grader_score": self.grader_score, "adjusted": self.adjusted,
                "late_penalty": self.late_penalty}

    def words(self) -> str:
        """One line for a person: the score that counts and how it came about."""
        parts = [f"the grader's {self.grader_score:g}"]
        if self.adjusted:
            parts.append(f"staff {self.adjusted:+g}")
        if self.late_penalty:
            parts.append(f"late policy -{self.late_penalty:g}")
        return f"{self.score:g} / {self.max_score:g}" + (f" ({', '.join(parts)})" if len(parts) > 1 else "")


def standing(report: dict, adjustments: list, late: Lateness, course: CourseFile) -> Standing:
    """The score that counts for one report (see the module's docstring for the order)."""
    most = float(report["max_score"])
    grader = float(report["score"])
    scores = {t["name"]: float(t["score"]) for t in report["tests"]}
    limits = {t["name"]: float(t["max_score"]) for t in report["tests"]}
    bonus = 0.0
    for a in adjustments:
        if a.check == "total":
            bonus += a.points
        elif a.check in scores:
            scores[a.check] = min(max(scores[a.check] + a.points, 0.0), limits[a.check])
    corrected = sum(scores.values())
    days = None if late.late and late.days is None else (late.days or 0.0) if late.late else 0.0
    penalty = course.late.taken(corrected, most, UNKNOWN_DAYS if days is None else days) if late.late else 0.0
    raw = corrected - penalty + bonus
    score = round(min(max(raw, 0.0), most), 6)
    return Standing(grader_score=grader, max_score=most, score=score,
                    adjusted=round(score + penalty - grader, 6) if adjustments else 0.0,
                    late_penalty=round(penalty, 6),
                    late_sentence=course.late.words(most, days) if late.late else "",
                    checks=scores, capped=abs(raw - score) > 1e-9)
