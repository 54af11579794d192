"""`python -I -m grader.child CONFIG_JSON`: become a submission's child process."""

from grader.child.serve import main

main()
