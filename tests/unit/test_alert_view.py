"""The console's queue under load (issue 14 item 9), decided without Streamlit: the list order does not
change with updates, new alerts are held back, the selection stays by alert_id, an acknowledgement shows
at once until the store's state replaces it, storms are grouped."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashboard import alert_view as av
from fengqiao.vocab import TZ as SH

pytestmark = pytest.mark.unit
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=SH)


def alert(aid: str, minutes: int, state: str = "firing", updated: int = 0, **kw: object) -> dict:
    return {"alert_id": aid, "raised_at": T0 + timedelta(minutes=minutes), "state": state,
            "updated_at": T0 + timedelta(minutes=updated), "case_id": "", "kind": "sla", "dedup_key": "",
            "acknowledged_by": "", "note": "", **kw}


def ids(rows: list) -> list[str]:
    return [r["alert_id"] for r in rows]


def test_order_is_fixed_by_raised_at_and_id_whatever_the_updates() -> None:
    rows = [alert("b", 5), alert("a", 5), alert("c", 9), alert("d", 1)]
    assert ids(av.order(rows)) == ["c", "a", "b", "d"]
    later = [alert("b", 5, "acknowledged", updated=30), alert("a", 5, updated=40), alert("c", 9, "silenced"),
             alert("d", 1, updated=50)]  # the store's ORDER BY state, updated_at would re-sort all of these
    assert ids(av.order(reversed(later))) == ["c", "a", "b", "d"]


def test_new_alerts_are_held_back_until_taken_in() -> None:
    first = av.hold_back([alert("a", 1), alert("b", 2)], None)
    assert ids(first.shown) == ["b", "a"] and first.new_ids == ()
    taken = set(ids(first.shown))
    now = av.hold_back([alert("a", 1), alert("b", 2), alert("n1", 3), alert("n2", 4)], taken)
    assert ids(now.shown) == ["b", "a"] and now.new_ids == ("n2", "n1")  # the list did not move
    assert "2 条新告警" in av.new_alerts_label(len(now.new_ids))
    after = av.hold_back([alert("a", 1), alert("b", 2), alert("n1", 3), alert("n2", 4)], taken | set(now.new_ids))
    assert ids(after.shown) == ["n2", "n1", "b", "a"] and after.new_ids == ()


def test_selection_stays_on_the_chosen_alert() -> None:
    assert av.keep_selection("b", ["n", "a", "b"]) == "b"
    assert av.keep_selection(None, ["n", "a"]) == "n"
    assert av.keep_selection("gone", ["n", "a"]) == "n" and av.keep_selection("x", []) is None


def test_acknowledgement_shows_at_once_until_the_store_has_it() -> None:
    pending = {"a": av.Pending("officer", 1000.0, "已督促")}
    rows, still = av.with_pending([alert("a", 1), alert("b", 2)], pending, now=1002.0)
    a = next(r for r in rows if r["alert_id"] == "a")
    assert a["state"] == "acknowledged" and a["acknowledged_by"] == "officer" and a["provisional"]
    assert a["acknowledged_at"] == datetime.fromtimestamp(1000.0, tz=SH) and a["note"] == "已督促"
    assert next(r for r in rows if r["alert_id"] == "b")["state"] == "firing" and still == pending
    stored = [alert("a", 1, "acknowledged", acknowledged_by="officer2")]
    rows, still = av.with_pending(stored, pending, now=1003.0)  # the store's record wins, the entry ends
    assert rows[0]["acknowledged_by"] == "officer2" and "provisional" not in rows[0] and still == {}
    _, still = av.with_pending([], pending, now=1003.0)  # not listed (filtered): kept ...
    assert still == pending
    rows, still = av.with_pending([alert("a", 1)], pending, now=1000.0 + av.PENDING_SECONDS)  # ... not for ever
    assert rows[0]["state"] == "firing" and still == {}


def test_storms_are_grouped_by_case_ladder_or_region_and_topic() -> None:
    rows = [alert("s1", 1, case_id="C1", stage="reminder"), alert("s2", 2, case_id="C1", stage="warning"),
            alert("s3", 3, "acknowledged", case_id="C1"), alert("o", 4, case_id="C2"),
            alert("h1", 5, kind="hotspot", dedup_key="hotspot:130102:供暖:100"),
            alert("h2", 6, kind="hotspot", dedup_key="hotspot:130102:供暖:101"),
            alert("h3", 7, kind="hotspot", dedup_key="hotspot:130102:物业:101"),
            alert("k", 8, kind="class_case", dedup_key="class:130102:7")]
    g = av.groups(rows)
    assert ids(g["case:C1"]) == ["s3", "s2", "s1"] and ids(g["case:C2"]) == ["o"]
    assert ids(g["topic:130102:供暖"]) == ["h2", "h1"] and ids(g["topic:130102:物业"]) == ["h3"]
    assert ids(g["alert:k"]) == ["k"]
    assert av.firing_ids(g["case:C1"]) == ["s2", "s1"]  # acknowledging the group skips the acknowledged one
