"""Benchmark of the early-warning logic (`EarlyWarning.on_intake`), old vs new module, on the
simulator's mix. Prints figures; asserts nothing; no Kafka.

    git show HEAD:streams/early_warning.py > /tmp/early_old.py   # the version to compare with
    .venv/bin/python bench/bench_early.py [--old /tmp/early_old.py] [--events 300000]

1. Facts as `streams/casework.py` publishes them to the early topic (one per new case; text =
   title + content cut at 600 chars) from `generate_events(seed, events, start=now − 7500 s, rate=2)`:
   190 counties, ~2 petitions/s of event time. 300 000 events give ~120 000 petitions, ~640 per
   county: the later ones meet full 500-petition rings (the steady state of a running worker).
2. Each module is loaded from its file (fresh module caches; jieba's dictionary is loaded before
   and the bench's own objects are frozen out of the garbage collector's way), and `on_intake` runs
   over all facts with a dict store and the live clock (now = the fact's event time): CPU µs per
   fact, overall and per block of 20 000 facts; alerts raised (hotspot, class case), class-case
   updates, and the class-case dedup keys both raise; what each keeps.
3. Memory: under tracemalloc, what is kept once the store is dropped (the `EarlyWarning` object and
   module caches; in the worker the store is RocksDB) after 10 000 and 20 000 facts folded into 5
   counties (2 000 / 4 000 per county).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import logging
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fengqiao.vocab import TZ  # noqa: E402
from producers.simulator import generate_events  # noqa: E402

BLOCK = 20_000


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (getattr(mod, "analyse", None) or mod.tokens)("预热 1号")  # one-off set-up (dictionary scans) not timed
    return mod


def facts_of(seed: int, events: int) -> list[dict[str, str]]:
    evs = generate_events(seed, events, start=datetime.now(TZ) - timedelta(seconds=7500), rate=2.0)
    out, seen = [], set()
    for ev in evs:
        if ev.event_type != "petition.received" or ev.case_id in seen:
            continue  # casework publishes one early fact per new case
        seen.add(ev.case_id)
        p = ev.payload
        out.append({"case_id": ev.case_id, "region_code": ev.region_code, "topic": p.topic,
                    "at": ev.occurred_at.isoformat(), "text": f"{p.title} {p.content}"[:600]})
    return out


def run(mod: ModuleType, facts: list[dict[str, str]]) -> tuple[list[float], dict[str, Any], Any, dict]:
    """(CPU µs per fact for each block of BLOCK facts, alert counts, the EarlyWarning, the store)."""
    ew, store = mod.EarlyWarning(), {}
    nows = [datetime.fromisoformat(f["at"]) for f in facts]
    counts: dict[str, Any] = {"hotspot": 0, "class_case": 0, "class_update": 0, "keys": set()}
    blocks: list[float] = []
    for start in range(0, len(facts), BLOCK):
        t = time.process_time()
        for fact, now in zip(facts[start:start + BLOCK], nows[start:start + BLOCK]):
            for r in ew.on_intake(store, fact, now)[1]:
                if r.version > 1:
                    counts["class_update"] += 1
                    continue
                counts[r.kind] += 1
                if r.kind == "class_case":
                    counts["keys"].add(r.dedup_key)
        blocks.append((time.process_time() - t) / len(facts[start:start + BLOCK]) * 1e6)
    return blocks, counts, ew, store


def sizes(ew: Any, mod: ModuleType, store: dict) -> str:
    d_keys = sum(1 for k in store if k.startswith("d|"))
    mirror = f"mirror {len(ew.cache)} values"
    listed = sum(len(m) for k, v in store.items() if k.startswith("c|") for m in (v.values() if "|" not in k[2:] else [v["m"]]))
    keys = f"d| keys {d_keys}, c| keys {sum(1 for k in store if k.startswith('c|'))} listing {listed} ids"
    if hasattr(ew, "rings"):
        held = sum(len(r.slot_of) for r in ew.rings.values())
        c = mod if hasattr(mod, "_blocks") else importlib.import_module("streams.similarity")  # caches moved there
        return (f"{len(ew.rings)} rings holding {held} petitions; caches: {len(c._texts)} texts, "
                f"{len(c._blocks)} blocks, {len(c._shapes)} shapes; {mirror}; {keys}")
    held = sum(len(d) for d in ew.docs.values())
    return f"docs: {held} token sets; token cache {len(mod._token_cache)} texts; {mirror}; {keys}"


def kept(path: Path, name: str, facts: list[dict[str, str]]) -> tuple[float, float]:
    """(MB kept without the store, tracemalloc peak MB with it)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    mod = load(name, path)
    _, _, ew, store = run(mod, facts)
    peak = tracemalloc.get_traced_memory()[1] - base
    del store
    gc.collect()
    out = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del ew, mod
    return out / 2**20, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="/tmp/early_old.py")
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # loading the dictionary (~1 s) is not part of the per-fact cost
    facts = facts_of(a.seed, a.events)
    gc.collect()
    gc.freeze()  # the bench's own objects (facts) out of the collector's way: a worker does not hold them
    counties = {f["region_code"] for f in facts}
    print(f"{a.events} events -> {len(facts)} facts, {len(counties)} counties, "
          f"{len({f['text'] for f in facts})} distinct texts")
    versions = {"old": Path(a.old), "new": ROOT / "streams" / "early_warning.py"}
    res: dict[str, dict[str, Any]] = {}
    for name, path in versions.items():
        mod = load(f"early_{name}", path)
        blocks, counts, ew, store = run(mod, facts)
        total = sum(b * min(BLOCK, len(facts) - i * BLOCK) for i, b in enumerate(blocks)) / len(facts)
        res[name] = {"us": total, **counts}
        print(f"{name}: {total:6.1f} µs/fact (CPU) | per {BLOCK} facts: {' '.join(f'{b:.0f}' for b in blocks)}")
        print(f"     hotspots {counts['hotspot']}, class cases {counts['class_case']}, "
              f"class-case updates {counts['class_update']}")
        print(f"     kept: {sizes(ew, mod, store)}")
        del ew, store, mod
    if set(res) == {"old", "new"}:
        o, n = res["old"]["keys"], res["new"]["keys"]
        print(f"speed-up {res['old']['us'] / res['new']['us']:.1f}x; class-case keys: {len(o & n)} in both, "
              f"{len(o - n)} only old, {len(n - o)} only new")
    codes = sorted(counties)[:5]
    for n in (10_000, 20_000):
        folded = [{**f, "region_code": codes[i % 5]} for i, f in enumerate(facts[:n])]
        for name, path in versions.items():
            mb, peak = kept(path, f"early_{name}_{n}", folded)
            print(f"{name}: {n} facts in 5 counties: kept without the store {mb:6.1f} MB "
                  f"(tracemalloc peak with the dict store {peak:6.1f} MB)")


if __name__ == "__main__":
    main()
