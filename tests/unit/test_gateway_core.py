"""The gateway's in-process duplicate index and idempotency cache (pure parts)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from producers.gateway.intake import Conflict, DuplicateIndex, IdempotencyCache

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def test_duplicate_within_seven_days_same_topic_only() -> None:
    ix = DuplicateIndex(timedelta(days=7))
    assert ix.claim("h1", "物业管理", T0, "A") is None
    assert ix.claim("h1", "物业管理", T0 + timedelta(days=3), "B") == "A"
    assert ix.claim("h1", "劳资纠纷", T0 + timedelta(days=3), "C") is None  # other topic
    assert ix.claim("h2", "物业管理", T0 + timedelta(days=3), "D") is None  # other citizen
    assert ix.claim("h1", "物业管理", T0 + timedelta(days=8), "E") is None  # outside the window
    assert ix.claim("h1", "物业管理", T0, "A") is None  # a replay of A is not its own duplicate


def test_release_undoes_a_failed_claim() -> None:
    ix = DuplicateIndex(timedelta(days=7))
    assert ix.claim("h", "t", T0, "A") is None
    ix.release("h", "t", "A")
    assert ix.claim("h", "t", T0 + timedelta(hours=1), "B") is None


def test_idempotency_replay_conflict_abandon() -> None:
    c = IdempotencyCache(ttl=60)
    assert c.begin("k", "fp1") == ("new", None)
    c.finish("k", 202, {"case_id": "A"})
    assert c.begin("k", "fp1") == ("replay", (202, {"case_id": "A"}))
    with pytest.raises(Conflict):
        c.begin("k", "fp2")
    assert c.begin("k2", "fp") == ("new", None)
    c.abandon("k2")
    assert c.begin("k2", "fp") == ("new", None)


def test_concurrent_retry_waits_for_the_first() -> None:
    c = IdempotencyCache(ttl=60)
    assert c.begin("k", "fp")[0] == "new"
    got: list = []
    t = threading.Thread(target=lambda: got.append(c.begin("k", "fp")))
    t.start()
    c.finish("k", 202, {"case_id": "A"})
    t.join(5)
    assert got == [("replay", (202, {"case_id": "A"}))]
