"""Faust tables. Keys are `str` with the raw codec, so a key hashes to the same partition
as the contract's message key (murmur2 of the UTF-8 bytes) and `table_route` finds the
owner; values are JSON dicts (see `casework` / `early_warning` for their shape)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from fengqiao.settings import Settings


@dataclass(frozen=True)
class StreamTables:
    cases: faust.Table  # case_id -> case entry, co-partitioned with the events topic
    alert_owner: faust.Table  # alert_id -> {"owner": "case"|"region", "key": ...}
    early: faust.Table  # region code -> early-warning entry


def declare(app: faust.App, settings: Settings) -> StreamTables:
    n = settings.topics.partitions

    def table(name: str) -> faust.Table:
        return app.Table(name, default=None, partitions=n, key_type=str)  # str keys use the raw codec

    return StreamTables(cases=table("cases"), alert_owner=table("alert-owner"), early=table("early"))
