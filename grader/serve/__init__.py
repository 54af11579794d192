"""`grade serve`: the grading service students submit to (trusted side; student code runs only in the
sandbox, through the batch's worker pool). Units: store (database and files), queue (the durable
grading queue and its dispatcher), tokens (roster, sign-in), classroom (the live class folder),
pages and app (HTTP)."""
