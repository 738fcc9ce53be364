"""Channel heartbeat: baseline per hour of the week with a minimum, silence raised once, resolved on traffic."""

from __future__ import annotations

import typing
from datetime import datetime, timedelta

import pytest

from fengqiao import vocab
from fengqiao.domain import heartbeat as hb
from fengqiao.domain.case_codec import alert_wire
from fengqiao.records import AlertKind, AlertRecord
from streams.heartbeat import petition_beat

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 26, 10, 40, tzinfo=vocab.TZ)  # a Thursday, 10:40
RULE = hb.HeartbeatRule()


def history(per_hour: int, weeks: int, channel: str = "qrcode", last: timedelta = timedelta(minutes=45)) -> hb.ChannelLog:
    log = hb.ChannelLog(channel)
    for w in range(1, weeks + 1):
        for i in range(per_hour):
            log = log.record(NOW - timedelta(weeks=w) + timedelta(minutes=-30 + i), RULE)
    return log.record(NOW - last, RULE)


def test_a_channel_with_traffic_at_this_hour_of_the_week_silent_for_30_minutes_is_raised_once() -> None:
    log = history(3, 3)
    assert log.baseline(NOW) == 3.0 and log.silent(NOW)
    log, action = hb.check(log, NOW)
    assert action == "raise" and log.alerted_for == NOW - timedelta(minutes=45)
    for later in (NOW + timedelta(seconds=10), NOW + timedelta(minutes=20)):
        log, action = hb.check(log, later)
        assert action is None  # one alert per silence
    log = log.record(NOW + timedelta(minutes=21))
    log, action = hb.check(log, NOW + timedelta(minutes=22))
    assert action == "resolve" and log.alerted_for is None


@pytest.mark.parametrize("log", [
    history(3, 1),  # one week of history: below the minimum of two
    history(1, 3),  # the hour normally sees one petition: below the minimum per hour
    history(3, 3, last=timedelta(minutes=29)),  # silent for 29 minutes only
    hb.ChannelLog("web"),  # never seen
], ids=["short-history", "quiet-hour", "not-yet", "unknown"])
def test_no_alert_without_a_baseline_or_a_real_silence(log: hb.ChannelLog) -> None:
    assert hb.check(log, NOW)[1] is None


def test_the_baseline_is_of_this_hour_of_the_week_only() -> None:
    log = hb.ChannelLog("hotline")
    for w in (1, 2):
        for i in range(5):
            log = log.record(NOW - timedelta(weeks=w, hours=3) + timedelta(minutes=i))  # 07:xx, not 10:xx
    log = log.record(NOW - timedelta(hours=2))
    assert log.baseline(NOW) == 0.0 and not log.silent(NOW)
    assert log.baseline(NOW - timedelta(hours=3)) == 5.0


def test_history_beyond_the_kept_weeks_is_dropped_and_the_log_round_trips() -> None:
    log = history(3, 6)
    assert min(log.hours) >= hb.epoch_hour(NOW) - RULE.weeks * hb.WEEK_HOURS - 2
    assert hb.log_from_dict(hb.log_to_dict(log)) == log


def test_the_alert_is_a_contract_record_with_a_label_defined_once() -> None:
    log, _ = hb.check(history(3, 3), NOW)
    alert = hb.silence_alert(log, NOW)
    rec = AlertRecord.model_validate_json(alert_wire(alert))
    assert rec.kind == "heartbeat" and rec.state == "firing" and rec.region_code == "130000"
    assert rec.dedup_key == hb.dedup_key("qrcode", NOW - timedelta(minutes=45)) and "民情码" in rec.message
    assert "45 分钟" in rec.message
    assert typing.get_args(AlertKind) == vocab.ALERT_KINDS and set(vocab.KIND_ZH) == set(vocab.ALERT_KINDS)


def test_the_feed_reads_only_petitions_with_a_known_channel() -> None:
    base = b'{"event_type":"petition.received","channel":"%s","occurred_at":"%s","case_id":"X"}'
    at = NOW.isoformat().encode()
    assert petition_beat(base % (b"wechat", at)) == ("wechat", NOW)
    assert petition_beat(base % (b"internal", at)) is None
    assert petition_beat(base % (b"wechat", b"2026-11-26T10:00:00")) is None  # naive
    assert petition_beat(b'{"event_type":"case.signed","note":"petition.received"}') is None
    assert petition_beat(b"petition.received {") is None and petition_beat(None) is None
