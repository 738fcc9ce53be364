"""Early warning (DESIGN.md section 4): hotspots (未诉先办) and class cases (类案), pure logic.

State lives in the `early` table, in small keys prefixed by the region code's record type
(see `EarlyWarning`); the early topic is keyed by region code, so one region's keys live in
one partition.

Hotspot test (chosen so it does not fire on noise): let c be the region×topic count over
the last hour (twelve 5-minute buckets by event time) and λ the baseline = mean count of the same hour-of-week over the
previous 4 weeks, floored at `BASE_FLOOR` (so a topic never seen before is not "infinitely
above baseline"). Fire when c ≥ `MIN_COUNT` and the Poisson upper tail P(X ≥ c | λ) <
`P_VALUE` (1e-4). With λ at its floor of 0.5 that needs c ≥ 6; with λ = 3 it needs c ≥ 12.
Raised once per (region, topic, hour window) — the dedup key carries the window start.

Class case: jieba tokens (length ≥ 2, stopwords dropped) per petition; two petitions in one
county within 7 days are similar when the Jaccard index of their token sets ≥ `SIMILAR`.
When a petition has ≥ `CLASS_MIN - 1` similar ones, the group is a class case, raised once
(`class:{county}:{cluster_id}`, cluster id = the first member's case id); a later similar
petition joins the existing cluster; the alert is re-published with the longer list when
the cluster reaches 4, 5, 10, 20, 50, 100 … members (not on every petition), listing at most
the last 100 case ids. Each petition is compared with its county's 500 most recent ones.
"""

from __future__ import annotations

import math
import sys
from collections import OrderedDict
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from fengqiao.records import AlertRecord
from fengqiao.regions import name_of

from streams.alerts import alert_id_for, change

MIN_COUNT = 6
P_VALUE = 1e-4
BASE_FLOOR = 0.5
BASE_WEEKS = 4
SIMILAR = 0.45
MAX_COMPARE = 500  # a petition is compared with the county's 500 most recent ones
MAX_LISTED = 100  # case ids listed in a class-case alert (the message gives the full count)
REPUBLISH_AT = frozenset({4, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000})  # member counts that update the alert
CLASS_MIN = 3
DOC_DAYS = 7
STOP = frozenset("我们 你们 他们 这个 那个 一个 没有 什么 怎么 因为 所以 但是 已经 还是 希望 请求 问题 情况 反映 相关 进行 要求 我家 现在 一直 如果 可以 能够 这样 自己 时候 帮助 解决 处理".split())


TOKEN_CACHE = 5_000  # texts whose tokens are remembered (form letters and copies repeat verbatim)
CACHE_MAX = 200_000  # store values mirrored in memory before the mirror is dropped and refilled
SWEEP_SECONDS = 60.0  # a county's expired petitions are dropped at most once a minute
_token_cache: OrderedDict[str, list[str]] = OrderedDict()


def tokens(text: str) -> list[str]:
    hit = _token_cache.get(text)
    if hit is not None:
        _token_cache.move_to_end(text)
        return list(hit)
    import jieba  # loads its dictionary once (~1 s)

    out = sorted({sys.intern(t) for t in jieba.lcut(text) if len(t) >= 2 and t not in STOP and not t.isdigit()})
    _token_cache[text] = out
    if len(_token_cache) > TOKEN_CACHE:
        _token_cache.popitem(last=False)
    return list(out)


def poisson_tail(c: int, lam: float) -> float:
    """P(X ≥ c) for X ~ Poisson(λ)."""
    if c <= 0:
        return 1.0
    term = math.exp(-lam)
    cdf = term
    for k in range(1, c):
        term *= lam / k
        cdf += term
    return max(0.0, 1.0 - cdf)


def is_hotspot(count: int, baseline: float) -> bool:
    return count >= MIN_COUNT and poisson_tail(count, max(baseline, BASE_FLOOR)) < P_VALUE


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _hour(at: datetime) -> int:
    return int(at.timestamp() // 3600)


class EarlyWarning:
    """Works on a dict-like store (the Faust `early` table, or a dict in tests) with small keys,
    so each petition rewrites a few tiny values instead of one large blob per county:

    * `n|{region}|{topic}|{hour}`: counts by event time for the baseline, expired after 5 weeks;
    * `d|{region}|{case_id}`: `[at, tokens, topic]` of a petition of the last 7 days (also the
      idempotency check: a case id seen before changes nothing);
    * `c|{region}`: the class-case clusters raised so far; `a|{dedup_key}`: an alert slot.

    The token index used to find similar petitions (`docs`) and the 5-minute counts of the sliding
    last hour (`buckets`) are in memory, rebuilt from the `d|` keys after a rebalance (`rebuild`):
    one table write fewer per petition. (Older versions stored the buckets as `f|` keys; `rebuild`
    still reads those, and `d|` values without a topic.)"""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, tuple[float, frozenset[str]]]] = {}
        # write-through mirror of the small count/cluster keys (`n|`, `c|`, `k|`), which
        # only `on_intake` writes; `a|` slots are also changed by commands, so they are always read
        # from the store. Dropped on `rebuild` (a rebalance may have moved partitions) and when full.
        self.cache: dict[str, Any] = {}
        self._cache_of: Any = None
        self._swept: dict[str, float] = {}
        self.buckets: dict[str, dict[int, int]] = {}  # "region|topic" -> 5-minute bucket -> count

    def rebuild(self, items: Any, now: datetime | None = None) -> None:
        self.docs = {}
        self.cache = {}
        self._cache_of = None
        self._swept = {}
        self.buckets = {}
        floor = int(now.timestamp() // 300) - 12 if now is not None else None
        for key, value in items:
            if key.startswith("d|") and value:
                _, region, cid = key.split("|", 2)
                self.docs.setdefault(region, {})[cid] = (float(value[0]), frozenset(map(sys.intern, value[1])))
                if len(value) > 2:
                    self._count(f"{region}|{value[2]}", int(float(value[0]) // 300), 1, floor)
            elif key.startswith("f|") and value:  # written by older versions
                _, region, topic, b = key.split("|", 3)
                self._count(f"{region}|{topic}", int(b), int(value), floor)

    def _count(self, rt: str, bucket: int, n: int, floor: int | None) -> None:
        if floor is None or bucket >= floor:
            b = self.buckets.setdefault(rt, {})
            b[bucket] = b.get(bucket, 0) + n

    # ------------------------------------------------------------ mirrored store access
    def _get(self, store: Any, key: str) -> Any:
        if self._cache_of is not store:
            self.cache, self._cache_of = {}, store
        try:
            return self.cache[key]
        except KeyError:
            pass
        value = store.get(key)
        if len(self.cache) >= CACHE_MAX:
            self.cache = {}
        self.cache[key] = value
        return value

    def _set(self, store: Any, key: str, value: Any) -> None:
        store[key] = value
        if self._cache_of is store:
            self.cache[key] = value

    def _del(self, store: Any, key: str) -> None:
        if self._get(store, key) is not None:
            del store[key]
            self.cache[key] = None

    def on_intake(self, store: Any, fact: dict[str, Any], now: datetime) -> tuple[bool, list[AlertRecord]]:
        """Count one petition and return the alerts raised or updated; False for a duplicate."""
        region, topic, cid = fact["region_code"], fact["topic"], fact["case_id"]
        dkey = f"d|{region}|{cid}"
        if cid in self.docs.get(region, ()) or store.get(dkey) is not None:  # `d|` values are not mirrored
            return False, []
        at = datetime.fromisoformat(fact["at"])
        h, f = _hour(at), int(at.timestamp() // 300)
        key = f"n|{region}|{topic}|{h}"
        self._set(store, key, (self._get(store, key) or 0) + 1)
        self._del(store, f"n|{region}|{topic}|{h - 24 * 7 * (BASE_WEEKS + 1)}")
        floor = min(f, int(now.timestamp() // 300)) - 12  # buckets below are never read again
        b = self.buckets.setdefault(f"{region}|{topic}", {})
        for old in [k for k in b if k < floor]:
            del b[old]
        self._count(f"{region}|{topic}", f, 1, floor)
        toks = tokens(fact.get("text", ""))
        store[dkey] = [at.timestamp(), toks, topic]
        out = self._hotspot(store, region, topic, now, cid)
        out += self._class(store, region, cid, at, frozenset(map(sys.intern, toks)), now)
        return True, out

    def _hotspot(self, store: Any, region: str, topic: str, now: datetime, cid: str) -> list[AlertRecord]:
        now_f, now_h = int(now.timestamp() // 300), _hour(now)
        b = self.buckets.get(f"{region}|{topic}", {})
        count = sum(n for k, n in b.items() if now_f - 11 <= k <= now_f)
        if count < MIN_COUNT:
            return []  # cannot be a hotspot whatever the baseline (skips the baseline reads)
        past = [self._get(store, f"n|{region}|{topic}|{now_h - 24 * 7 * w}") or 0 for w in range(1, BASE_WEEKS + 1)]
        baseline = sum(past) / len(past)
        if not is_hotspot(count, baseline):
            return []
        window = datetime.fromtimestamp(now_h * 3600, tz=now.tzinfo)
        dk = f"hotspot:{region}:{topic}:{window.strftime('%Y%m%dT%H00')}"
        if store.get(f"a|{dk}") is not None:
            return []
        rec = AlertRecord(
            alert_id=alert_id_for(dk), dedup_key=dk, kind="hotspot", severity="warning", state="firing",
            region_code=region, raised_at=now, updated_at=now, case_ids=[cid],
            message=f"{name_of(region)} 「{topic}」近1小时 {count} 件，高于同时段基线 {baseline:.1f}（未诉先办）",
        )
        store[f"a|{dk}"] = {"r": rec.model_dump(mode="json")}
        return [rec]

    def _class(self, store: Any, region: str, cid: str, at: datetime, mine: frozenset[str], now: datetime) -> list[AlertRecord]:
        docs = self.docs.setdefault(region, {})
        floor = (now - timedelta(days=DOC_DAYS)).timestamp()
        if now.timestamp() - self._swept.get(region, float("-inf")) >= SWEEP_SECONDS:
            self._swept[region] = now.timestamp()
            for old in [k for k, (t, _) in docs.items() if t < floor]:
                del docs[old]
                if store.get(f"d|{region}|{old}") is not None:
                    del store[f"d|{region}|{old}"]
        # insertion order: the most recent petitions (expired ones not yet swept are skipped)
        recent = list(islice(reversed(docs.items()), MAX_COMPARE))[::-1]
        similar = [k for k, (t, toks) in recent if t >= floor and jaccard(mine, toks) >= SIMILAR] if mine else []
        docs[cid] = (at.timestamp(), mine)
        if not similar:
            return []
        clusters = dict(self._get(store, f"c|{region}") or {})
        ids = set(similar)
        for cluster, members in clusters.items():
            if ids & set(members):
                n = (self._get(store, f"k|{region}|{cluster}") or len(members)) + 1
                self._set(store, f"k|{region}|{cluster}", n)
                clusters[cluster] = (members + [cid])[-MAX_LISTED:]
                self._set(store, f"c|{region}", clusters)
                dk = f"class:{region}:{cluster}"
                slot = store.get(f"a|{dk}")
                if slot is None or n not in REPUBLISH_AT:
                    return []
                new = change(slot["r"], now, case_ids=clusters[cluster], message=_class_msg(region, n))
                store[f"a|{dk}"] = {"r": new}
                return [AlertRecord.model_validate(new)]
        if len(similar) + 1 < CLASS_MIN:
            return []
        members = sorted(similar, key=lambda k: docs[k][0]) + [cid]
        cluster = members[0]
        clusters[cluster] = members
        self._set(store, f"c|{region}", clusters)
        dk = f"class:{region}:{cluster}"
        rec = AlertRecord(
            alert_id=alert_id_for(dk), dedup_key=dk, kind="class_case", severity="warning", state="firing",
            region_code=region, raised_at=now, updated_at=now, case_ids=members, message=_class_msg(region, len(members)),
        )
        store[f"a|{dk}"] = {"r": rec.model_dump(mode="json")}
        return [rec]


def _class_msg(region: str, n: int) -> str:
    return f"{name_of(region)} 7日内 {n} 件内容相似的诉求，疑似类案，请统筹化解"
