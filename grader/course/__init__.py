"""Grading a class: a folder or an LMS download in, reports and a summary out; similarity between
students; Gradescope's bundle."""
