"""`python -m grader.cli ...`: what the Gradescope bundle's run_autograder calls; still named as users type it."""

from grader.cli import main

main(prog_name="grade")
