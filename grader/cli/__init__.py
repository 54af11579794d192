"""The command line (click), a thin layer over the grader's packages: `grade SUBMISSION`, `grade FOLDER
--out OUTDIR`, and course staff's commands. Each module below registers its commands on `main`."""

from grader.cli import folder, grade, lti, serve, staff  # noqa: F401  (registers their commands)
from grader.cli.group import main

__all__ = ["main"]
