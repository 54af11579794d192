"""Regrade all after a pack change: staff change the pack (here a check is worth one point more), ask
for a regrade, and every content is graded again by the new spec; the changes list says who moved, by
how much, on which check; the student's page shows the new score."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from serve_support import EXAMPLES, STAFF, client_for, feedback, hand_in, score_on

pytestmark = pytest.mark.slow
ROOT = EXAMPLES.parent


def test_regrade_all_after_a_pack_change_lists_what_moved(tmp_path, monkeypatch):
    pytest.importorskip("fastapi")
    pack = tmp_path / "pack"
    for folder in ("specs", "reference", "support"):
        shutil.copytree(ROOT / folder, pack / folder)
    monkeypatch.setenv("GRADER_PACK", str(pack))
    monkeypatch.setenv("GRADER_STAFF_TOKEN", STAFF)
    from grader.serve import tokens
    from grader.serve.app import create_app
    from grader.serve.service import Settings

    app = create_app(Settings(data=tmp_path / "data", spec="rnn-seq2one", jobs=1))
    try:
        issued = tokens.issue(app.state.service.make_session, [("dora", "")])
        dora = client_for(app, issued["dora"])
        url = str(hand_in(dora, "rnn.py", (EXAMPLES / "correct_vectorised.py").read_bytes()).url)
        assert score_on(feedback(dora, url)) == "10 / 10"
        path = pack / "specs" / "rnn-seq2one.json"
        spec = json.loads(path.read_text())
        forward = next(c for c in spec["checks"] if c["name"] == "forward_values")
        forward["points"] += 1
        path.write_text(json.dumps(spec, indent=2))
        api, headers = client_for(app), {"Authorization": f"Bearer {STAFF}"}
        assert api.post("/api/regrade", headers=headers).json()["regrading"] == 1
        deadline = time.monotonic() + 120
        while api.get("/api/status", headers=headers).json()["gradings"] != {"graded": 1}:
            assert time.monotonic() < deadline, "the regrade did not finish"
            time.sleep(0.2)
        changes = api.get("/api/changes", headers=headers).json()["changes"]
        assert changes == [{"id": "dora", "before": "10", "after": "11", "change": "+1", "checks": "forward_values +1"}]
        assert score_on(dora.get(url).text) == "11 / 11"
    finally:
        app.state.service.close()
