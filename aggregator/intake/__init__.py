"""Intake: what comes in. The connector port, connector discovery, group-commit ingest
and the matching pipeline that turns reports into tickets."""
