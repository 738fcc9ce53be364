"""The simulator's generator: deterministic, valid, realistic shape."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from fengqiao.contract import parse_event
from fengqiao.regions import counties
from producers.simulator import generate_events

pytestmark = pytest.mark.unit
CST = timezone(timedelta(hours=8))

# allowed predecessor types per event type (a conservative reading of DESIGN.md section 4)
AFTER = {
    "case.assigned": {"petition.received", "case.returned", "case.evaluated", "case.callback", "case.escalated"},
    "case.returned": {"case.assigned"},
    "case.signed": {"case.assigned"},
    "case.escalated": {"case.signed", "case.evaluated", "case.callback"},
    "case.extended": {"case.signed"},
    "case.replied": {"case.signed", "case.extended", "case.replied"},
    "case.evaluated": {"case.replied"},
    "case.callback": {"case.replied"},
    "case.archived": {"case.replied", "case.evaluated", "case.callback"},
    "case.resolved_online": {"petition.received"},
    "case.merged": {"petition.received"},
}


@pytest.fixture(scope="module")
def lifecycle_events() -> list:
    return generate_events(11, 6000, speed=3600)


def test_deterministic_and_valid() -> None:
    a = generate_events(5, 800)
    b = generate_events(5, 800)
    assert [e.to_json() for e in a] == [e.to_json() for e in b]
    assert [e.to_json() for e in generate_events(6, 50)] != [e.to_json() for e in a[:50]]
    for e in a:
        assert parse_event(e.to_json()) == e
    assert len({e.event_id for e in a}) == len(a)


def test_start_changes_ids_not_content() -> None:
    s2 = datetime(2026, 12, 1, 8, 0, tzinfo=CST)
    a, b = generate_events(5, 20), generate_events(5, 20, start=s2)
    assert {e.event_id for e in a}.isdisjoint({e.event_id for e in b})
    assert b[0].occurred_at >= s2


def test_time_order_and_valid_order_per_case(lifecycle_events: list) -> None:
    ts = [e.occurred_at for e in lifecycle_events]
    assert ts == sorted(ts)
    last: dict[str, str] = {}
    for e in lifecycle_events:
        if e.event_type == "petition.received":
            assert e.case_id not in last
        else:
            assert last.get(e.case_id) in AFTER[e.event_type], (e.case_id, last.get(e.case_id), e.event_type)
        last[e.case_id] = e.event_type
    types = Counter(e.event_type for e in lifecycle_events)
    for t in ("case.assigned", "case.signed", "case.replied", "case.evaluated", "case.archived",
              "case.returned", "case.extended", "case.callback", "case.resolved_online", "case.merged"):
        assert types[t] > 0, t
    ratings = Counter(str(e.payload.rating) for e in lifecycle_events if e.event_type == "case.evaluated")
    assert ratings["dissatisfied"] > 0 and ratings["satisfied"] > ratings["dissatisfied"]


def test_resolved_online_only_for_consult(lifecycle_events: list) -> None:
    cat = {e.case_id: str(e.payload.category) for e in lifecycle_events if e.event_type == "petition.received"}
    for e in lifecycle_events:
        if e.event_type == "case.resolved_online":
            assert cat[e.case_id] == "consult"


def test_duplicates_same_citizen_other_channel_merged_into_earlier(lifecycle_events: list) -> None:
    received = {e.case_id: e for e in lifecycle_events if e.event_type == "petition.received"}
    merged = [e for e in lifecycle_events if e.event_type == "case.merged"]
    assert merged
    for m in merged:
        dup, orig = received[m.case_id], received[m.payload.into_case_id]
        assert dup.payload.citizen.phone_hash == orig.payload.citizen.phone_hash
        assert dup.payload.topic == orig.payload.topic
        assert dup.channel != orig.channel
        assert orig.occurred_at < dup.occurred_at <= orig.occurred_at + timedelta(days=7)


def test_no_clear_contact_data() -> None:
    for e in generate_events(3, 500):
        if e.event_type == "petition.received" and e.payload.citizen:
            c = e.payload.citizen
            assert c.phone is None or "****" in c.phone
            assert c.name is None or "*" in c.name
            assert c.id_number is None or "*" in c.id_number


def test_regions_channels_and_population_weighting() -> None:
    evs = [e for e in generate_events(2, 40000, rate=5.0) if e.event_type == "petition.received"]
    codes = Counter(e.region_code for e in evs)
    assert set(codes) == {r.code for r in counties()}  # all 190 county-level codes
    channels = Counter(str(e.channel) for e in evs)
    assert channels.most_common(1)[0][0] == "hotline"
    # populous 保定 counties vs sparse 承德 counties
    bd = sum(v for k, v in codes.items() if k.startswith("1306")) / len([r for r in counties("130600")])
    cd = sum(v for k, v in codes.items() if k.startswith("1308")) / len([r for r in counties("130800")])
    assert bd > cd


def test_daily_curve_quiet_nights_morning_peak() -> None:
    # speed 60: one virtual day per 24 minutes of event time; start at midnight
    start = datetime(2026, 11, 23, 0, 0, tzinfo=CST)
    evs = [e for e in generate_events(4, 6000, start=start, speed=60, rate=1.0) if e.event_type == "petition.received"]
    by_hour = Counter(((e.occurred_at - start).total_seconds() * 60 // 3600) % 24 for e in evs)
    night = sum(by_hour[h] for h in (1, 2, 3, 4))
    morning = sum(by_hour[h] for h in (8, 9, 10, 11))
    assert morning > 5 * night


def test_surge_one_topic_one_county() -> None:
    evs = [e for e in generate_events(9, 4000, rate=2.0, surge_every=600) if e.event_type == "petition.received"]
    # a surge: >= 12 petitions of one topic in one county within 30 minutes (normal traffic spreads thin)
    buckets: dict[tuple, int] = defaultdict(int)
    for e in evs:
        buckets[(e.region_code, e.payload.topic, int(e.occurred_at.timestamp() // 1800))] += 1
    assert max(buckets.values()) >= 12
    quiet = [e for e in generate_events(9, 1500, rate=2.0, surge_every=10**9) if e.event_type == "petition.received"]
    assert max(Counter((e.region_code, e.payload.topic) for e in quiet).values()) < 8
