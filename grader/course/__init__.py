"""Grading a class: a folder or an LMS download in, reports and a summary out; similarity between
students; Gradescope's bundle; a Dask cluster's workers (`cluster`, `runner`) and the assignment they
receive from the coordinator (`shipping`)."""
