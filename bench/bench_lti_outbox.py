"""What the LTI outbox costs the web process: `outbox.decide` for a class of N LTI students, against the
staff's gradebook request over the same class (`staff.gradebook_rows`, the baseline from the same run),
and `send_due` to a platform on 127.0.0.1 that answers at once.

    python bench/bench_lti_outbox.py [--students 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()
    from grader.serve.lti import outbox, services
    from grader.serve.lti.models import Identity, Target
    from grader.serve.service import Service, Settings
    from grader.serve.staff import gradebook_rows
    from grader.serve.store import Grading, Student, Submission

    report = json.loads(subprocess.run([sys.executable, "-m", "grader.cli", str(ROOT / "submissions_example" /
                                        "correct_vectorised.py"), "--format", "json"], capture_output=True,
                                       text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Settings(data=Path(tmp), dispatcher=False))
        service.open()
        now = dt.datetime.now(dt.timezone.utc)
        with service.make_session() as session, session.begin():
            for i in range(args.students):
                sid, key = f"s{i}", hashlib.sha256(str(i).encode()).hexdigest() + ".py"
                session.add(Student(id=sid, name=sid, token_hash=hashlib.sha256(sid.encode()).hexdigest()))
                session.flush()
                session.add(Submission(student_id=sid, key=key, filename="rnn.py", size=1, received_at=now))
                session.add(Grading(key=key, spec=service.spec.fingerprint, state="graded", score=report["score"],
                                    report=report, accepted_at=now, graded_at=now))
                who = Identity(issuer="https://lms", deployment_id="d", sub=f"u{i}", student_id=sid)
                session.add(who)
                session.flush()
                session.add(Target(identity_id=who.id, issuer="https://lms", client_id="c", lineitem="https://lms/li",
                                   sub=f"u{i}", student_id=sid))
        start = time.perf_counter()
        gradebook_rows(service)
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        written = outbox.decide(service)
        first = time.perf_counter() - start
        start = time.perf_counter()
        outbox.decide(service)
        again = time.perf_counter() - start

        class Config:
            def find(self, *_):
                return "registration"

        services.post_score = lambda *a: None  # the platform's time is not the tool's
        start = time.perf_counter()
        sent = outbox.send_due(service, Config(), None)
        sending = time.perf_counter() - start
        service.close()
    print(f"students {args.students}: gradebook {baseline:.3f} s; decide (writes {written}) {first:.3f} s "
          f"= {first / baseline:.2f}x the gradebook; decide again (nothing new) {again:.3f} s = "
          f"{again / baseline:.2f}x; send_due of {sent} rows (platform call excluded) {sending:.3f} s")


if __name__ == "__main__":
    main()
