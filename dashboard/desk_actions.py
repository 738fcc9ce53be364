"""One path for every desk action (issue 14): 签收, 反馈, 延期, 退回, 派单, 回访 … as contract events.

`act()` is what each desk calls when a person clicks:

1. the role may take this action at all (`auth.require`: `PERMISSIONS`, server-side, every time);
2. the case's current state from the streams worker's case view (`producers.gateway.readback.CaseView`,
   as the gateway reads it back; unreachable: refused, fail closed);
3. the event, built and validated by the contract (`fengqiao.contract.parse_event`; the actor is the
   desk user: role and id), on channel `internal`, for the case's region;
4. the same authorization as the gateway: `producers.gateway.authz.decide` with the desk user's
   `Principal` (a department user stands for its departments, like a department key; the dispatcher
   and the callback operator for the platform, limited to their actions by step 1) and the case's
   facts, plus the user's region scope; a refusal is written to the audit topic (`AccessAudit`, acked)
   and comes back as `DeskRefused` in Chinese and English;
5. the state the lifecycle needs for it (`not_now`: e.g. signing a case already signed, an extension the
   policy's limit no longer allows: `fengqiao.domain.extension`), so a click on a
   stale screen is answered instead of dead-lettered by the worker;
6. the event to `petitions.events`, keyed by case id, acks=all (`commands.publish`): returns after the ack.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, NoReturn

from dashboard import auth, commands
from dashboard.auth import Forbidden, User
from fengqiao.contract import ActorRole, ContractError, Envelope, parse_event
from fengqiao.domain import extension
from fengqiao.domain.lifecycle import OPEN
from fengqiao.domain.policy import Policy, load_policy
from fengqiao.domain.lifecycle import _RATEABLE as RATEABLE
from fengqiao.settings import KeyRole, Settings
from fengqiao.vocab import SCHEMA_VERSION
from fengqiao.vocab import TZ as SH
from producers.gateway.authz import AccessAudit, CaseFacts, Denial, Principal, decide

CaseLookup = Callable[[str], "dict[str, Any] | None"]  # case id → the case view's snapshot (None: unknown)
ACTOR = {"department": ActorRole.department, "dispatcher": ActorRole.platform, "callback": ActorRole.platform}
# statuses from which the lifecycle (fengqiao.domain.lifecycle) takes each desk event; checked against
# the lifecycle itself in tests/unit/test_desk_actions.py
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "case.signed": frozenset({"assigned"}),
    "case.returned": frozenset({"assigned", "signed"}),
    "case.replied": frozenset({"signed", "replied"}),
    "case.extended": OPEN,
    "case.assigned": frozenset({"received", "returned", "reopened", "assigned", "signed"}),
    "case.callback": RATEABLE,
}
log = logging.getLogger("fengqiao.wall")
PATH = "desk"  # what the audit record names as the path of a desk action


class DeskRefused(Forbidden):
    """Not allowed (role, department, region, state) or not possible now; message in Chinese and English."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(f"{denial.zh} / {denial.en}")
        self.denial = denial


class CaseUnavailable(commands.NotRecorded):
    """The case view did not answer: nothing was sent (fail closed)."""


@dataclass(frozen=True)
class Done:
    """An action the broker acknowledged: the event as written."""

    event: Envelope

    @property
    def message(self) -> str:
        ev = self.event
        return f"已提交 {ev.event_type}（案件 {ev.case_id}）/ Sent {ev.event_type} for {ev.case_id} · {ev.event_id}"


def principal(user: User) -> Principal:
    """Who the desk user is for the gateway's rules: a department key of its departments, or the platform."""
    if user.role == "department":
        return Principal(name=f"desk:{user.username}", role=KeyRole.department, departments=frozenset(user.departments))
    return Principal(name=f"desk:{user.username}", role=KeyRole.platform)


def build_event(user: User, event_type: str, case_id: str, region_code: str, payload: dict[str, Any],
                now: datetime | None = None) -> Envelope:
    """The contract event of a desk action (raises `ContractError` with bilingual reasons)."""
    actor = {"role": str(ACTOR.get(user.role, ActorRole.platform)), "id": user.username, "name": user.name}
    return parse_event({
        "schema_version": SCHEMA_VERSION, "event_id": str(uuid.uuid4()), "event_type": event_type,
        "case_id": case_id, "occurred_at": (now or datetime.now(SH)).isoformat(), "region_code": region_code,
        "channel": "internal", "actor": actor, "payload": payload,
    })


def denial_of(user: User, ev: Envelope, case: dict[str, Any] | None, action: str | None = None) -> Denial | None:
    """Why `user` may not submit `ev` on `case` (the case view's snapshot, None: unknown), or None.
    `action` names what the user does when it is not sending `ev` itself (an extension request is
    checked as the `case.extended` it asks for)."""
    action = action or ev.event_type
    if not auth.can(user, action):
        return Denial("role", f"role {user.role} may not submit {action}", f"角色 {user.role} 无权提交 {action}")
    if case is None:
        return Denial("unknown_case", f"no case {ev.case_id}", f"未找到案件 {ev.case_id}")
    region = str(case.get("region_code") or "")
    if not user.covers(region):
        return Denial("scope", f"case region {region} is outside the jurisdiction of {user.username}",
                      f"案件属地 {region} 不在您的辖区内")
    return decide(principal(user), ev, CaseFacts.of(case))


def not_now(ev: Envelope, case: dict[str, Any], policy: Policy | None = None) -> Denial | None:
    """Why the lifecycle would refuse `ev` in the case's current state (a stale screen), or None;
    an extension also by the policy's limits (`fengqiao.domain.extension`; default: packaged policy)."""
    status = str(case.get("status") or "")
    allowed = ALLOWED_FROM.get(ev.event_type)
    if allowed is not None and status not in allowed:
        return Denial("state", f"case {ev.case_id} is {status}: {ev.event_type} is allowed only when "
                      f"{', '.join(sorted(allowed))}", f"案件 {ev.case_id} 当前状态为 {status}，不能执行此操作")
    if ev.event_type == "case.replied" and status == "replied" and case.get("phase") != "open":
        return Denial("state", f"case {ev.case_id} already has a resolved reply", f"案件 {ev.case_id} 已有办结反馈")
    if ev.event_type == "case.extended":
        why = extension.refusal(extension.ExtensionFacts.of({**case, "case_id": ev.case_id}), ev.payload.days,
                                policy or load_policy())
        if why is not None:
            return Denial("extension", why.en, why.zh)
    return None


@functools.lru_cache(maxsize=4)
def _policy(path: Path | None, profile: str) -> Policy:
    return load_policy(path, profile)


def policy_of(settings: Settings) -> Policy:
    """The worker's policy (the same file and profile), read once."""
    return _policy(settings.streams.policy_file, settings.streams.policy_profile)


def case_view(settings: Settings) -> CaseLookup:
    """The streams worker's case view, as the gateway reads it (one HTTP client per call site)."""
    from producers.gateway.readback import CaseView

    view = CaseView(settings, settings.gateway)
    return view.get


def act(settings: Settings, user: User, event_type: str, case_id: str, payload: dict[str, Any],
        cases: CaseLookup | None = None, now: datetime | None = None) -> Done:
    """Check, build, authorize, send and wait for the ack (module docstring). Raises `Forbidden`
    (`DeskRefused`: audited), `ValueError` (bad input, bilingual), `CaseUnavailable`, `NotRecorded`."""
    auth.require(user, event_type)
    case = read_case(settings, case_id, cases)
    ev = checked_event(user, event_type, case_id, case, payload, now)
    denial = denial_of(user, ev, case) or not_now(ev, case or {}, policy_of(settings))
    if denial is not None:
        refuse(settings, user, denial, ev)
    commands.publish(settings, settings.topics.events, ev.key(), ev.to_json())
    return Done(ev)


def read_case(settings: Settings, case_id: str, cases: CaseLookup | None = None) -> dict[str, Any] | None:
    """The case view's snapshot of `case_id` (None: unknown); `CaseUnavailable` when it does not answer."""
    lookup = cases or case_view(settings)
    try:
        return lookup(case_id)
    except Exception as exc:  # noqa: BLE001 - ReadbackUnavailable or anything else: fail closed
        raise CaseUnavailable(f"无法读取案件当前状态，操作未提交 Case state unavailable, nothing sent: "
                              f"{type(exc).__name__}") from exc


def checked_event(user: User, event_type: str, case_id: str, case: dict[str, Any] | None,
                  payload: dict[str, Any], now: datetime | None = None) -> Envelope:
    """The contract event for the case's region; bad input is a bilingual `ValueError`."""
    region = str((case or {}).get("region_code") or "130000")
    try:
        return build_event(user, event_type, case_id, region, payload, now)
    except ContractError as exc:
        raise ValueError(f"输入无效 Invalid input: {exc.bilingual()}") from exc


def refuse(settings: Settings, user: User, denial: Denial, ev: Envelope | None = None, **about: str) -> NoReturn:
    """Audit the refusal (`about` names what was refused when it is not `ev` itself), raise `DeskRefused`."""
    _audit(settings, user, denial, ev, **about)
    raise DeskRefused(denial)


def acknowledge_warning(settings: Settings, user: User, alert_id: str, note: str | None,
                        routed: Callable[[User], list[str]] | None = None) -> Any:
    """Acknowledge an early warning through the console's command path (`commands.issue`, signed,
    acked). A department user only one the routing rules send to its departments, in its region
    (`queries.department_warnings`, read now; `routed` replaces it in tests): else `DeskRefused`, audited."""
    auth.require(user, "alert.acknowledge")
    if user.role == "department":
        ids = (routed or _routed_ids(settings))(user)
        if alert_id not in ids:
            denial = Denial("not_routed", f"warning {alert_id} is not routed to {', '.join(user.departments)}",
                            f"预警 {alert_id} 未分送本单位，不能确认")
            _audit(settings, user, denial)
            raise DeskRefused(denial)
    return commands.issue(settings, user, "alert.acknowledge", alert_id=alert_id, note=note)


def _routed_ids(settings: Settings) -> Callable[[User], list[str]]:
    def ids(user: User) -> list[str]:
        from dashboard import queries

        regions = [] if auth.PROVINCE in user.scope else list(user.scope)
        return [r["alert_id"] for r in queries.run(settings, "department_warnings", list(user.departments), regions, 2000)]
    return ids


def reveal_for_department(settings: Settings, user: User, case: dict[str, Any], reason: str,
                          unseal: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The console's audited reveal (`commands.reveal_contact`: scope, acked audit first), for a
    department user only on a case now assigned to one of its departments."""
    if user.role == "department" and str(case.get("department") or "") not in user.departments:
        denial = Denial("not_assigned", f"case {case.get('case_id')} is not assigned to {', '.join(user.departments)}",
                        f"案件 {case.get('case_id')} 当前未分派给本单位，不能查看联系方式")
        _audit(settings, user, denial)
        raise DeskRefused(denial)
    return commands.reveal_contact(settings, user, case, reason, unseal)


def _audit(settings: Settings, user: User, denial: Denial, ev: Envelope | None = None, **about: str) -> None:
    """The refusal on the audit topic (acks=all); a broker that is down does not turn a refusal into success."""
    record = AccessAudit.of(principal(user), denial, path=PATH, at=datetime.now(SH), ev=ev)
    if about:
        record = record.model_copy(update=about)
    try:
        commands.publish(settings, settings.topics.audit, None, record.to_json())
    except commands.NotRecorded as exc:  # still refused; the log says why the audit trail has a gap
        log.error("desk refusal not audited (%s): %s %s", exc, user.username, denial.rule)
