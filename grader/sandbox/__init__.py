"""The grader's handle on the untrusted side: starting a child (exec'd, or forked by a zygote) with its
isolation layers, limits, one exchange at a time, and killing it and everything it started. No hidden
value passes through here: steps and plain data only.
"""
