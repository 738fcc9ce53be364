"""Repeat complaints (假性整改): the 30-day rule, any arrival order, attribution, the address key."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.domain import metrics
from fengqiao.domain import repeat as rp
from fengqiao.domain.phase import Phase, TargetStatus
from fengqiao.records import CaseSnapshot
from fengqiao.vocab import TZ

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
KEY = rp.MatchKey("phone", "h" * 64, "劳资纠纷")


def pet(case_id: str, at: datetime) -> rp.Petition:
    return rp.Petition(case_id=case_id, received_at=at, region_code="130102")


def con(case_id: str, at: datetime, dept: str = "长安区人社局") -> rp.Conclusion:
    return rp.Conclusion(case_id=case_id, department=dept, at=at)


def feed(facts: list[rp.Petition | rp.Conclusion], key: rp.MatchKey = KEY) -> list[rp.RepeatRecord]:
    book, out = rp.Book(key), []
    for f in facts:
        book, found = book.add_petition(f) if isinstance(f, rp.Petition) else book.add_conclusion(f)
        out += found
        book = rp.Book.from_dict(book.to_dict())  # the table's JSON round trip on every step
    return out


def test_a_petition_within_30_days_after_a_resolved_conclusion_is_a_repeat() -> None:
    got = feed([pet("A", T0), con("A", T0 + timedelta(days=2)), pet("B", T0 + timedelta(days=20))])
    assert [(r.case_id, r.earlier_case_id, r.earlier_department, r.basis) for r in got] == \
        [("B", "A", "长安区人社局", "phone")]
    assert got[0].label == "重复投诉 · 关联 A"


@pytest.mark.parametrize("days", [30.01, 40])
def test_after_30_days_it_is_a_new_petition(days: float) -> None:
    assert feed([con("A", T0), pet("B", T0 + timedelta(days=days))]) == []


def test_before_the_conclusion_it_is_not_a_repeat_and_a_case_never_repeats_itself() -> None:
    assert feed([pet("B", T0), con("A", T0 + timedelta(hours=1))]) == []
    assert feed([pet("A", T0), con("A", T0 + timedelta(hours=1)), pet("A", T0 + timedelta(days=1))]) == []


def test_the_latest_earlier_conclusion_is_linked_and_a_petition_is_flagged_once() -> None:
    got = feed([con("A1", T0), con("A2", T0 + timedelta(days=3)), pet("B", T0 + timedelta(days=5)),
                pet("B", T0 + timedelta(days=5)), con("A3", T0 + timedelta(days=4))])
    assert [(r.case_id, r.earlier_case_id) for r in got] == [("B", "A2")]


def test_a_re_concluded_case_counts_from_its_latest_conclusion() -> None:
    got = feed([con("A", T0), con("A", T0 + timedelta(days=25)), pet("B", T0 + timedelta(days=40))])
    assert [(r.earlier_case_id, r.concluded_at) for r in got] == [("A", T0 + timedelta(days=25))]


instants = st.integers(min_value=0, max_value=60 * 24 * 3600)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p", "c"]), st.sampled_from(["A", "B", "C", "D"]), instants),
                min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_arrival_order_flags_the_same_petitions(facts: list[tuple[str, str, int]], rnd) -> None:  # type: ignore[no-untyped-def]
    """The worker's partitions deliver petitions and conclusions in any order: the set of
    repeat petitions is the same (each case's first petition / latest conclusion counts)."""
    pets: dict[str, rp.Petition] = {}
    cons: dict[str, rp.Conclusion] = {}
    for kind, cid, sec in facts:
        at = T0 + timedelta(seconds=sec)
        if kind == "p":
            pets.setdefault(cid, pet(cid, at))
        elif cid not in cons or cons[cid].at < at:
            cons[cid] = con(cid, at)
    items: list[rp.Petition | rp.Conclusion] = [*pets.values(), *cons.values()]
    expected = {p.case_id for p in pets.values() if any(rp.is_repeat(p, c) for c in cons.values())}
    shuffled = items[:]
    rnd.shuffle(shuffled)
    for order in (items, shuffled):
        got = feed(order)
        assert {r.case_id for r in got} == expected
        assert len(got) == len(expected)  # once each


def test_address_key_folds_spacing_and_width_and_ignores_vague_addresses() -> None:
    a = rp.address_hash("石家庄市 长安区 建设北大街１２号", "k")
    assert a == rp.address_hash("石家庄市长安区建设北大街12号。", "k") and a is not None
    assert a != rp.address_hash("石家庄市长安区建设北大街14号", "k")
    assert rp.address_hash("石家庄市", "k") is None and rp.address_hash(None, "k") is None
    assert "建设" not in a and a != rp.address_hash("石家庄市长安区建设北大街12号", "other key")
    keys = rp.match_keys("ph", a, "物业管理")
    assert [k.basis for k in keys] == ["phone", "address"] and rp.match_keys(None, None, "x") == []


def snap(case_id: str, phase: Phase, resolve: TargetStatus, department: str = "D1",
         received: datetime = T0, ended: datetime | None = None) -> CaseSnapshot:
    return CaseSnapshot(case_id=case_id, version=3, status="replied", phase=phase, resolve_status=resolve,
                        resolve_ended_at=ended, region_code="130102", prefecture_code="130100",
                        department=department, received_at=received, updated_at=received)


def test_conclusion_is_the_domains_judgement() -> None:
    done = snap("A", Phase.awaiting_evaluation, TargetStatus.met, ended=T0 + timedelta(days=1))
    assert rp.conclusion_of(done) == con("A", T0 + timedelta(days=1), "D1")
    assert rp.conclusion_of(snap("A", Phase.open, TargetStatus.pending)) is None
    assert rp.conclusion_of(snap("A", Phase.closed, TargetStatus.dropped, ended=T0)) is None  # archived unresolved


def test_the_rate_counts_repeats_for_the_department_that_concluded_the_earlier_case() -> None:
    day = T0.date()
    cases = [snap("A", Phase.closed, TargetStatus.met, "D1", ended=T0), snap("B", Phase.open, TargetStatus.pending, "D2"),
             snap("C", Phase.open, TargetStatus.pending, "D2"), snap("E", Phase.merged, TargetStatus.none, "D2")]
    recs = [rp.RepeatRecord(case_id="B", earlier_case_id="A", earlier_department="D1", basis="address", topic="t",
                            region_code="130102", received_at=T0, concluded_at=T0, version=1),
            rp.RepeatRecord(case_id="B", earlier_case_id="A", earlier_department="D1", basis="phone", topic="t",
                            region_code="130102", received_at=T0, concluded_at=T0, version=2),
            rp.RepeatRecord(case_id="E", earlier_case_id="A", earlier_department="D1", basis="phone", topic="t",
                            region_code="130102", received_at=T0, concluded_at=T0, version=2)]
    marked = rp.mark(cases, recs)
    assert metrics.rate("repeat", marked, T0) == metrics.Rate(1, 3)  # the merged duplicate is not a case
    assert rp.department_repeats(cases, recs, day, day) == {"D1": 1}
    assert rp.department_rate(1, 1) == metrics.Rate(1, 1) and rp.department_rate(3, 2) == metrics.Rate(2, 2)
    assert rp.department_repeats(cases, recs, date(2026, 12, 1), date(2026, 12, 2)) == {}


def test_a_busy_key_keeps_a_bounded_book() -> None:
    book = rp.Book(KEY)
    for i in range(200):
        book, _ = book.add_petition(pet(f"P{i}", T0 + timedelta(days=i)))
    assert len(book.petitions) <= rp.MAX_PER_KEY
    assert book.petitions[0].received_at >= T0 + timedelta(days=199) - rp.KEEP
