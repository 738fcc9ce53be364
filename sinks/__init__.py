"""Sinks: batched, idempotent writers from Kafka topics into ClickHouse.

- `sinks.rows`: pure record → row mappings (+ masking); a bad record gives a reason string.
- `sinks.batching.BatchingSink`: per-partition buffers; insert → DLQ ack → offset commit.
- `sinks.runner.run_sink(settings, stop, ready)`: the consume loop (a background thread of the
  process that owns the store); `run_sink_forever(settings)` is `fengqiao sink`.
- `sinks.schema.migrate(client, database)`: the read model, idempotent.
- `sinks.store.get_client(settings)` / `store_lock()`: the one ClickHouse client of a process.

Reads of current state and event counts must use `FINAL` (or `uniqExact(event_id)`):
redelivery after a crash can leave unmerged repeats that only FINAL collapses.
"""
