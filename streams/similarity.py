"""Similar petitions for class cases (类案): jieba tokens and a per-county ring of recent ones.

Split from `early_warning` (which decides what is a class case and raises it); see its docstring
for the design: tokens cut and cached per clause with exactly jieba's result on the whole text,
512-bit hashed token sets compared in one vectorised step, candidates checked exactly.
"""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from collections import OrderedDict
from fractions import Fraction
from typing import Any

import numpy as np

SIMILAR = 0.45
PREFILTER = 0.40  # hashed-set threshold: exact positives whose hashed index lost a shared token still pass
MAX_COMPARE = 500  # a petition is compared with the county's 500 most recent ones
STOP = frozenset("我们 你们 他们 这个 那个 一个 没有 什么 怎么 因为 所以 但是 已经 还是 希望 请求 问题 情况 反映 相关 进行 要求 我家 现在 一直 如果 可以 能够 这样 自己 时候 帮助 解决 处理".split())

HMM = True
BITS = 512  # hashed token set: 8 uint64 words per petition
TEXT_CACHE = 5_000  # whole texts remembered (form letters and copies repeat verbatim)
BLOCK_CACHE = 20_000  # blocks (clauses) and digit shapes remembered, ~300 B each
_NUM, _DEN = Fraction(PREFILTER).limit_denominator(1000).as_integer_ratio()  # 2/5: an integer test
_WEIGHTS = np.full(BITS // 64, _DEN + _NUM, np.float32)  # float32 is exact: values ≤ 7 · 512
# sorted tokens, their 512-bit set (8 uint64), its popcount, and the tokens' 64-bit `hash` for the exact check
Analysis = tuple[list[str], np.ndarray, int, "array[int]"]
_NONE: array[int] = array("q")
_texts: OrderedDict[str, Analysis] = OrderedDict()
_blocks: OrderedDict[str, tuple[tuple[str, ...], int]] = OrderedDict()  # block -> tokens, hashed set
_shapes: OrderedDict[str, tuple[int, ...]] = OrderedDict()  # block with its digits as 0 -> word lengths
_DIGITS = str.maketrans("123456789", "000000000")
_digit_words: tuple[str, ...] | None = None  # dictionary words with a digit (4S店, 1号店 …)


def _remember(cache: OrderedDict[str, Any], key: str, value: Any, size: int) -> Any:
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)
    return value


def _hashed(toks: Any) -> int:
    """The 512-bit set of some tokens, as an int (crc32, not `hash`: stable across processes)."""
    bits = 0
    for t in toks:
        bits |= 1 << (zlib.crc32(t.encode()) % BITS)
    return bits


def _row(bits: int) -> np.ndarray:
    return np.frombuffer(bits.to_bytes(BITS // 8, "little"), "<u8")


def _analysed(toks: list[str]) -> Analysis:
    """The analysis of stored tokens (`rebuild`)."""
    bits = _hashed(toks)
    return sorted(toks), _row(bits), bits.bit_count(), array("q", map(hash, toks))


def _words(blk: str) -> list[str]:
    """`jieba.lcut(blk)`, cut once per digit shape: apart from the few dictionary words holding a
    digit, each digit is a one-character DAG node of the same weight (and HMM skips digits), so a
    block differing from a seen one only in its digits ("拖欠47名工人工资约73000元") has words of
    the same lengths."""
    global _digit_words
    import jieba  # loads its dictionary once (~1 s)

    if _digit_words is None:
        jieba.dt.check_initialized()
        _digit_words = tuple(w for w, f in jieba.dt.FREQ.items() if f and any("0" <= c <= "9" for c in w))
    shape = blk.translate(_DIGITS)
    if shape == blk or any(w in blk or w in shape for w in _digit_words):
        return jieba.lcut(blk, HMM=HMM)
    lens = _shapes.get(shape) or _remember(_shapes, shape, tuple(map(len, jieba.lcut(shape, HMM=HMM))), BLOCK_CACHE)
    out, i = [], 0
    for n in lens:
        out.append(blk[i:i + n])
        i += n
    return out


def _cut(blk: str) -> tuple[tuple[str, ...], int]:
    toks = tuple({sys.intern(t) for t in _words(blk) if len(t) >= 2 and t not in STOP and not t.isdigit()})
    return _remember(_blocks, blk, (toks, _hashed(toks)), BLOCK_CACHE)


def analyse(text: str) -> Analysis:
    """Tokens of a text and their hashed forms (cached: do not modify them)."""
    hit = _texts.get(text)
    if hit is not None:
        _texts.move_to_end(text)
        return hit
    import jieba

    toks: set[str] = set()
    bits, known = 0, _blocks.get  # first in, first out: as many hits as LRU, cheaper
    for blk in jieba.re_han_default.split(text):  # the blocks `jieba.cut` cuts one by one
        if blk:
            t, b = known(blk) or _cut(blk)
            toks.update(t)
            bits |= b
    return _remember(_texts, text, (sorted(toks), _row(bits), bits.bit_count(), array("q", map(hash, toks))), TEXT_CACHE)


class Ring:
    """A county's `MAX_COMPARE` most recent petitions — petition number n sits in slot n % 500, so
    the next one evicts the oldest; an empty slot has no bits and time +inf (never expires) — and
    its live class-case clusters."""

    __slots__ = ("bits", "npop", "ts", "ids", "hashes", "slot_of", "n", "oldest", "clusters", "index", "suspects")

    def __init__(self) -> None:
        self.bits = np.zeros((MAX_COMPARE, BITS // 64), np.uint64)
        self.npop = np.zeros(MAX_COMPARE, np.float32)  # popcount × _NUM
        self.ts = np.full(MAX_COMPARE, np.inf)
        self.ids: list[str | None] = [None] * MAX_COMPARE
        self.hashes: list[array[int]] = [_NONE] * MAX_COMPARE  # contiguous: one memory read each
        self.slot_of: dict[str, int] = {}
        self.n = 0
        self.oldest = math.inf  # ≤ the earliest event time held: skips the expiry scan
        self.clusters: dict[str, dict[str, Any]] = {}  # cluster id -> its `c|` value {"m": listed ids, "n": count}
        self.index: dict[str, str] = {}  # listed case id -> its cluster
        self.suspects: set[str] = set()  # clusters that lost a listed member since the last check

    def _clear(self, s: int) -> str | None:
        cid, self.ids[s] = self.ids[s], None
        if cid is not None:
            del self.slot_of[cid]
            if cid in self.index:
                self.suspects.add(self.index[cid])
            self.bits[s], self.npop[s], self.ts[s], self.hashes[s] = 0, 0, np.inf, _NONE
        return cid

    def add(self, cid: str, an: Analysis, t: float) -> str | None:
        """Store a petition; returns the case id it evicted."""
        s = self.n % MAX_COMPARE
        old = self._clear(s)
        self.bits[s], self.npop[s], self.ts[s], self.ids[s], self.hashes[s] = an[1], an[2] * _NUM, t, cid, an[3]
        self.slot_of[cid] = s
        self.n += 1
        self.oldest = min(self.oldest, t)
        return old

    def expire(self, floor: float) -> list[str]:
        if self.oldest >= floor:
            return []
        out = [c for s in np.flatnonzero(self.ts < floor).tolist() if (c := self._clear(s)) is not None]
        self.oldest = float(self.ts.min())
        return out

    def similar(self, an: Analysis) -> list[tuple[float, int, str]]:
        """(event time, arrival rank, case id) of the similar petitions. Hashed prefilter in integers:
        inter / (|A| + |B| − inter) ≥ num/den ⇔ (den + num)·inter − num·|B| ≥ num·|A|; then the
        exact index on the tokens' 64-bit hashes."""
        m = min(self.n, MAX_COMPARE)
        score = np.bitwise_count(self.bits[:m] & an[1]).astype(np.float32) @ _WEIGHTS - self.npop[:m]
        hits = (score >= an[2] * _NUM).nonzero()[0].tolist()
        if not hits:
            return []
        mine, held, keep = frozenset(an[3]), self.hashes, []
        for s in hits:
            inter = len(mine.intersection(held[s]))
            if inter / (len(mine) + len(held[s]) - inter) >= SIMILAR:
                keep.append(s)
        first = self.n % MAX_COMPARE if self.n >= MAX_COMPARE else 0
        return [(t, (s - first) % MAX_COMPARE, self.ids[s]) for t, s in zip(self.ts[keep].tolist(), keep)]  # type: ignore[misc]

    def keep(self, cluster: str, value: dict[str, Any], added: Any = None) -> None:
        """Hold a cluster's new `c|` value (`added`: its only new listed ids, when known)."""
        old = self.clusters.get(cluster)
        if old:
            gone = old["m"][: len(old["m"]) - len(value["m"]) + len(added)] if added is not None else old["m"]
            for m in gone:
                if self.index.get(m) == cluster:
                    del self.index[m]
        self.clusters[cluster] = value
        self.index.update(dict.fromkeys(value["m"] if added is None else added, cluster))

    def dead(self, clusters: Any) -> list[str]:
        """Drop the given clusters none of whose listed members is held: a petition joins a
        cluster through a similar listed member, so they cannot grow again."""
        out = [c for c in clusters if c in self.clusters
               and not any(m in self.slot_of for m in reversed(self.clusters[c]["m"]))]
        for c in out:
            for m in self.clusters.pop(c)["m"]:
                if self.index.get(m) == c:
                    del self.index[m]
        return out
