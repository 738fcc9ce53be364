"""False rectification (假性整改): a petition that repeats a case concluded as resolved.

DESIGN.md section 4, "What the numbers mean" (repeat-complaint rate), and issue 14 item 6:
a new petition on the same topic by the same citizen (keyed phone hash) or at the same
address, received within 30 days after an earlier case was concluded as resolved, is a
repeat. It is linked to the earlier case (`RepeatRecord.earlier_case_id`) and counted in the
repeat-complaint rate of the department that concluded the earlier case.

Pure. The adapter (streams/agents_repeat.py) keeps one `Book` per match key (basis, key,
topic), fed with the petitions and conclusions it sees in any order; `Book.add_petition` and
`Book.add_conclusion` return the repeats the new fact reveals, each petition at most once
per key. Choices where DESIGN.md is silent:

* "concluded as resolved" is the domain's own judgement in the snapshot: the current resolve
  round met (a resolved reply, awaiting evaluation or archived) or answered online; the
  conclusion instant is when that round was met. A case re-opened and concluded again
  counts from its latest conclusion.
* the earlier case is the latest one concluded before the petition; a phone match wins
  over an address match (`RepeatRecord.version`).
* the address is matched by a keyed hash of its normalised form (full-width folded, spaces
  and punctuation dropped), only when at least `MIN_ADDRESS_CHARS` characters remain, so
  "石家庄市" alone matches nobody.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime

from fengqiao.domain.phase import Phase, TargetStatus
from fengqiao.privacy import keyed_hash
from fengqiao.records import CaseSnapshot, Record

if TYPE_CHECKING:
    from fengqiao.domain.metrics import Rate

WINDOW = timedelta(days=30)
KEEP = timedelta(days=62)  # facts older than this (behind the newest one of a key) are dropped
MAX_PER_KEY = 64  # a busy address keeps its latest facts only
MIN_ADDRESS_CHARS = 6
Basis = Literal["phone", "address"]
BASIS_VERSION: dict[str, int] = {"address": 1, "phone": 2}  # the sink keeps the highest
LABEL_ZH = "重复投诉"


def link_label(earlier_case_id: str) -> str:
    """What every screen shows beside a repeat: 重复投诉 · 关联 <earlier case id>."""
    return f"{LABEL_ZH} · 关联 {earlier_case_id}"


# ------------------------------------------------------------------ keys
def normalize_address(address: str) -> str:
    """NFKC (full-width folded), lower case, without spaces and punctuation."""
    text = unicodedata.normalize("NFKC", address).lower()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith(("P", "S"))))


def address_hash(address: str | None, secret: str) -> str | None:
    """Keyed hash of the normalised address; None when too little of it is left to tell places apart."""
    if not address:
        return None
    norm = normalize_address(address)
    return keyed_hash(norm, secret, "match:address") if len(norm) >= MIN_ADDRESS_CHARS else None


@dataclass(frozen=True, slots=True)
class MatchKey:
    basis: Basis
    value: str  # the keyed phone hash or address hash: never the clear value
    topic: str

    def encode(self) -> str:
        return f"{self.basis}|{self.topic}|{self.value}"


def match_keys(phone_hash: str | None, addr_hash: str | None, topic: str) -> list[MatchKey]:
    keys = []
    if phone_hash:
        keys.append(MatchKey("phone", phone_hash, topic))
    if addr_hash:
        keys.append(MatchKey("address", addr_hash, topic))
    return keys


# ------------------------------------------------------------------ facts
@dataclass(frozen=True, slots=True)
class Petition:
    """A petition received: a candidate repeat."""

    case_id: str
    received_at: datetime
    region_code: str

    def to_wire(self) -> list[str]:
        return [self.case_id, self.received_at.isoformat(), self.region_code]

    @classmethod
    def from_wire(cls, v: list[str]) -> "Petition":
        return cls(v[0], _aware(v[1]), v[2])


@dataclass(frozen=True, slots=True)
class Conclusion:
    """A case concluded as resolved, by `department`, at `at`."""

    case_id: str
    department: str
    at: datetime

    def to_wire(self) -> list[str]:
        return [self.case_id, self.department, self.at.isoformat()]

    @classmethod
    def from_wire(cls, v: list[str]) -> "Conclusion":
        return cls(v[0], v[1], _aware(v[2]))


def _aware(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"时间缺少时区 / naive instant {text!r}")
    return at


def conclusion_of(s: CaseSnapshot) -> Conclusion | None:
    """The snapshot's conclusion as resolved, if it is one (see the module's choices)."""
    if s.phase not in (Phase.awaiting_evaluation, Phase.closed) or s.resolve_status != TargetStatus.met:
        return None
    at = s.resolve_ended_at or s.closed_at
    return Conclusion(case_id=s.case_id, department=s.department, at=at) if at is not None else None


class RepeatRecord(Record):
    """What `petitions.repeats` carries (key: `case_id`): the petition `case_id` repeats
    `earlier_case_id`, concluded as resolved by `earlier_department` at `concluded_at`."""

    case_id: str
    earlier_case_id: str
    earlier_department: str
    basis: Basis
    topic: str
    region_code: str
    received_at: AwareDatetime
    concluded_at: AwareDatetime
    version: int = 1

    @property
    def label(self) -> str:
        return link_label(self.earlier_case_id)


def is_repeat(p: Petition, c: Conclusion, window: timedelta = WINDOW) -> bool:
    """`p` came within `window` after `c` was concluded (and is another case)."""
    return p.case_id != c.case_id and c.at < p.received_at <= c.at + window


# ------------------------------------------------------------------ one key's book
@dataclass(frozen=True, slots=True)
class Book:
    """The recent petitions and conclusions of one match key; `flagged`: petitions already
    reported as repeats under this key."""

    key: MatchKey
    petitions: tuple[Petition, ...] = ()
    conclusions: tuple[Conclusion, ...] = ()
    flagged: frozenset[str] = field(default_factory=frozenset)

    def _record(self, p: Petition, c: Conclusion) -> RepeatRecord:
        return RepeatRecord(case_id=p.case_id, earlier_case_id=c.case_id, earlier_department=c.department,
                            basis=self.key.basis, topic=self.key.topic, region_code=p.region_code,
                            received_at=p.received_at, concluded_at=c.at, version=BASIS_VERSION[self.key.basis])

    def _earlier(self, p: Petition, window: timedelta) -> Conclusion | None:
        found = [c for c in self.conclusions if is_repeat(p, c, window)]
        return max(found, key=lambda c: (c.at, c.case_id)) if found else None

    def add_petition(self, p: Petition, window: timedelta = WINDOW) -> tuple["Book", list[RepeatRecord]]:
        if any(x.case_id == p.case_id for x in self.petitions):  # seen (redelivered): nothing new
            return self, []
        book = replace(self, petitions=self.petitions + (p,))
        c = book._earlier(p, window)
        if c is None:
            return book._pruned(), []
        return replace(book, flagged=book.flagged | {p.case_id})._pruned(), [book._record(p, c)]

    def add_conclusion(self, c: Conclusion, window: timedelta = WINDOW) -> tuple["Book", list[RepeatRecord]]:
        """A case concluded (again: its latest conclusion replaces the earlier one)."""
        old = [x for x in self.conclusions if x.case_id == c.case_id]
        if old and old[0].at >= c.at:
            return self, []
        book = replace(self, conclusions=tuple(x for x in self.conclusions if x.case_id != c.case_id) + (c,))
        found, flagged = [], set(book.flagged)
        for p in sorted(book.petitions, key=lambda x: (x.received_at, x.case_id)):
            if p.case_id in flagged or not is_repeat(p, c, window):
                continue
            earlier = book._earlier(p, window)
            if earlier is not None:
                flagged.add(p.case_id)
                found.append(book._record(p, earlier))
        return replace(book, flagged=frozenset(flagged))._pruned(), found

    def _pruned(self) -> "Book":
        instants = [p.received_at for p in self.petitions] + [c.at for c in self.conclusions]
        if not instants:
            return self
        floor = max(instants) - KEEP
        ps = tuple(p for p in self.petitions if p.received_at >= floor)[-MAX_PER_KEY:]
        cs = tuple(c for c in self.conclusions if c.at >= floor)[-MAX_PER_KEY:]
        kept = {p.case_id for p in ps}
        return replace(self, petitions=ps, conclusions=cs, flagged=frozenset(self.flagged & kept))

    # the Faust table's value (JSON-able, compact: the table reads and writes the whole book per fact)
    def to_dict(self) -> dict[str, object]:
        return {"k": [self.key.basis, self.key.value, self.key.topic], "p": [p.to_wire() for p in self.petitions],
                "c": [c.to_wire() for c in self.conclusions], "f": sorted(self.flagged)}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> "Book":
        basis, value, topic = d["k"]  # type: ignore[misc]
        return cls(MatchKey(basis, value, topic), tuple(map(Petition.from_wire, d.get("p", ()))),  # type: ignore[arg-type]
                   tuple(map(Conclusion.from_wire, d.get("c", ()))), frozenset(d.get("f", ())))  # type: ignore[arg-type]


# ------------------------------------------------------------------ counting
def mark(snaps: Iterable[CaseSnapshot], repeats: Iterable[RepeatRecord]) -> list[CaseSnapshot]:
    """The snapshots with `repeat_complaint` set on the petitions flagged as repeats (what the
    read model's `repeats` table says about them)."""
    flagged = {r.case_id for r in repeats}
    return [s.model_copy(update={"repeat_complaint": True}) if s.case_id in flagged else s for s in snaps]


def attributed(repeats: Iterable[RepeatRecord]) -> dict[str, RepeatRecord]:
    """One record per repeat petition: the phone match wins over the address one (the sink's rule)."""
    out: dict[str, RepeatRecord] = {}
    for r in repeats:
        if r.case_id not in out or r.version > out[r.case_id].version:
            out[r.case_id] = r
    return out


def department_repeats(cases: Iterable[CaseSnapshot], repeats: Iterable[RepeatRecord], start: date,
                       end: date) -> dict[str, int]:
    """Repeat petitions received between `start` and `end` (counted cases), per department that
    concluded the earlier case: the numerator of that department's 重复投诉率."""
    from fengqiao.domain.metrics import received_in

    counted = {s.case_id for s in received_in(cases, start, end)}
    out: dict[str, int] = {}
    for r in attributed(repeats).values():
        if r.case_id in counted and r.earlier_department:
            out[r.earlier_department] = out.get(r.earlier_department, 0) + 1
    return out


def department_rate(repeats_of_department: int, received_by_department: int) -> "Rate":
    """A department's 重复投诉率: the repeats of the cases it concluded / the cases it received in
    the period. A repeat may be dispatched to another department, so in a pathological period
    the count could pass the received ones: it is capped there (a rate is a share)."""
    from fengqiao.domain.metrics import Rate

    return Rate(min(repeats_of_department, received_by_department), received_by_department)
