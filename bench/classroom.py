"""A generated class: N submissions built from the examples, named the way course platforms name them
(`make_class`), or a Canvas bulk download with several files per student and late ones (`make_canvas_class`,
`zip_class`; `python bench/classroom.py class.zip -n 300` writes one).

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


HELPER = "def clip(x, bound=5.0):\n    return max(-bound, min(bound, x))\n"


def make_canvas_class(folder: Path, n: int, late_share: float = 0.2, helper_share: float = 0.2,
                      resubmit_share: float = 0.1, hostile_share: float = 0.05, hostile: list[str] | None = None,
                      seed: int = 0) -> tuple[dict[str, str], set[str]]:
    """A class of n students as Canvas's bulk download names it (`name_late_USERID_NUMBER_file`), each
    student's files side by side: some hand in a helper module too, some resubmitted (an older file
    with a bug, and a newer one under a higher number, named `rnn-1.py` as Canvas renames it), some
    are late (every file of theirs carries `_late_`), a few are hostile.
    Returns ({Canvas user id: the example the graded file came from}, the ids of the late ones)."""
    rng = random.Random(seed)
    kinds = example_names()
    hostile = hostile if hostile is not None else kinds["hostile"]
    folder.mkdir(parents=True, exist_ok=True)
    expected, late = {}, set()
    for i in range(n):
        student, number = 200000 + i, 500000 + 10 * i
        tag = "late_" if rng.random() < late_share else ""
        roll = rng.random()
        if hostile and roll < hostile_share:
            example = hostile[i % len(hostile)]
        else:
            example = rng.choice(kinds["correct"]) if rng.random() < 0.5 else rng.choice(kinds["mutant"])
        name = f"student{i}"
        text = (EXAMPLES / example).read_bytes() + f"\n# handed in by student {student}\n".encode()
        if example not in hostile and rng.random() < resubmit_share:  # the older file: a bug, never graded
            older = rng.choice(kinds["mutant"])
            (folder / f"{name}_{tag}{student}_{number}_rnn.py").write_bytes(
                (EXAMPLES / older).read_bytes() + f"\n# first try of {student}\n".encode())
            (folder / f"{name}_{tag}{student}_{number + 5}_rnn-1.py").write_bytes(text)
        else:
            (folder / f"{name}_{tag}{student}_{number}_rnn.py").write_bytes(text)
        if rng.random() < helper_share:
            (folder / f"{name}_{tag}{student}_{number + 1}_helpers.py").write_text(HELPER + f"# {student}\n")
        expected[str(student)] = example
        if tag:
            late.add(str(student))
    return expected, late


def zip_class(folder: Path, archive: Path, hostile_members: bool = True) -> Path:
    """The class folder as one zip, as a platform hands it over; with `hostile_members`, also a member
    that would land outside the folder and a symbolic link (both must be left out by the grader)."""
    import stat
    import zipfile

    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder).as_posix())
        if hostile_members:
            bundle.writestr("../outside_999999_1_rnn.py", "class RNN:\n    pass\n")
            link = zipfile.ZipInfo("link_999998_1_rnn.py")
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(link, "/etc/passwd")
    return archive


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="Write a generated class as a Canvas-style bulk download zip.")
    parser.add_argument("archive", type=Path, help="the zip to write")
    parser.add_argument("-n", type=int, default=300, help="students")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        expected, late = make_canvas_class(Path(tmp) / "class", args.n, seed=args.seed)
        zip_class(Path(tmp) / "class", args.archive)
    print(f"{args.archive}: {len(expected)} students, {len(late)} late")
