"""Early warning (DESIGN.md section 4): hotspots (未诉先办) and class cases (类案), pure logic.

State lives in the `early` table, in small keys prefixed by the region code's record type (see
`EarlyWarning`); the early topic is keyed by region code, so one region's keys live in one partition.

Hotspot (the rule, its numbers and why: `fengqiao.domain.early_warning`): c is the county×topic
count over the last hour (twelve 5-minute buckets by event time), the baseline the mean count at the
same hour-of-week in those of the previous 4 weeks in which the county was being counted (it had a
petition in the 12 hours before that hour: the county's hourly totals, keys `t|`). With fewer than
`MIN_WEEKS` (2) such weeks there is no baseline ("基线不足") and no hotspot — a fresh worker does not
call every busy topic a hotspot "above a baseline of 0.0". Raised once per (region, topic, hour
window) — the dedup key carries the window start.

Class case: jieba tokens (HMM on, length ≥ 2, stopwords and numbers dropped) per petition; two
petitions in one county within 7 days (event time) are similar when the Jaccard index of their token
sets ≥ `SIMILAR`. When a petition has ≥ `CLASS_MIN - 1` similar ones, the group is a class case,
raised once (`class:{county}:{cluster_id}`, cluster id = the first member's case id); a later similar
petition joins the existing cluster; the alert is re-published with the longer list when the cluster
reaches 4, 5, 10, 20, 50, 100 … members (not on every petition), listing at most the last 100 case
ids. Each petition is compared with its county's `MAX_COMPARE` (500) most recent ones (arrival order).

Tokens and the per-county ring live in `streams/similarity.py`; this module decides and raises.

Cost (bench/bench_early.py): CPU per petition does not grow with a county's history, and memory is
bounded by counties × 500 petitions (~200 KB per county) plus fixed-size caches, not by petitions.

* Tokens: jieba cuts each run of Han/alphanumeric characters (a "block"; punctuation and spaces split
  them) on its own, so tokens are cut and cached per block — clauses repeat far more than whole
  texts — with exactly jieba's result on the whole text; a block differing from a seen one only in
  its digits is cut like it (`_words`). HMM stays on: off saves ~30 % of a cut but changes the
  token sets of ~40 % of texts (and ~2 % of the class cases).
* Similarity: a county's `_Ring` holds its 500 most recent petitions as arrays: 512-bit sets of
  hashed tokens (bit `crc32(token) % 512`), popcounts, event times, case ids, and the tokens' 64-bit
  `hash` values. A new petition is compared with all of them in one vectorised step on the 512-bit
  sets (inter = popcount(A & B), union = |A| + |B| − inter) at the lower threshold `PREFILTER`; the
  candidates are then checked exactly (Jaccard on the 64-bit hashes). A collision in 512 bits can
  raise the hashed index (the exact check rejects) or, when two shared tokens collide, lower it by
  ~1/union, which the 0.05 margin absorbs: no similar pair of 9,600 on the simulator was missed.
* Bounded state: a petition leaves its ring, and its `d|` key is deleted, when the 501st newer one of
  its county arrives or when it is older than 7 days. A cluster none of whose listed members is in
  the ring can no longer be joined: its key is deleted. Each cluster is one small key (the previous
  version rewrote all clusters of a county, one growing value, on every join). A re-delivered
  petition is recognised while it is in its ring (the county's last 500), not for a full 7 days.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fengqiao.domain.early_warning import (  # noqa: F401 - is_hotspot, poisson_tail re-exported for the tests
    BASE_WEEKS, CLASS_DAYS, CLASS_MIN, MIN_COUNT, WEEK_HOURS, baseline_of, is_hotspot, observed, poisson_tail,
    seen_window)
from fengqiao.records import AlertRecord
from fengqiao.regions import name_of

from streams.alerts import alert_id_for, change
from streams.similarity import (  # noqa: F401 - re-exported: the tests and the bench reach them here
    MAX_COMPARE, SIMILAR, STOP, TEXT_CACHE, Analysis, _analysed, _texts, analyse)
from streams.similarity import Ring as _Ring

MAX_LISTED = 100  # case ids listed in a class-case alert (the message gives the full count)
REPUBLISH_AT = frozenset({4, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000})  # member counts that update the alert
DOC_SECONDS = CLASS_DAYS * 86400
CACHE_MAX = 20_000  # store values mirrored in memory before the mirror is dropped and refilled

class EarlyWarning:
    """Works on a dict-like store (the Faust `early` table, or a dict in tests) with small keys:

    * `n|{region}|{topic}|{hour}`: counts by event time for the baseline, expired after 5 weeks
      (a county's latest hour is held in memory until its next hour starts, see `_tally`);
    * `t|{region}|{hour}`: the county's count over all topics, written and expired with the `n|` keys
      (older versions' stores get them summed from their `n|` keys on `rebuild`): was it being counted?
    * `d|{region}|{case_id}`: `[at, tokens, topic]` of a petition in its county's ring (also the
      idempotency check), deleted when it leaves the ring;
    * `c|{region}|{cluster}`: a live class-case cluster, `{"m": last 100 case ids, "n": members}`,
      deleted when it can no longer grow; `a|{dedup_key}`: an alert slot.

    The rings (with their clusters) and the 5-minute counts of the sliding last hour (`buckets`)
    are in memory, rebuilt from the keys after a rebalance (`rebuild`; a county with over 500
    petitions in the last hour then misses the counts of the evicted ones). `rebuild` still reads
    what older versions wrote — `f|` hour buckets, `d|` values without topic, all clusters of a
    county in one `c|{region}` value with `k|{region}|{cluster}` counts — and has the county's next
    petition rewrite or delete those keys."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.rings: dict[str, _Ring] = {}
        # write-through mirror of the `n|` counts, which only `on_intake` writes. Dropped on `rebuild`
        # (a rebalance may have moved partitions) and when full.
        self.cache: dict[str, Any] = {}
        self._cache_of: Any = None
        self.buckets: dict[str, dict[int, int]] = {}  # "region|topic" -> 5-minute bucket -> count
        self._window: tuple[int, Any, str] = (0, None, "")  # hour, tz, its form in dedup keys
        self._pending: dict[str, dict[str, Any]] = {}  # region -> key -> value (None: delete) from `rebuild`
        self._hours: dict[str, tuple[int, dict[str, int]]] = {}  # region -> open hour, topic -> count not yet in `n|`
        self._seen: dict[str, tuple[bool, ...]] = {}  # region -> its observed past weeks, for hour `_seen_h`
        self._seen_h = -1

    def rebuild(self, items: Any, now: datetime | None = None) -> None:
        self._reset()
        floor = int(now.timestamp() // 300) - 12 if now is not None else None
        cut = now.timestamp() - DOC_SECONDS if now is not None else -math.inf
        docs: dict[str, list[tuple[float, str, list[str]]]] = {}
        clusters: dict[str, dict[str, dict[str, Any]]] = {}
        legacy: dict[str, dict[str, Any]] = {}  # region -> {"c": clusters, "k": counts}
        totals: dict[tuple[str, str], int] = {}  # (region, hour) -> sum of its `n|` counts
        have: set[tuple[str, str]] = set()  # (region, hour) with a `t|` key
        for key, value in items:
            kind, region, rest = (key.split("|", 2) + ["", ""])[:3]
            if kind == "n" and value:
                rh = (region, rest.rsplit("|", 1)[1])
                totals[rh] = totals.get(rh, 0) + int(value)
            elif kind == "t":
                have.add((region, rest))
            elif kind == "d" and value:
                docs.setdefault(region, []).append((float(value[0]), rest, value[1] or [], value[2] if len(value) > 2 else ""))
                if len(value) > 2:
                    self._count(f"{region}|{value[2]}", int(float(value[0]) // 300), 1, floor)
            elif kind == "c" and value:
                if rest:
                    clusters.setdefault(region, {})[rest] = value
                else:  # older versions: one value per county, counts in `k|` keys
                    legacy.setdefault(region, {"c": {}, "k": {}})["c"] = value
                    self._later(region, key, None)
            elif kind == "k" and value:
                legacy.setdefault(region, {"c": {}, "k": {}})["k"][rest] = value
                self._later(region, key, None)
            elif kind == "f" and value:  # older versions' hour buckets
                topic, b = rest.split("|", 1)
                self._count(f"{region}|{topic}", int(b), int(value), floor)
                if floor is not None and int(b) < floor:
                    self._later(region, key, None)
        for (region, h), n in totals.items():
            if (region, h) not in have:
                self._later(region, f"t|{region}|{h}", n)
        for region, old in legacy.items():
            for c, members in old["c"].items():
                clusters.setdefault(region, {})[c] = v = {"m": members, "n": old["k"].get(c) or len(members)}
                self._later(region, f"c|{region}|{c}", v)
        for region, ds in docs.items():
            ds.sort()  # by event time: the ring's arrival order is not stored
            keep = [d for d in ds if d[0] >= cut][-MAX_COMPARE:]
            for _, cid, _, _ in ds[: len(ds) - len(keep)]:
                self._later(region, f"d|{region}|{cid}", None)
            ring = self.rings[region] = _Ring()
            for t, cid, toks, _ in keep:
                ring.add(cid, _analysed(toks), t)
            if ds[-1][3]:  # the open hour's counts, not written yet (see `_tally`), also from expired petitions
                last = int(ds[-1][0] // 3600)
                tally: dict[str, int] = {}
                for t, _, _, topic in ds:
                    if int(t // 3600) == last and topic:
                        tally[topic] = tally.get(topic, 0) + 1
                self._hours[region] = (last, tally)
        for region, cs in clusters.items():
            ring = self.rings.setdefault(region, _Ring())
            for c, v in cs.items():
                ring.keep(c, v)
            for c in ring.dead(list(cs)):
                self._later(region, f"c|{region}|{c}", None)
            ring.suspects.clear()

    def _tally(self, store: Any, region: str, topic: str, h: int) -> None:
        """Count a petition for the baseline. A county's open (latest) hour is counted in memory and
        written when its first petition of a later hour arrives: one `n|` write per county, topic
        and hour (and one `t|` per county and hour) instead of one per petition (table writes are
        the worker's dearest operation). A late petition for an hour already written adds to its key directly. After a rebalance
        the open hour is recounted from the ring (`rebuild`)."""
        open_h, counts = self._hours.get(region, (None, {}))
        if open_h is None or h > open_h:
            if open_h is not None:
                self._flush(store, region, open_h, counts)
            self._hours[region] = (h, {topic: 1})
        elif h == open_h:
            counts[topic] = counts.get(topic, 0) + 1
        else:
            self._flush(store, region, h, {topic: 1})

    def _flush(self, store: Any, region: str, h: int, counts: dict[str, int]) -> None:
        old = h - WEEK_HOURS * (BASE_WEEKS + 1)
        for topic, n in counts.items():
            key = f"n|{region}|{topic}|{h}"
            self._set(store, key, (self._get(store, key) or 0) + n)
            self._del(store, f"n|{region}|{topic}|{old}")
        key = f"t|{region}|{h}"
        self._set(store, key, (self._get(store, key) or 0) + sum(counts.values()))
        self._del(store, f"t|{region}|{old}")
        self._seen.pop(region, None)  # a past hour's total changed: its observed weeks are read again

    def _later(self, region: str, key: str, value: Any) -> None:
        self._pending.setdefault(region, {})[key] = value

    def _count(self, rt: str, bucket: int, n: int, floor: int | None) -> None:
        if floor is None or bucket >= floor:
            b = self.buckets.setdefault(rt, {})
            b[bucket] = b.get(bucket, 0) + n

    # ------------------------------------------------------------ store access
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

    @staticmethod
    def _drop(store: Any, key: str) -> None:
        """Delete a key that is not mirrored, if it is there."""
        if store.get(key) is not None:
            del store[key]

    def on_intake(self, store: Any, fact: dict[str, Any], now: datetime) -> tuple[bool, list[AlertRecord]]:
        """Count one petition and return the alerts raised or updated; False for a duplicate."""
        region, topic, cid = fact["region_code"], fact["topic"], fact["case_id"]
        dkey = f"d|{region}|{cid}"
        ring = self.rings.get(region)
        if (ring is not None and cid in ring.slot_of) or store.get(dkey) is not None:
            return False, []
        for key, value in self._pending.pop(region, {}).items():
            if value is None:
                self._drop(store, key)
            else:
                store[key] = value
        at, now_ts = datetime.fromisoformat(fact["at"]).timestamp(), now.timestamp()
        h, f = int(at // 3600), int(at // 300)
        self._tally(store, region, topic, h)
        floor = min(f, int(now_ts // 300)) - 12  # buckets below are never read again
        b = self.buckets.setdefault(f"{region}|{topic}", {})
        for old in [k for k in b if k < floor]:
            del b[old]
        self._count(f"{region}|{topic}", f, 1, floor)
        an = analyse(fact.get("text", ""))
        store[dkey] = [at, list(an[0]), topic]
        out = self._hotspot(store, region, topic, now, now_ts, cid)
        ring = ring or self.rings.setdefault(region, _Ring())
        for old in ring.expire(now_ts - DOC_SECONDS):
            self._drop(store, f"d|{region}|{old}")
        similar = ring.similar(an) if an[2] and ring.n else []  # before `add`, which may evict one
        evicted = ring.add(cid, an, at)
        if evicted is not None:
            self._drop(store, f"d|{region}|{evicted}")
        if similar:
            out += self._class(store, ring, region, cid, similar, now)
        if ring.suspects:
            for c in ring.dead(ring.suspects):
                self._drop(store, f"c|{region}|{c}")
            ring.suspects.clear()
        return True, out

    def _hotspot(self, store: Any, region: str, topic: str, now: datetime, now_ts: float, cid: str) -> list[AlertRecord]:
        now_f, now_h = int(now_ts // 300), int(now_ts // 3600)
        b = self.buckets.get(f"{region}|{topic}", {})
        count = sum(n for k, n in b.items() if now_f - 11 <= k <= now_f)
        if count < MIN_COUNT:
            return []  # cannot be a hotspot whatever the baseline (skips the baseline reads)
        if self._window[:2] != (now_h, now.tzinfo):
            self._window = (now_h, now.tzinfo, datetime.fromtimestamp(now_h * 3600, tz=now.tzinfo).strftime("%Y%m%dT%H00"))
        dk = f"hotspot:{region}:{topic}:{self._window[2]}"
        if store.get(f"a|{dk}") is not None:
            return []  # raised in this window already (read first: skips the baseline reads)
        slots = [now_h - WEEK_HOURS * w for w in range(1, BASE_WEEKS + 1)]
        base = baseline_of([(self._get(store, f"n|{region}|{topic}|{slot}") or 0) if seen else None
                            for slot, seen in zip(slots, self._observed(store, region, now_h, slots))])
        if not base.hotspot(count):
            return []  # not above the baseline, or no baseline yet (基线不足: fewer than 2 observed weeks)
        rec = AlertRecord(
            alert_id=alert_id_for(dk), dedup_key=dk, kind="hotspot", severity="warning", state="firing",
            region_code=region, raised_at=now, updated_at=now, case_ids=[cid],
            message=f"{name_of(region)} 「{topic}」近1小时 {count} 件，高于同时段基线 {base.mean:.1f}（{base.weeks}周均值，未诉先办）",
        )
        store[f"a|{dk}"] = {"r": rec.model_dump(mode="json")}
        return [rec]

    def _observed(self, store: Any, region: str, now_h: int, slots: list[int]) -> tuple[bool, ...]:
        """Which past weeks' hours the county was being counted at; kept for the current hour until
        the county's totals change (`_flush`), so a busy topic's checks do not each read 4 × 12 keys."""
        if self._seen_h != now_h:
            self._seen, self._seen_h = {}, now_h
        got = self._seen.get(region)
        if got is None:
            got = self._seen[region] = tuple(
                observed(self._get(store, f"t|{region}|{x}") for x in seen_window(slot)) for slot in slots)
        return got

    def _class(self, store: Any, ring: _Ring, region: str, cid: str, similar: list[tuple[float, int, str]],
               now: datetime) -> list[AlertRecord]:
        joined = {ring.index[c] for _, _, c in similar if c in ring.index}
        if joined:  # join the oldest cluster listing a similar petition
            cluster = joined.pop() if len(joined) == 1 else next(c for c in ring.clusters if c in joined)
            old = ring.clusters[cluster]
            n, members = old["n"] + 1, (old["m"] + [cid])[-MAX_LISTED:]
            ring.keep(cluster, v := {"m": members, "n": n}, [cid])
            store[f"c|{region}|{cluster}"] = v
            dk = f"class:{region}:{cluster}"
            slot = store.get(f"a|{dk}")
            if slot is None or n not in REPUBLISH_AT:
                return []
            new = change(slot["r"], now, case_ids=members, message=_class_msg(region, n))
            store[f"a|{dk}"] = {"r": new}
            return [AlertRecord.model_validate(new)]
        if len(similar) + 1 < CLASS_MIN:
            return []
        members = [c for _, _, c in sorted(similar)] + [cid]  # by event time, then arrival
        cluster = members[0]
        ring.keep(cluster, v := {"m": members, "n": len(members)})
        store[f"c|{region}|{cluster}"] = v
        dk = f"class:{region}:{cluster}"
        rec = AlertRecord(
            alert_id=alert_id_for(dk), dedup_key=dk, kind="class_case", severity="warning", state="firing",
            region_code=region, raised_at=now, updated_at=now, case_ids=members, message=_class_msg(region, len(members)),
        )
        store[f"a|{dk}"] = {"r": rec.model_dump(mode="json")}
        return [rec]


def _class_msg(region: str, n: int) -> str:
    return f"{name_of(region)} 7日内 {n} 件内容相似的诉求，疑似类案，请统筹化解"
