"""`python -m grader.cli ...`: what the Gradescope bundle's run_autograder calls."""

from grader.cli import main

main()
