"""`grade serve` as an LTI 1.3 tool (LTI Advantage): a platform (Canvas, Moodle) launches students and
staff into it, and the score that counts goes back to the platform's line item (AGS) from a durable
outbox; names and roles come from its membership service (NRPS).

`config` reads the tool configuration (pylti1p3's JSON), `launch` checks a launch, `services` speaks
to the platform (token, scores, members), `outbox` decides and sends scores, `routes` adds /lti/* to
the app. JOSE is PyJWT's (see docs/lti.md for why not pylti1p3)."""
