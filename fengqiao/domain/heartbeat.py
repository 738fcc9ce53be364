"""Channel heartbeat (issue 14 item 7): a channel that normally has traffic at this hour of
the week and has been silent for 30 minutes is an outage nobody reports (a dead hotline
export, a broken QR form).

Pure. A `ChannelLog` counts one channel's petitions per clock hour (epoch hours: Asia/Shanghai
has no daylight saving, so 168 hours back is the same hour of the week) over the last
`rule.weeks` weeks. The baseline of "now" is the mean count of the same hour of the week in
the past weeks the log has seen (from its first petition on); a channel is *silent* when that
baseline is at least `rule.min_per_hour` over at least `rule.min_weeks` weeks, and nothing came
for `rule.silence`. `check` says when to raise (once per silence: the alert's `dedup_key`
names the last petition's instant) and when to resolve (the next petition).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from fengqiao.domain.alerts import Alert, alert_id_for
from fengqiao.regions import PROVINCE_CODE
from fengqiao.vocab import CHANNEL_ZH, TZ

WEEK_HOURS = 168
KIND = "heartbeat"


@dataclass(frozen=True, slots=True)
class HeartbeatRule:
    silence: timedelta = timedelta(minutes=30)
    min_per_hour: float = 2.0  # the hour's mean petitions per past week that counts as "normally has traffic"
    min_weeks: int = 2  # a baseline needs this many past weeks of history
    weeks: int = 4  # history kept and averaged


def epoch_hour(at: datetime) -> int:
    return int(at.timestamp() // 3600)


@dataclass(frozen=True, slots=True)
class ChannelLog:
    """One channel's recent petitions per epoch hour, and its silence state."""

    channel: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    hours: dict[int, int] = field(default_factory=dict)
    alerted_for: datetime | None = None  # the last petition's instant whose silence was raised

    def record(self, at: datetime, rule: HeartbeatRule = HeartbeatRule()) -> "ChannelLog":
        """One more petition of the channel (in any order)."""
        h = epoch_hour(at)
        hours = dict(self.hours)
        hours[h] = hours.get(h, 0) + 1
        top = max(hours)
        floor = top - rule.weeks * WEEK_HOURS - 1
        hours = {k: v for k, v in hours.items() if k >= floor}
        first = at if self.first_seen is None or at < self.first_seen else self.first_seen
        last = at if self.last_seen is None or at > self.last_seen else self.last_seen
        return replace(self, first_seen=first, last_seen=last, hours=hours)

    def baseline(self, now: datetime, rule: HeartbeatRule = HeartbeatRule()) -> float | None:
        """Mean petitions in this hour of the week over the past weeks seen; None with too little history."""
        if self.first_seen is None:
            return None
        h, start = epoch_hour(now), epoch_hour(self.first_seen)
        past = [h - k * WEEK_HOURS for k in range(1, rule.weeks + 1) if h - k * WEEK_HOURS >= start]
        if len(past) < rule.min_weeks:
            return None
        return sum(self.hours.get(x, 0) for x in past) / len(past)

    def silent(self, now: datetime, rule: HeartbeatRule = HeartbeatRule()) -> bool:
        if self.last_seen is None or now - self.last_seen < rule.silence:
            return False
        base = self.baseline(now, rule)
        return base is not None and base >= rule.min_per_hour


Action = Literal["raise", "resolve"]


def check(log: ChannelLog, now: datetime, rule: HeartbeatRule = HeartbeatRule()) -> tuple[ChannelLog, Action | None]:
    """Raise once when the channel falls silent; resolve when a petition came after a raised silence."""
    if log.alerted_for is not None and log.last_seen is not None and log.last_seen > log.alerted_for:
        return replace(log, alerted_for=None), "resolve"
    if log.alerted_for is None and log.silent(now, rule):
        return replace(log, alerted_for=log.last_seen), "raise"
    return log, None


def dedup_key(channel: str, last_seen: datetime) -> str:
    return f"heartbeat:{channel}:{last_seen.astimezone(TZ).isoformat(timespec='seconds')}"


def silence_alert(log: ChannelLog, now: datetime, rule: HeartbeatRule = HeartbeatRule()) -> Alert:
    """The alert of the silence `check` just raised (province-wide: a channel has no region)."""
    assert log.last_seen is not None
    dk = dedup_key(log.channel, log.last_seen)
    base = log.baseline(now, rule) or 0.0
    minutes = int((now - log.last_seen).total_seconds() // 60)
    name = CHANNEL_ZH.get(log.channel, log.channel)
    msg = (f"渠道心跳：{name} 已 {minutes} 分钟无新诉求（往周同时段平均每小时 {base:.1f} 件），"
           f"请检查渠道是否中断")
    return Alert(alert_id=alert_id_for(dk), dedup_key=dk, kind=KIND, severity="warning", state="firing",
                 region_code=PROVINCE_CODE, raised_at=now, updated_at=now, message=msg)


# ------------------------------------------------------------------ table codec (JSON-able)
def log_to_dict(log: ChannelLog) -> dict[str, object]:
    iso = lambda t: t.isoformat() if t is not None else None  # noqa: E731
    return {"ch": log.channel, "f": iso(log.first_seen), "l": iso(log.last_seen),
            "h": {str(k): v for k, v in log.hours.items()}, "a": iso(log.alerted_for)}


def log_from_dict(d: dict[str, object]) -> ChannelLog:
    t = lambda v: datetime.fromisoformat(v) if isinstance(v, str) else None  # noqa: E731
    hours = d.get("h") or {}
    return ChannelLog(str(d["ch"]), t(d.get("f")), t(d.get("l")),
                      {int(k): int(v) for k, v in hours.items()}, t(d.get("a")))  # type: ignore[union-attr]
