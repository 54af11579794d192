"""A generated class: N submissions built from the examples, named the way course platforms name them.

Each submission is an example file (correct, single-bug or hostile) with a line of its own appended, so
no two are identical unless asked for; `expected` maps each submission's id to the example it came
from, whose failing checks submissions_example/expectations.json lists.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "submissions_example"


def example_names() -> dict[str, list[str]]:
    names = sorted(json.loads((EXAMPLES / "expectations.json").read_text()))
    names = [n for n in names if n.endswith(".py")]
    return {"correct": [n for n in names if n.startswith("correct")],
            "mutant": [n for n in names if n.startswith(("mutant", "seed"))],
            "hostile": [n for n in names if n.startswith("hostile")]}


def make_class(folder: Path, n: int, hostile_share: float = 0.1, duplicates: int = 0, seed: int = 0,
               hostile: list[str] | None = None) -> dict[str, str]:
    """Write n submissions into folder; return {submission id: example file name}.

    About half of the non-hostile ones are correct and half carry one bug. Names rotate through a
    plain file, a Canvas download (`name_ID_SUB_rnn.py`) and a Moodle folder (`Name_ID_assignsubmission_file_`).
    `duplicates` of them are byte-for-byte copies of an earlier submission under another student's name.
    """
    rng = random.Random(seed)
    kinds = example_names()
    hostile = hostile if hostile is not None else kinds["hostile"]
    n_hostile = round(n * hostile_share) if hostile else 0
    plan = [hostile[i % len(hostile)] for i in range(n_hostile)]
    others = kinds["correct"] + kinds["mutant"]
    plan += [rng.choice(kinds["correct"]) if rng.random() < 0.5 else rng.choice(kinds["mutant"])
             for _ in range(n - n_hostile)]
    rng.shuffle(plan)
    folder.mkdir(parents=True, exist_ok=True)
    expected, texts = {}, []
    for i, example in enumerate(plan):
        student = 100000 + i
        if i >= n - duplicates and texts and example not in hostile:  # the hostile share stays exact
            example, text = rng.choice(texts)
        else:
            # bytes: an example may be saved in another encoding than UTF-8 (correct_latin1.py)
            text = (EXAMPLES / example).read_bytes() + f"\n# handed in by student {student}\n".encode()
            if example not in hostile and example in others:
                texts.append((example, text))
        layout = i % 3
        if layout == 0:
            path = folder / f"student{student}.py"
            expected[f"student{student}"] = example
        elif layout == 1:
            path = folder / f"lee{i}_{student}_{900000 + i}_rnn.py"
            expected[str(student)] = example
        else:
            path = folder / f"Student {i}_{student}_assignsubmission_file_" / "rnn.py"
            path.parent.mkdir()
            expected[str(student)] = example
        path.write_bytes(text)
    return expected
