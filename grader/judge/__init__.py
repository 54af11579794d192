"""The trusted side that holds hidden values: specs and their references, the hidden data, the checks,
the named misconceptions and the scores. It never runs student code in its own process: it asks the
sandbox to run steps and judges the plain data that comes back.
"""
