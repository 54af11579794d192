"""Grading a course's submissions beyond one process: on a Dask cluster (`cluster`), its workers' grading
processes (`runner`) and the assignment they receive from the coordinator (`pack`)."""
