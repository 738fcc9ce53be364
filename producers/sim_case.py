"""How one simulated case lives: its next event chosen from the domain's own state.

The scenario keeps each live case's `CaseState` (the domain lifecycle applied to the
events already emitted) and this model reads it to choose the next step, so the
simulator cannot drift from the rules again: a re-opened case is re-assigned to the
level the lifecycle raised it to (it escalates by itself on the second re-opening), a
case is archived only from a status that allows it, `case.extended` only while the
resolve round is open, `case.escalated` only strictly upwards.

Timing, "in step with the SLA profile". Durations of the real world (minutes to days)
are divided by `speed` (`nat`). Departments work to the deadlines the *active policy*
sets (the same profile the streams worker runs, e.g. `demo`, 2–6 minute targets): a
department that is on time acts after its natural delay, but before its deadline
(`work`: a random share of the time left); a configured share (`Behaviour`) is late and
acts after the deadline. Without this a compressed demo (`--speed 60`, the demo
profile) had departments answer in hours against minute-long targets: 响应率 22 %.
The platform dispatches well within the resolve span, and, when the streams worker's
auto-dispatch delay is given (`dispatch_within`), before it, so the worker never
assigns a case the simulator then answers online. Citizens' ratings, callbacks and the
archive follow natural delays only: awaiting evaluation is never overdue.

With `Behaviour(departments="manual")` a person plays the departments at the desk: the
simulator still registers cases, answers consults online, merges duplicates and
dispatches (to the department the dispatch rules name), and leaves every department
action (sign, reply, extend, return) and what follows it to the people on the loop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from fengqiao.domain import triage
from fengqiao.domain.lifecycle import CaseState
from fengqiao.regions import regions
from fengqiao.vocab import LEVELS
from producers import sim_data as D

PLATFORM = {"role": "platform", "id": "fengqiao-dispatch"}
DEPARTMENT_MODES = ("simulated", "manual")  # `fengqiao simulate --departments`
MANUAL = "manual"
DEPARTMENT_EVENTS = frozenset({"case.signed", "case.replied", "case.extended", "case.returned"})  # the desk's in manual
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
MAX_REOPENS = 2  # after two re-openings (the second one escalated) the citizen does not reject again

Step = tuple[float, str, dict[str, Any], dict[str, Any] | None, str]  # wall delay, type, payload, actor, channel


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the simulated province performs (shares of decisions). Real platforms report
    响应率 and 按期办结率 above 95 %; returns (推诿) and dissatisfied citizens stay common."""

    sign_late: float = 0.03
    resolve_late: float = 0.05
    online_share: float = 0.6  # consult cases answered online
    first_return: float = 0.10
    further_return: float = 0.25
    complex_escalation: float = 0.06
    extension: float = 0.07
    partial_reply: float = 0.05
    dissatisfied_first: float = 12.0  # weight against satisfied 62 / basically satisfied 26
    dissatisfied_again: float = 30.0
    # "manual": people play the departments at the desk (`fengqiao simulate --departments manual`);
    # the simulator registers and dispatches (to the dispatch rules' departments, the names desk
    # users are given) and never signs, replies, extends or returns
    departments: str = "simulated"


@dataclass
class SimCase:
    case_id: str
    region_code: str
    channel: str
    category: str
    topic: str
    urgency: str
    difficulty: str
    town: str
    citizen: dict[str, str] | None  # clear values (fake); protected before they travel
    formal: bool = False
    dup_of: str | None = None
    surge: bool = False
    slots: dict[str, Any] = field(default_factory=dict)
    state: CaseState | None = None  # the lifecycle's state after the last emitted event
    now: datetime | None = None  # the instant of the last emitted event


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def dept_actor(dept: str) -> dict[str, str]:
    return {"role": "department", "id": dept, "name": dept}


def department(case: SimCase, level: str) -> str:
    """The handling unit of `case` at `level` (names by topic and region)."""
    r = regions()[case.region_code]
    dept = D.TOPICS[case.topic]["dept"]
    if level == "province":
        return "河北省" + dept.replace("分局", "厅").replace("局", "厅")
    if level == "city":
        return regions()[r.parent_code].name + dept
    if level == "county":
        if case.difficulty == "complex":
            return r.name + "社会矛盾纠纷调处中心"
        return r.name + dept
    suffix = "司法所" if case.topic in ("邻里纠纷", "婚姻家庭", "农村土地") else "人民政府"
    return r.name + case.town + suffix


class Pace:
    """Delays in wall seconds (see the module docstring)."""

    def __init__(self, rng: random.Random, speed: float, behaviour: Behaviour, dispatch_within: float | None):
        self.rng, self.speed, self.b, self.dispatch_within = rng, speed, behaviour, dispatch_within

    def nat(self, lo: float, hi: float) -> float:
        return self.rng.uniform(lo, hi) / self.speed

    @staticmethod
    def left(case: SimCase, due: datetime | None) -> float | None:
        """Seconds from the case's last event to `due`."""
        if due is None or case.now is None:
            return None
        return (due - case.now).total_seconds()

    def platform(self, case: SimCase, lo: float, hi: float) -> float:
        """The platform's own step (dispatch, online answer, merge): quick against the resolve span."""
        d = self.nat(lo, hi)
        st = case.state
        left = self.left(case, st.resolve.due) if st is not None and st.resolve is not None else None
        if left is not None and left > 0:
            d = min(d, self.rng.uniform(0.02, 0.15) * left)
        if self.dispatch_within is not None:
            d = min(d, self.rng.uniform(0.1, 0.6) * self.dispatch_within)
        return d

    def work(self, case: SimCase, natural: float, due: datetime | None, span: float, late: float,
             room: float = 1.0) -> float:
        """A department's step against `due`: on time (within `room` of the time left) or,
        with probability `late`, after it by a share of the target's `span`."""
        left = self.left(case, due)
        if left is None:
            return natural
        rng = self.rng
        if left <= 0:  # already late: finish within a share of the span
            return min(natural, rng.uniform(0.05, 0.5) * span)
        if rng.random() < late:
            return left + rng.uniform(0.05, 0.6) * span
        return min(natural, rng.uniform(0.05, 0.9) * room * left)


def _span(t: Any) -> float:
    return (t.due - t.start).total_seconds() if t is not None else 0.0


def lifecycle(case: SimCase, rng: random.Random, pace: Pace, emit_merges: bool) -> Iterator[Step]:
    """The steps of one case after its `petition.received`, each chosen from `case.state`
    as it stands when the step is drawn (the scenario applies every emitted event)."""
    b = pace.b
    U = rng.uniform
    if case.dup_of is not None:
        if emit_merges:
            yield pace.platform(case, 2 * MIN, 30 * MIN), "case.merged", {"into_case_id": case.dup_of}, \
                PLATFORM, "internal"
        return
    if case.category == "consult" and rng.random() < b.online_share:
        yield (pace.platform(case, 3 * MIN, 4 * HOUR), "case.resolved_online",
               {"answer": rng.choice(D.ONLINE_ANSWERS)}, {"role": "operator", "id": f"op-{rng.randint(1, 80):03d}"},
               "internal")
        return
    urgent = case.urgency == "urgent"
    dispatch = pace.platform(case, 1 * MIN, 10 * MIN) if urgent else pace.platform(case, 5 * MIN, 90 * MIN)
    if b.departments == MANUAL:  # the rest is the department desk's (a person's) to do
        rule = triage.decide(case.category, case.topic, case.difficulty or None, case.region_code)
        yield dispatch, "case.assigned", {"department": rule.department, "level": rule.level}, PLATFORM, "internal"
        return
    level = "county" if case.difficulty == "complex" or rng.random() < 0.3 else "township"
    yield dispatch, "case.assigned", {"department": department(case, level), "level": level}, PLATFORM, "internal"
    yield from _returns(case, rng, pace)
    escalated = False
    n_days = 60 if case.formal else D.RESOLVE_DAYS[case.category]
    while True:
        st = _state(case)
        yield _sign_delay(case, rng, pace, urgent), "case.signed", {"department": st.department}, \
            dept_actor(st.department), "internal"
        st = _state(case)
        if not escalated and case.difficulty == "complex" and rng.random() < b.complex_escalation \
                and st.level != LEVELS[-1]:
            escalated = True
            up = LEVELS[LEVELS.index(st.level) + 1]
            yield _resolve_work(case, pace, pace.nat(2 * HOUR, 2 * DAY), 0.0, 0.3), "case.escalated", \
                {"to_level": up, "reason": D.ESCALATE_REASONS[1]}, PLATFORM, "internal"
            yield pace.platform(case, 10 * MIN, 2 * HOUR), "case.assigned", \
                {"department": department(case, _state(case).level), "level": _state(case).level}, PLATFORM, "internal"
            continue
        if st.reopen_count == 0 and st.extension_count == 0 and rng.random() < b.extension:
            yield _resolve_work(case, pace, pace.nat(1 * DAY, 5 * DAY), 0.0, 0.8), "case.extended", {
                "days": rng.randint(3, 30 if case.formal else 15), "reason": rng.choice(D.EXTEND_REASONS),
                "approved_by": regions()[case.region_code].name + "信访局"}, PLATFORM, "internal"
        reply_nat = pace.nat(2 * HOUR, 26 * HOUR) if urgent else \
            U(0.15, 1.15) * n_days * DAY * (0.5 if case.urgency == "pressing" else 1) / pace.speed
        if rng.random() < b.partial_reply:
            yield _resolve_work(case, pace, reply_nat * 0.4, 0.0, 0.4), "case.replied", \
                {"department": st.department, "result": rng.choice(D.PARTIAL_RESULTS), "resolved": False}, \
                dept_actor(st.department), "internal"
            reply_nat *= 0.6
        yield _resolve_work(case, pace, reply_nat, b.resolve_late, 1.0), "case.replied", \
            {"department": st.department, "result": rng.choice(D.REPLY_RESULTS), "resolved": True}, \
            dept_actor(st.department), "internal"
        yield from _rating(case, rng, pace)
        st = _state(case)
        if st.status == "reopened":
            lvl = st.level or "township"
            yield pace.platform(case, 30 * MIN, 6 * HOUR), "case.assigned", \
                {"department": department(case, lvl), "level": lvl}, PLATFORM, "internal"
            continue
        break
    yield pace.nat(1 * HOUR, 3 * DAY), "case.archived", {}, PLATFORM, "internal"


def _state(case: SimCase) -> CaseState:
    assert case.state is not None
    return case.state


def _sign_delay(case: SimCase, rng: random.Random, pace: Pace, urgent: bool) -> float:
    """签收: within the sign target, leaving at least half the resolve time for the work itself."""
    st = _state(case)
    if urgent:
        natural = pace.nat(5 * MIN, 40 * MIN) if rng.random() < 0.85 else pace.nat(40 * MIN, 3 * HOUR)
    else:
        natural = pace.nat(20 * MIN, 8 * HOUR) if rng.random() < 0.9 else pace.nat(1 * DAY, 3 * DAY)
    due = st.sign.due if st.sign is not None else None
    res_left = pace.left(case, st.resolve.due if st.resolve else None)
    sign_left = pace.left(case, due)
    room = 1.0
    if res_left is not None and sign_left is not None and res_left > 0 and sign_left > 0:
        room = min(1.0, 0.5 * res_left / sign_left)
    return pace.work(case, natural, due, _span(st.sign), pace.b.sign_late, room)


def _resolve_work(case: SimCase, pace: Pace, natural: float, late: float, room: float) -> float:
    st = _state(case)
    return pace.work(case, natural, st.resolve.due if st.resolve else None, _span(st.resolve), late, room)


def _returns(case: SimCase, rng: random.Random, pace: Pace) -> Iterator[Step]:
    """Returned to dispatch (推诿) 0–3 times, each time re-assigned (a township's case to the county)."""
    b = pace.b
    returns = 0
    while returns < 3 and rng.random() < (b.first_return if returns == 0 else b.further_return):
        st = _state(case)
        sign_due = st.sign.due if st.sign else None
        yield pace.work(case, pace.nat(20 * MIN, 6 * HOUR), sign_due, _span(st.sign), 0.0, 0.5), "case.returned", \
            {"department": st.department, "reason": rng.choice(D.RETURN_REASONS)}, dept_actor(st.department), "internal"
        returns += 1
        level = "county" if st.level == "township" else st.level
        yield pace.platform(case, 10 * MIN, 3 * HOUR), "case.assigned", \
            {"department": department(case, level), "level": level}, PLATFORM, "internal"


def _rating(case: SimCase, rng: random.Random, pace: Pace) -> Iterator[Step]:
    """The citizen's evaluation (72 %), or the operator's callback (20 %), or nothing."""
    b = pace.b
    st = _state(case)
    weights = {"satisfied": 62.0, "basically_satisfied": 26.0,
               "dissatisfied": b.dissatisfied_first if st.reopen_count == 0 else b.dissatisfied_again}
    if st.reopen_count >= MAX_REOPENS:
        weights["dissatisfied"] = 0.0
    r = rng.random()
    if r < 0.72:
        rating = weighted(rng, weights)
        payload: dict[str, Any] = {"rating": rating}
        if rng.random() < 0.4:
            payload["comment"] = rng.choice(D.EVAL_COMMENTS[rating])
        yield pace.nat(1 * HOUR, 2 * DAY), "case.evaluated", payload, {"role": "citizen", "id": "c-" + case.case_id}, \
            case.channel
    elif r < 0.92:
        reached = rng.random() < 0.85
        cb: dict[str, Any] = {"reached": reached}
        if reached:
            cb["rating"] = weighted(rng, weights)
        yield pace.nat(4 * HOUR, 3 * DAY), "case.callback", cb, \
            {"role": "operator", "id": f"op-{rng.randint(1, 80):03d}"}, "internal"


__all__ = ["Behaviour", "Pace", "SimCase", "Step", "lifecycle", "department", "weighted", "PLATFORM",
           "MIN", "HOUR", "DAY", "DEPARTMENT_MODES", "DEPARTMENT_EVENTS", "MANUAL"]
