"""Early warning (`streams.early_warning`): class cases with bounded state (per-county rings of hashed token
sets), and hotspots only once a county's history gives a baseline."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import jieba
import pytest

from fengqiao.vocab import TZ
from streams import early_warning as ew_mod
from streams.early_warning import MAX_COMPARE, STOP, EarlyWarning, analyse

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 26, 10, 30, tzinfo=TZ)
COUNTY, OTHER = "130102", "130104"
LIFT = ["某小区物业公司拒不维修电梯，业主多次反映电梯故障无人处理",
        "小区电梯故障物业公司拒不维修，业主反映无人处理",
        "物业公司拒不维修小区电梯故障，业主多次反映",
        "业主反映小区电梯故障，物业公司拒不维修"]
WORDS = ("电梯 物业 噪音 停水 停电 工资 拖欠 学校 收费 道路 积水 垃圾 施工 夜间 医院 药品 社保 养老 低保 补贴 "
         "宅基地 邻居 装修 漏水 暖气 燃气 公交 路灯 绿化 停车 商户 占道 广告 油烟 排污 河道 农田 征地 拆迁 补偿").split()


def fact(i: int | str, text: str, region: str = COUNTY, at: datetime = NOW, topic: str = "物业管理") -> dict[str, str]:
    return {"case_id": f"K{i}", "region_code": region, "topic": topic, "at": at.isoformat(), "text": text}


def classes(recs: list[Any]) -> list[Any]:
    return [r for r in recs if r.kind == "class_case"]


def feed(ew: EarlyWarning, store: dict, facts: list[dict[str, str]], now: datetime = NOW) -> list[Any]:
    out = []
    for f in facts:
        out += classes(ew.on_intake(store, f, now)[1])
    return out


def d_keys(store: dict, region: str = COUNTY) -> set[str]:
    return {k for k in store if k.startswith(f"d|{region}|")}


def test_class_case_fires_once_for_three_similar_not_for_two() -> None:
    ew, store = EarlyWarning(), {}
    assert feed(ew, store, [fact(0, LIFT[0]), fact(1, LIFT[1])]) == []  # two are not a class case
    out = feed(ew, store, [fact(2, LIFT[2]), fact(3, "邻居装修噪音扰民问题")])
    assert [r.case_ids for r in out] == [["K0", "K1", "K2"]] and out[0].version == 1
    assert out[0].dedup_key == f"class:{COUNTY}:K0"
    out = feed(ew, store, [fact(4, LIFT[3])])  # joins; re-published at 4 members
    assert [(r.case_ids, r.version) for r in out] == [(["K0", "K1", "K2", "K4"], 2)]
    assert store[f"c|{COUNTY}|K0"] == {"m": ["K0", "K1", "K2", "K4"], "n": 4}


def test_class_case_needs_one_county_and_seven_days() -> None:
    ew, store = EarlyWarning(), {}
    spread = [fact(i, t, region=(COUNTY, OTHER)[i % 2]) for i, t in enumerate(LIFT[:3])]
    assert feed(ew, store, spread) == []  # 2 in one county, 1 in the other
    ew, store = EarlyWarning(), {}
    old = NOW - timedelta(days=8)
    assert feed(ew, store, [fact(0, LIFT[0], at=old), fact(1, LIFT[1], at=old)], now=old) == []
    assert feed(ew, store, [fact(2, LIFT[2])]) == []  # the first two are 8 days old
    assert d_keys(store) == {f"d|{COUNTY}|K2"}  # and were dropped with their `d|` keys
    assert feed(ew, store, [fact(3, LIFT[3], at=NOW - timedelta(days=6)), fact(4, LIFT[0])])  # 6 days: still counts


def test_duplicate_case_id_changes_nothing() -> None:
    ew, store = EarlyWarning(), {}
    feed(ew, store, [fact(i, t) for i, t in enumerate(LIFT[:3])])
    before = dict(store)
    assert ew.on_intake(store, fact(1, LIFT[3]), NOW + timedelta(minutes=5)) == (False, [])
    assert store == before


def test_ring_is_bounded_and_evicted_petitions_leave_the_store() -> None:
    ew, store = EarlyWarning(), {}
    rnd = random.Random(5)
    n, raised = 2000, 0
    for i in range(n):  # 6 of 40 words: now and then 4 or more in common, a few class cases
        text = "，".join(rnd.sample(WORDS, 6))
        recs = ew.on_intake(store, fact(i, text, at=NOW - timedelta(seconds=n - i)), NOW)[1]
        raised += sum(r.version == 1 for r in classes(recs))
    ring = ew.rings[COUNTY]
    assert len(ring.slot_of) == MAX_COMPARE and len(d_keys(store)) == MAX_COMPARE
    assert d_keys(store) == {f"d|{COUNTY}|K{i}" for i in range(n - MAX_COMPARE, n)}  # the 500 most recent
    assert set(ring.slot_of) == {f"K{i}" for i in range(n - MAX_COMPARE, n)}
    # clusters that can no longer be joined are dropped with their `c|` keys
    clusters = {k.split("|")[2]: v for k, v in store.items() if k.startswith(f"c|{COUNTY}|")}
    assert raised > len(clusters) > 0 and clusters.keys() == ring.clusters.keys()
    assert all(any(m in ring.slot_of for m in v["m"]) for v in clusters.values())
    assert len(ew.cache) <= ew_mod.CACHE_MAX and len(ew_mod._texts) <= ew_mod.TEXT_CACHE


def test_a_large_cluster_keeps_growing_past_the_ring() -> None:
    ew, store = EarlyWarning(), {}
    out = []
    for i in range(1200):  # all similar: one cluster, joined through its listed (recent) members
        out += classes(ew.on_intake(store, fact(i, f"{LIFT[i % 4]} 第{i}号"), NOW)[1])
    assert [len(r.case_ids) for r in out][:3] == [3, 4, 5]
    assert [r.message.split(" ")[2] for r in out][-4:] == ["100", "200", "500", "1000"]
    assert store[f"c|{COUNTY}|K0"]["n"] == 1200 and len(store[f"c|{COUNTY}|K0"]["m"]) == 100
    assert len(d_keys(store)) == MAX_COMPARE


def test_rebuild_from_the_store_reproduces_detection() -> None:
    ew, store = EarlyWarning(), {}
    feed(ew, store, [fact(i, t) for i, t in enumerate(LIFT[:3])] + [fact(9, "邻居装修噪音扰民问题")])
    ew2 = EarlyWarning()
    ew2.rebuild(list(store.items()), NOW)
    assert set(ew2.rings[COUNTY].slot_of) == {"K0", "K1", "K2", "K9"}
    assert ew2.on_intake(store, fact(1, "x"), NOW) == (False, [])  # still a duplicate
    out = feed(ew2, store, [fact(3, LIFT[3])])
    assert [(r.case_ids, r.version) for r in out] == [(["K0", "K1", "K2", "K3"], 2)]


def test_rebuild_reads_old_values_and_bounds_them() -> None:
    store: dict[str, Any] = {}
    t = NOW.timestamp()
    for i in range(MAX_COMPARE + 20):  # an old version kept every petition of 7 days, some without topic
        store[f"d|{COUNTY}|O{i}"] = [t - 3600 * 24 * 6 + i, ["噪音", f"词{i}"]] + ([] if i % 2 else ["环境"])
    store[f"d|{COUNTY}|X"] = [t - 8 * 86400, ["电梯"], "物业管理"]  # expired
    store[f"f|{COUNTY}|劳资纠纷|{int(t // 300)}"] = 4  # an old hour bucket, still in the last hour
    store[f"f|{COUNTY}|劳资纠纷|{int(t // 300) - 40}"] = 9  # and one long gone
    store[f"c|{COUNTY}"] = {"O510": ["O509", "O510"], "X": ["X"]}  # clusters of a county in one value
    store[f"k|{COUNTY}|O510"] = 7
    ew = EarlyWarning()
    ew.rebuild(list(store.items()), NOW)
    assert len(ew.rings[COUNTY].slot_of) == MAX_COMPARE
    assert ew.buckets[f"{COUNTY}|劳资纠纷"] == {int(t // 300): 4}
    ew.on_intake(store, fact("new", "邻居装修噪音扰民问题", topic="劳资纠纷"), NOW)
    assert f"d|{COUNTY}|X" not in store and f"d|{COUNTY}|O0" not in store and f"d|{COUNTY}|O20" not in store
    assert f"f|{COUNTY}|劳资纠纷|{int(t // 300) - 40}" not in store
    assert {k for k in store if k[0] in "ck"} == {f"c|{COUNTY}|O510"}  # one key per live cluster
    assert store[f"c|{COUNTY}|O510"] == {"m": ["O509", "O510"], "n": 7}
    assert len(d_keys(store)) == MAX_COMPARE


def test_tokens_are_jiebas_on_the_whole_text() -> None:
    texts = ["翠湖苑小区28号楼电梯本月已故障多次，业主多次反映未见整改。",
             "本人在某家政服务公司务工，某家政服务公司已拖欠47名工人工资共计约73000元。",
             "在4S店修车3次，1号店买的12件商品价格上涨3.5%，约1200元 A12-3#楼"]
    for text in texts + [t.replace("47", "9").replace("73000", "500") for t in texts]:
        want = sorted({w for w in jieba.lcut(text) if len(w) >= 2 and w not in STOP and not w.isdigit()})
        assert analyse(text)[0] == want


def test_similarity_is_the_exact_jaccard_at_the_threshold() -> None:
    shared = [f"同{i}" for i in range(9)]
    ring = ew_mod._Ring()
    ring.add("at", ew_mod._analysed(shared + [f"甲{i}" for i in range(5)]), NOW.timestamp())  # 9 / 20 = 0.45
    ring.add("below", ew_mod._analysed(shared + [f"乙{i}" for i in range(6)]), NOW.timestamp())  # 9 / 21
    ring.add("other", ew_mod._analysed([f"丁{i}" for i in range(15)]), NOW.timestamp())
    mine = ew_mod._analysed(shared + [f"丙{i}" for i in range(6)])
    assert [c for _, _, c in ring.similar(mine)] == ["at"]


def test_baseline_hour_counts_are_written_once_the_hour_is_over_and_survive_a_rebuild() -> None:
    ew, store = EarlyWarning(), {}
    h10 = NOW.replace(minute=5)
    key10 = f"n|{COUNTY}|物业管理|{int(h10.timestamp() // 3600)}"
    for i in range(3):
        ew.on_intake(store, fact(i, f"路灯不亮{i}", at=h10 + timedelta(minutes=i)), h10 + timedelta(minutes=i))
    assert key10 not in store  # the open hour is counted in memory
    ew2 = EarlyWarning()  # a rebalance: the open hour is recounted from the petitions kept
    ew2.rebuild(list(store.items()), h10 + timedelta(minutes=5))
    h11 = h10 + timedelta(hours=1)
    ew2.on_intake(store, fact(10, "路灯不亮十", at=h11), h11)
    assert store[key10] == 3  # written once the next hour began, not counted twice
    ew2.on_intake(store, fact(11, "路灯不亮十一", at=h10 + timedelta(minutes=50)), h11)  # late, for a written hour
    assert store[key10] == 4
    assert f"n|{COUNTY}|物业管理|{int(h11.timestamp() // 3600)}" not in store


# ------------------------------------------------------------ hotspots need a baseline (issue 10 item 7)
def hotspots(ew: EarlyWarning, store: dict, n: int, start: int = 100, now: datetime = NOW,
             topic: str = "劳资纠纷") -> list[Any]:
    """`n` petitions on one topic in the hour before `now`, all different texts."""
    out = []
    for i in range(n):
        f = fact(start + i, f"第{i}号 不同内容 {i * 7919}", at=now - timedelta(minutes=i), topic=topic)
        out += [r for r in ew.on_intake(store, f, now)[1] if r.kind == "hotspot"]
    return out


def counted(ew: EarlyWarning, store: dict, *weeks: int, region: str = COUNTY) -> None:
    """The county was being counted `weeks` ago: a petition (another topic) 2 hours before this hour."""
    for w in sorted(weeks, reverse=True):
        ew.on_intake(store, fact(f"H{region}{w}", f"早先的一件诉求{w}", region=region,
                                 at=NOW - timedelta(weeks=w, hours=2), topic="道路交通"), NOW)


def test_a_fresh_worker_raises_no_hotspot_at_baseline_zero() -> None:
    ew, store = EarlyWarning(), {}
    assert hotspots(ew, store, 12) == []  # no history: "基线不足", not "高于同时段基线 0.0"


def test_one_observed_week_is_not_a_baseline_two_are() -> None:
    ew, store = EarlyWarning(), {}
    counted(ew, store, 1)
    assert hotspots(ew, store, 12) == []
    ew, store = EarlyWarning(), {}
    counted(ew, store, 1, 2)
    out = hotspots(ew, store, 12)
    assert len(out) == 1 and "高于同时段基线 0.0（2周均值" in out[0].message
    # another county, not counted then, stays silent whatever this one has
    other = [r for i in range(12) for r in ew.on_intake(
        store, fact(500 + i, f"别处{i} 内容{i * 31}", region=OTHER, at=NOW - timedelta(minutes=i)), NOW)[1]]
    assert [r for r in other if r.kind == "hotspot"] == []


def test_a_late_petition_dated_weeks_back_is_not_a_history() -> None:
    ew, store = EarlyWarning(), {}
    ew.on_intake(store, fact("late", "很久以前的一件", at=NOW - timedelta(weeks=5), topic="道路交通"), NOW)
    counted(ew, store, 1)  # one observed week; weeks 2-4 were never counted, whatever came before
    assert hotspots(ew, store, 12) == []


def test_the_baseline_is_the_mean_of_the_observed_weeks_only() -> None:
    ew, store = EarlyWarning(), {}
    counted(ew, store, 1, 2, 3)  # week 4 was not being counted: its count is not read
    h = int(NOW.timestamp() // 3600)
    for w, n in ((1, 4), (2, 5), (3, 6), (4, 90)):
        store[f"n|{COUNTY}|劳资纠纷|{h - 24 * 7 * w}"] = n
    out = hotspots(ew, store, 16)
    assert len(out) == 1 and "基线 5.0（3周均值" in out[0].message  # 16 in an hour vs λ = 5: P ~ 4e-5


def test_what_was_counted_survives_a_rebuild() -> None:
    ew, store = EarlyWarning(), {}
    counted(ew, store, 1, 2)
    ew2 = EarlyWarning()
    ew2.rebuild(list(store.items()), NOW)
    assert len(hotspots(ew2, store, 12)) == 1


def test_rebuild_sums_the_county_totals_of_older_versions_from_their_hour_counts() -> None:
    h = int(NOW.timestamp() // 3600)
    store: dict[str, Any] = {f"n|{COUNTY}|道路交通|{h - 24 * 7 * w - 3}": 2 for w in (1, 2)}
    ew = EarlyWarning()
    ew.rebuild(list(store.items()), NOW)
    assert len(hotspots(ew, store, 12)) == 1
    assert store[f"t|{COUNTY}|{h - 24 * 7 - 3}"] == 2


def test_history_arriving_after_the_first_check_still_counts() -> None:
    ew, store = EarlyWarning(), {}
    assert hotspots(ew, store, 7) == []  # checked: no baseline yet
    counted(ew, store, 1, 2)  # late petitions of weeks ago (other partitions' facts come in any order)
    assert len(hotspots(ew, store, 3, start=200)) == 1
