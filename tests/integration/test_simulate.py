"""`run_simulator` into the real broker, straight and through the real gateway."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from fengqiao.contract import parse_event
from fengqiao.domain.policy import load_policy
from fengqiao.settings import StreamsSettings
from producers.gateway.config import GatewaySettings
from producers.gateway.embedded import GatewayThread
from producers.sim_check import replay_all
from producers.simulator import run_simulator
from tests.integration._intake_helpers import fresh_settings, read_topic

pytestmark = pytest.mark.integration


def test_simulator_straight_into_kafka(kafka_bootstrap: str) -> None:
    s = fresh_settings(kafka_bootstrap)
    summary = run_simulator(s, rate=50, seed=3, speed=3600, max_events=600, pace=False)
    assert summary["events"] == 600 and sum(summary["by_type"].values()) == 600
    events = read_topic(s, s.topics.events)
    assert len(events) == 600 and len({e["event_id"] for e in events}) == 600
    assert Counter(e["event_type"] for e in events) == Counter(summary["by_type"])
    text = json.dumps(events, ensure_ascii=False)
    # clear phone numbers never travel: every phone is masked, sealed blobs are present
    for e in events:
        c = (e["payload"].get("citizen") or {}) if e["event_type"] == "petition.received" else {}
        assert "phone" not in c or "****" in c["phone"]
        assert "phone" not in c or c.get("sealed")
    assert "sealed" in text
    # what the streams worker will make of it: every event accepted by the lifecycle
    assert summary["rejected"] == 0 and summary["policy_profile"] == "default"
    assert [str(x) for x in replay_all(parse_event(e) for e in events)[1]] == []  # per case in topic order


def test_demo_traffic_leaves_no_lifecycle_dead_letter(kafka_bootstrap: str) -> None:
    # issue 10: `fengqiao up` (speed 60, the worker on the demo profile) must leave no
    # `lifecycle:` dead letter; the simulator reads the worker's profile from the settings
    s = fresh_settings(kafka_bootstrap, streams=StreamsSettings(policy_profile="demo"))
    summary = run_simulator(s, rate=20, seed=6, speed=60, max_events=3000, pace=False)
    assert summary["policy_profile"] == "demo" and summary["rejected"] == 0
    events = [parse_event(e) for e in read_topic(s, s.topics.events)]
    assert len(events) == 3000
    assert [str(x) for x in replay_all(events, load_policy(None, "demo"))[1]] == []
    assert {"case.signed", "case.replied"} <= {e.event_type for e in events}


def test_simulator_paced_stops_on_signal(kafka_bootstrap: str) -> None:
    s = fresh_settings(kafka_bootstrap)
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    # no daily curve: at night in Shanghai it thins 20 petitions/s to a few (the test failed by the hour)
    summary = run_simulator(s, rate=20, seed=4, speed=60, duration=30, stop=stop, curve=False)
    assert 1.5 < summary["seconds"] < 10
    assert summary["events"] > 5
    assert len(read_topic(s, s.topics.events)) == summary["events"]


def test_simulator_through_the_gateway(kafka_bootstrap: str) -> None:
    s = fresh_settings(kafka_bootstrap)
    g = GatewaySettings(api_keys={"internal": "k-int"})
    with GatewayThread(s, g) as gt:
        summary = run_simulator(s, rate=50, seed=5, speed=3600, max_events=300, gateway_url=gt.url, pace=False,
                                api_key="k-int")
    events = read_topic(s, s.topics.events, committed_only=True)
    received = [e for e in events if e["event_type"] == "petition.received"]
    assert summary["events"] == 300
    # the gateway adds case.merged for duplicates, the simulator does not send its own then
    assert len(events) == 300 + sum(1 for e in events if e["event_type"] == "case.merged")
    for e in received:
        c = e["payload"].get("citizen") or {}
        assert "phone" not in c or ("****" in c["phone"] and c["sealed"] and len(c["phone_hash"]) == 64)
