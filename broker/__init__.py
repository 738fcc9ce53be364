"""Adapter: a local Apache Kafka broker (no Docker) and topic administration.

`broker.local` starts/stops/inspects one KRaft node per data folder;
`broker.topics` creates topics and waits for a broker.
"""
