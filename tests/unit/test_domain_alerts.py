"""The alert state machine (fengqiao.domain.alerts) and the case rules that drive it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from fengqiao.domain import alerts as al
from fengqiao.domain.calendar import load_calendar
from fengqiao.domain.case import AlertChanged, AlertIndexEntry, CaseRules, EventToEmit
from fengqiao.domain.policy import load_policy
from fengqiao.domain.sla import StageDue
from fengqiao.vocab import TZ

from tests.unit.domain_factory import assigned, received, returned, signed

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)  # a Thursday, a working day
MIN = timedelta(minutes=1)


def stage(name: str = "overdue", severity: str = "critical", level: int = 0) -> StageDue:
    return StageDue(case_id="C1", target="sign", round=0, stage=name, level=level, at=T0, due_at=T0,
                    supervisor=None, severity=severity, dedup_key=f"sla:C1:sign:{name}:{level}")


def ack(alert: al.Alert, at: datetime, note: str = "在办") -> al.AlertCommand:
    return al.AlertCommand("alert.acknowledge", alert.alert_id, "duty-1", at, note)


def test_firing_acknowledged_resolved_each_a_new_version() -> None:
    slot = al.raise_sla(stage(), "C1", "130102", "街道办", T0)
    a = slot.alert
    assert a is not None and (a.state, a.version, a.alert_id) == ("firing", 1, al.alert_id_for(a.dedup_key))
    assert "案件 C1" in a.message and "签收" in a.message
    acked = al.apply_command(slot, ack(a, T0 + MIN), T0 + MIN)
    assert acked is not None and acked.alert is not None
    assert (acked.alert.state, acked.alert.version, acked.alert.acknowledged_by) == ("acknowledged", 2, "duty-1")
    assert acked.alert.acknowledged_at == T0 + MIN and acked.alert.note == "在办"
    assert acked.renotify_at is None and acked.wake_at is None  # an acknowledgement stops re-notification
    assert al.apply_command(acked, ack(a, T0 + 2 * MIN), T0 + 2 * MIN) is None  # twice changes nothing
    done = al.resolve(acked, T0 + 3 * MIN)
    assert done is not None and done.alert is not None
    assert (done.alert.state, done.alert.version, done.overdue) == ("resolved", 3, False)
    assert al.resolve(done, T0 + 4 * MIN) is None
    assert al.apply_command(done, ack(a, T0 + 5 * MIN), T0 + 5 * MIN) is None  # a resolved alert stays resolved


def test_unacknowledged_critical_renotifies_every_15_minutes_warning_never() -> None:
    slot = al.raise_sla(stage(), "C1", "130102", "", T0)
    assert slot.renotify_at == T0 + al.RENOTIFY == slot.wake_at and slot.overdue
    assert al.due(slot, T0 + al.RENOTIFY - timedelta(seconds=1)) is None
    again = al.due(slot, T0 + al.RENOTIFY)
    assert again is not None and again.alert is not None
    assert (again.alert.state, again.alert.version, again.renotify_at) == ("firing", 2, T0 + 2 * al.RENOTIFY)
    assert again.alert.raised_at == T0 and again.alert.updated_at == T0 + al.RENOTIFY
    warn = al.raise_sla(stage("warning", "warning"), "C1", "130102", "", T0)
    assert warn.renotify_at is None and al.due(warn, T0 + 10 * al.RENOTIFY) is None and not warn.overdue


def test_silenced_until_then_firing_again() -> None:
    slot = al.raise_sla(stage(), "C1", "130102", "", T0)
    assert slot.alert is not None
    until = T0 + timedelta(hours=1)
    cmd = al.AlertCommand("alert.silence", slot.alert.alert_id, "duty-2", T0, "已电话督促", until)
    quiet = al.apply_command(slot, cmd, T0)
    assert quiet is not None and quiet.alert is not None
    assert (quiet.alert.state, quiet.alert.silenced_until, quiet.alert.note) == ("silenced", until, "已电话督促")
    assert quiet.wake_at == until and quiet.renotify_at is None
    assert al.due(quiet, until - timedelta(seconds=1)) is None
    back = al.due(quiet, until)
    assert back is not None and back.alert is not None
    assert (back.alert.state, back.alert.silenced_until, back.alert.version) == ("firing", None, 3)
    assert back.renotify_at == until + al.RENOTIFY  # critical: re-notifies again


def test_command_from_json_keeps_note_or_reason() -> None:
    at = T0.isoformat()
    a = al.AlertCommand.from_json({"type": "alert.acknowledge", "alert_id": "x", "officer_id": "o", "issued_at": at,
                                   "note": "n"})
    s = al.AlertCommand.from_json({"type": "alert.silence", "alert_id": "x", "officer_id": "o", "issued_at": at,
                                   "until": (T0 + MIN).isoformat(), "reason": "r"})
    assert (a.note, a.until, s.note, s.until) == ("n", None, "r", T0 + MIN)


@pytest.fixture(scope="module")
def rules() -> CaseRules:
    return CaseRules(load_policy(), load_calendar(), renotify=timedelta(minutes=5), auto_dispatch=timedelta(hours=1),
                     route=lambda c, t, d, r: ("乡镇综治中心", "township"))


def alerts_of(outputs: list) -> list[al.Alert]:
    return [o.alert for o in outputs if isinstance(o, AlertChanged)]


def test_case_rules_each_stage_once_and_a_met_target_resolves_its_alerts(rules: CaseRules) -> None:
    """Urgent: sign due 30 min after assignment; reminder at 15, warning at 24, overdue at 30."""
    at = T0.isoformat()
    rec, outs = rules.on_event(None, received("C1", at, urgency="urgent"), 0, T0)
    rec, outs = rules.on_event(rec, assigned("C1", at), 0, T0)
    assert rec is not None and rec.wake_at == T0 + 15 * MIN and alerts_of(outs) == []
    rec, outs = rules.on_tick(rec, T0 + 15 * MIN)
    assert rec is not None and [(a.stage, a.version) for a in alerts_of(outs)] == [("reminder", 1)]
    assert [o.alert_id for o in outs if isinstance(o, AlertIndexEntry)] == [alerts_of(outs)[0].alert_id]
    assert rules.on_tick(rec, T0 + 15 * MIN).record is None  # the same instant again: nothing fires twice
    rec, outs = rules.on_tick(rec, T0 + 24 * MIN)
    assert rec is not None and [a.stage for a in alerts_of(outs)] == ["warning"] and not rec.overdue
    rec, outs = rules.on_tick(rec, T0 + 30 * MIN)
    assert rec is not None and [a.stage for a in alerts_of(outs)] == ["overdue"] and rec.overdue
    rec2, outs2 = rules.on_tick(rec, T0 + 30 * MIN)
    assert rec2 is None and outs2 == []
    rec, outs = rules.on_event(rec, signed("C1", (T0 + 31 * MIN).isoformat()), 0, T0 + 31 * MIN)
    assert rec is not None and not rec.overdue
    resolved = alerts_of(outs)
    assert {a.stage for a in resolved} == {"reminder", "warning", "overdue"}
    assert {a.state for a in resolved} == {"resolved"}
    assert all(s.alert is not None and s.alert.state == "resolved" for s in rec.alerts.values()
               if s.target == "sign")


def test_case_rules_late_events_raise_only_the_current_stage(rules: CaseRules) -> None:
    at = T0.isoformat()
    now = T0 + 25 * MIN
    rec, _ = rules.on_event(None, received("C4", at, urgency="urgent"), 1, now)
    rec, outs = rules.on_event(rec, assigned("C4", at), 1, now)
    assert rec is not None and [a.stage for a in alerts_of(outs) if a.target == "sign"] == ["warning"]
    spent = [dk for dk, s in rec.alerts.items() if s.alert is None]
    assert spent == ["sla:C4:sign:reminder:0"]  # superseded: its key is spent, never raised later
    rec, outs = rules.on_tick(rec, T0 + 26 * MIN)
    assert rec is None or all(a.stage != "reminder" for a in alerts_of(outs))


def test_case_rules_command_and_dispatch(rules: CaseRules) -> None:
    at = T0.isoformat()
    rec, _ = rules.on_event(None, received("C5", at, urgency="urgent"), 2, T0)
    assert rec is not None and rec.dispatch_due is not None and rec.dispatch_due.at == T0 + timedelta(hours=1)
    assert rec.wake_at == T0 + timedelta(hours=1)
    rec, outs = rules.on_tick(rec, T0 + timedelta(hours=1))
    emitted = [o for o in outs if isinstance(o, EventToEmit)]
    assert rec is not None and [e.event_type for e in emitted] == ["case.assigned"]
    env = emitted[0].envelope()
    assert env["actor"] == {"role": "platform", "id": "auto-dispatch"} and env["payload"]["level"] == "township"
    assert rules.on_tick(rec, T0 + timedelta(hours=2)).outputs == []  # dispatched once
    rec, outs = rules.on_event(rec, assigned("C5", at), 2, T0 + timedelta(hours=1))  # 30 min late: overdue now
    assert rec is not None and [a.stage for a in alerts_of(outs)] == ["overdue"]
    over = next(s.alert for s in rec.alerts.values() if s.alert is not None and s.alert.stage == "overdue")
    step = rules.on_command(rec, ack(over, T0 + timedelta(hours=1, minutes=2)), T0 + timedelta(hours=1, minutes=2))
    assert step.record is not None and [a.state for a in alerts_of(step.outputs)] == ["acknowledged"]
    unknown = replace(ack(over, T0), alert_id="nope")
    assert rules.on_command(step.record, unknown, T0).record is None


def test_a_returned_case_waits_for_the_dispatcher_a_received_one_is_placed(rules: CaseRules) -> None:
    """派单异议审核: the platform does not reassign a returned case by itself (the dispatcher approves
    or rejects the return on the dispatch desk); a case nobody placed is still auto-dispatched."""
    at = T0.isoformat()
    rec, _ = rules.on_event(None, received("C6", at), 1, T0)
    rec, _ = rules.on_event(rec, assigned("C6", at), 1, T0)
    rec, outs = rules.on_event(rec, returned("C6", (T0 + MIN).isoformat()), 1, T0 + MIN)
    assert rec is not None and rec.state.status == "returned" and not [o for o in outs if isinstance(o, EventToEmit)]
    later = rules.on_tick(rec, T0 + timedelta(days=3))
    assert not [o for o in later.outputs if isinstance(o, EventToEmit)]


def test_a_stage_due_before_a_late_applied_event_is_raised_once_then_resolved(rules: CaseRules) -> None:
    """The worker was down from before the sign target's overdue stage (30 min) until after the
    department signed at 31 min: applying the sign raises the overdue stage (late, stamped now) and
    resolves it; the earlier stages are superseded. Signed at 29 min: only the warning (24) was due."""
    at = T0.isoformat()
    for signed_at, raised in ((31, ["overdue"]), (29, ["warning"])):
        rec, _ = rules.on_event(None, received("C7", at, urgency="urgent"), 0, T0)
        rec, _ = rules.on_event(rec, assigned("C7", at), 0, T0)
        now = T0 + 40 * MIN
        sign_ev = signed("C7", (T0 + signed_at * MIN).isoformat())
        rec, outs = rules.on_event(rec, sign_ev, 0, now)
        assert rec is not None and not rec.overdue
        sign = [a for a in alerts_of(outs) if a.target == "sign"]
        assert [(a.stage, a.state, a.version) for a in sign] == [(s, st, v) for s in raised
                                                                 for st, v in (("firing", 1), ("resolved", 2))]
        assert all(a.raised_at == now for a in sign)
        _, outs2 = rules.on_event(rec, sign_ev, 0, now)  # redelivered after a restart
        assert alerts_of(outs2) == []


def test_an_event_before_a_stage_raises_nothing_late(rules: CaseRules) -> None:
    at = T0.isoformat()
    rec, _ = rules.on_event(None, received("C8", at, urgency="urgent"), 0, T0)
    rec, _ = rules.on_event(rec, assigned("C8", at), 0, T0)
    rec, outs = rules.on_event(rec, signed("C8", (T0 + 10 * MIN).isoformat()), 0, T0 + 40 * MIN)  # came late
    assert [a for a in alerts_of(outs) if a.target == "sign"] == []


def test_a_successor_sends_again_what_changed_lately(rules: CaseRules) -> None:
    """A worker killed after its table write, before its outputs left: the one that recovers the table
    sends again the alerts changed since the window's start (their current version) and the
    auto-dispatch of the current state, with the same event id (a copy is a duplicate downstream)."""
    at = T0.isoformat()
    rec, _ = rules.on_event(None, received("C9", at, urgency="urgent"), 0, T0)
    rec, _ = rules.on_event(rec, assigned("C9", at), 0, T0)
    rec, outs = rules.on_tick(rec, T0 + 15 * MIN)
    reminder = alerts_of(outs)[0]
    again = rules.redeliver(rec, T0 + 14 * MIN, T0 + 16 * MIN)
    assert alerts_of(again) == [reminder]
    assert rules.redeliver(rec, T0 + 16 * MIN, T0 + 16 * MIN) == []  # nothing changed since
    fresh, _ = rules.on_event(None, received("C10", at), 0, T0)
    fresh, outs = rules.on_tick(fresh, T0 + timedelta(hours=1))  # no one placed it: the platform does
    sent = [o for o in outs if isinstance(o, EventToEmit)]
    copy = [o for o in rules.redeliver(fresh, T0 + 2 * timedelta(hours=1), T0 + timedelta(hours=2))
            if isinstance(o, EventToEmit)]
    assert len(sent) == 1 and [c.event_id for c in copy] == [sent[0].event_id]


def test_a_worker_behind_its_input_raises_nothing_past_it(rules: CaseRules) -> None:
    """The assignment applied 40 min late, its input only as far as 10 min: no stage after 10 min is
    raised (the signature waiting behind it may end them); the clock raises them once it gets there."""
    at = T0.isoformat()
    rec, _ = rules.on_event(None, received("C11", at, urgency="urgent"), 0, T0)
    rec, outs = rules.on_event(rec, assigned("C11", at), 0, T0 + 40 * MIN, upto=T0 + 10 * MIN)
    assert rec is not None and alerts_of(outs) == [] and rec.wake_at == T0 + 15 * MIN
    rec, outs = rules.on_tick(rec, T0 + 41 * MIN, upto=T0 + 16 * MIN)
    assert rec is not None and [a.stage for a in alerts_of(outs)] == ["reminder"]
    assert all(a.raised_at == T0 + 41 * MIN for a in alerts_of(outs))  # stamped when raised
