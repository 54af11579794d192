"""The untrusted side: what runs inside a submission's sandboxed child process (and its zygote).

Nothing here holds a hidden value: no spec, reference or expected answer is ever imported by these
modules. The child loads the student's file, applies its isolation layers to itself, executes the
grader's steps and sends back plain data (grader/wire.py). Nothing here imports grader.judge,
grader.sandbox or grader.course; tests/test_layout_of_the_house.py checks it.
"""
