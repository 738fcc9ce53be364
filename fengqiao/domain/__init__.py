"""The domain core: working-day calendar, SLA policy and engine, case lifecycle,
countdowns, triage and metrics. Pure Python: no I/O besides reading data files,
no clock (callers inject `now`)."""
