"""The domain core: working-day calendar, SLA policy and engine, case lifecycle,
countdowns, triage, metrics and the early-warning rules. Pure Python: no I/O besides reading data files,
no clock (callers inject `now`)."""
