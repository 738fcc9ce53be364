"""What Faust's consumer knows of an input partition: its end (high-water) and the last offset
handed to the streams. The one reader of those consumer internals; the watermark and the lag
gauges are built on it."""
from __future__ import annotations

from typing import Any, Callable

# (topic, partition) -> (end offset, last offset fetched), None where not known yet
InputEnds = Callable[[str, int], "tuple[int | None, int | None]"]


def consumer_ends(app: Any) -> InputEnds:
    from faust.types import TP

    def ends(topic: str, partition: int) -> tuple[int | None, int | None]:
        tp = TP(topic, partition)
        try:
            hw = app.consumer.highwater(tp)
            fetched = app.consumer._read_offset.get(tp)  # noqa: SLF001 - the last offset handed to the streams
        except Exception:  # noqa: BLE001 - no consumer or no assignment yet (or being revoked): unknown
            return None, None
        return (None if hw is None else int(hw)), (None if fetched is None else int(fetched))

    return ends


def consumer_lag(app: Any) -> dict[tuple[str, int], int]:
    """Messages not yet read by the streams, per assigned partition (end minus next to read)."""
    ends = consumer_ends(app)
    out: dict[tuple[str, int], int] = {}
    for tp in sorted(app.consumer.assignment()):
        end, fetched = ends(tp.topic, tp.partition)
        if end is not None:
            out[(tp.topic, tp.partition)] = max(0, end - ((fetched if fetched is not None else -1) + 1))
    return out
