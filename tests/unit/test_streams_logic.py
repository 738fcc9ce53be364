"""Pure parts of the streams worker: the timer heap and early warning."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from streams.early_warning import EarlyWarning, is_hotspot, poisson_tail
from streams.timers import TimerHeap

pytestmark = pytest.mark.unit
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 30, tzinfo=TZ)


def test_timer_heap_pops_only_due_and_latest_schedule() -> None:
    h = TimerHeap()
    h.schedule("a", 10.0)
    h.schedule("b", 5.0)
    h.schedule("a", 20.0)  # moved: the old instant must not fire
    h.schedule("c", 1.0)
    h.schedule("c", None)  # cleared
    assert h.pop_due(10.0) == ["b"]
    assert h.pop_due(19.9) == []
    assert h.pop_due(20.0) == ["a"]
    assert len(h) == 0 and h.next_at() is None


def test_timer_heap_holds_a_group_behind_and_asks_its_limit_once_per_pop() -> None:
    h = TimerHeap()
    for i in range(50):
        h.schedule(f"a{i}", 10.0 + i * 0.01, 0)
    h.schedule("b", 10.0, 1)
    asked: list[int | None] = []

    def until(group: int | None) -> float:
        asked.append(group)
        return 5.0 if group == 0 else 100.0

    assert h.pop_due(20.0, until=until) == ["b"]  # group 0 is behind: its 50 stay
    assert sorted(asked) == [0, 1]  # not once per held entry
    assert len(h.pop_due(20.0)) == 50


def test_hotspot_test_is_strict_on_noise() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert abs(poisson_tail(1, 2.0) - (1 - 2.718281828 ** -2)) < 1e-6
    assert not is_hotspot(5, 0.0)  # below the minimum count
    assert is_hotspot(6, 0.0)  # floor 0.5: P(X>=6) ~ 1.4e-5
    assert not is_hotspot(8, 3.0) and is_hotspot(12, 3.0)


def fact(i: int, text: str, topic: str = "劳资纠纷", region: str = "130102", at: datetime = NOW) -> dict[str, str]:
    return {"case_id": f"K{i}", "region_code": region, "topic": topic, "at": at.isoformat(), "text": text}


def test_hotspot_fires_once_per_window_and_not_for_a_few_cases() -> None:
    ew = EarlyWarning()
    h = int(NOW.timestamp() // 3600)
    counted = {f"t|130102|{h - 24 * 7 * w - 1}": 1 for w in range(1, 5)}  # the county was counted 4 weeks
    store: dict = dict(counted)
    raised = []
    for i in range(10):
        ok, recs = ew.on_intake(store, fact(i, f"第{i}号 不同内容 {i * 7919}", at=NOW - timedelta(minutes=i)), NOW)
        assert ok
        raised += [r for r in recs if r.kind == "hotspot"]
        if i < 5:
            assert raised == []  # five in an hour is not a hotspot
    assert len(raised) == 1 and raised[0].dedup_key.startswith("hotspot:130102:劳资纠纷:")
    assert raised[0].region_code == "130102"
    # duplicates of a case change nothing
    assert ew.on_intake(store, fact(3, "x"), NOW) == (False, [])
    # a baseline of ~10 per hour at this hour of week: 10 more is noise, not a hotspot
    ew2, store2 = EarlyWarning(), dict(counted)
    for w in range(1, 5):
        store2[f"n|130102|劳资纠纷|{h - 24 * 7 * w}"] = 10
    hits = [r for i in range(10) for r in ew2.on_intake(store2, fact(100 + i, f"文本{i}"), NOW)[1] if r.kind == "hotspot"]
    assert hits == []


def test_class_case_groups_similar_texts_in_one_county() -> None:
    ew = EarlyWarning()
    store: dict = {}
    texts = ["某小区物业公司拒不维修电梯，业主多次反映电梯故障无人处理",
             "小区电梯故障物业公司拒不维修，业主反映无人处理",
             "物业公司拒不维修小区电梯故障，业主多次反映",
             "邻居装修噪音扰民问题"]
    out = []
    for i, t in enumerate(texts):
        _, recs = ew.on_intake(store, fact(i, t, topic=f"t{i}"), NOW)
        out += [r for r in recs if r.kind == "class_case"]
    assert len(out) == 1 and out[0].case_ids == ["K0", "K1", "K2"]
    _, recs = ew.on_intake(store, fact(9, "业主反映小区电梯故障，物业公司拒不维修", topic="t9"), NOW)
    assert [r.case_ids for r in recs if r.kind == "class_case"] == [["K0", "K1", "K2", "K9"]]
    assert [r.version for r in recs] == [2]
    # a restarted worker rebuilds its token index from the stored petitions
    ew2 = EarlyWarning()
    ew2.rebuild(store.items())
    _, recs = ew2.on_intake(store, fact(10, "小区电梯故障业主反映物业公司拒不维修", topic="t10"), NOW)
    assert [len(r.case_ids) for r in recs if r.kind == "class_case"] == [5]
