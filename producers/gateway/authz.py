"""Who may write what through the gateway: authorization by what the caller may do.

Pure (no HTTP, no Kafka): the gateway identifies the key (`KeyRing.identify`),
asks `decide` about each event, and on a denial answers 403 with the bilingual
reason and writes an `AccessAudit` record to the audit topic (`petitions.audit`).

* platform keys (the `internal` key of the simple form): everything;
* intake keys (a citizen-facing channel): new petitions of their channel, and
  the citizen's own evaluation (`case.evaluated`): the event carries the key's
  channel, the case exists and came in through that channel, and the actor, if
  named, is the citizen. A channel cannot prove which citizen is on the other
  end; it can only rate cases it registered itself (documented limit);
* department keys (a 承办单位): `case.signed` / `case.replied` / `case.returned`
  naming one of their departments, and `case.extended`, of cases whose current
  department (the streams worker's case view) is theirs; channel `internal`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from fengqiao.contract import ActorRole, Envelope
from fengqiao.settings import ApiKey, KeyRole

INTAKE_TYPES = frozenset({"petition.received", "case.evaluated"})
DEPARTMENT_TYPES = frozenset({"case.signed", "case.replied", "case.returned", "case.extended"})
NEEDS_CASE = frozenset({"case.evaluated"}) | DEPARTMENT_TYPES


@dataclass(frozen=True)
class Principal:
    """The holder of one API key: its name (never the secret), role, channel and departments."""

    name: str
    role: KeyRole
    channel: str | None = None
    departments: frozenset[str] = frozenset()

    @classmethod
    def for_channel(cls, channel: str) -> "Principal":
        """The permissions a channel name stands for (the adapter endpoints name their channel)."""
        if channel == "internal":
            return cls(name="internal", role=KeyRole.platform)
        return cls(name=channel, role=KeyRole.intake, channel=channel)

    @property
    def is_platform(self) -> bool:
        return self.role == KeyRole.platform

    @property
    def scope(self) -> str:
        """What the gateway's channel checks and Idempotency-Key scopes see: the intake
        channel, `internal` for the platform, the key's own name for a department."""
        if self.role == KeyRole.intake:
            return self.channel or self.name
        return "internal" if self.is_platform else f"department:{self.name}"


@dataclass(frozen=True)
class CaseFacts:
    """What the policy needs of a case's current state (from the case view)."""

    channel: str
    department: str

    @classmethod
    def of(cls, snapshot: dict[str, object]) -> "CaseFacts":
        return cls(channel=str(snapshot.get("channel") or ""), department=str(snapshot.get("department") or ""))


@dataclass(frozen=True)
class Denial:
    """Why an event was refused: a rule code for the audit trail and the reason in both languages."""

    rule: str
    en: str
    zh: str


class KeyRing:
    """The configured keys; `identify` compares the presented secret with every key in constant time."""

    def __init__(self, keys: dict[str, ApiKey]) -> None:
        self._keys = [(k.secret.get_secret_value().encode(), _principal(name, k)) for name, k in keys.items()]

    def identify(self, presented: str | None) -> Principal | None:
        if not presented:
            return None
        given, found = presented.encode(), None
        for secret, principal in self._keys:
            if hmac.compare_digest(given, secret) and found is None:
                found = principal
        return found

    def principals(self) -> list[Principal]:
        return [p for _, p in self._keys]


def _principal(name: str, key: ApiKey) -> Principal:
    return Principal(name=name, role=key.role, channel=key.channel, departments=frozenset(key.departments))


def endpoint_denial(p: Principal, allowed: set[str]) -> Denial | None:
    """A channel endpoint (hotline batch, WeChat form, ...) is for its channel's intake key and the platform."""
    if p.is_platform or (p.role == KeyRole.intake and p.channel in allowed):
        return None
    return Denial("endpoint", f"key {p.name} ({p.role}) may not use the {', '.join(sorted(allowed))} endpoint",
                  f"密钥 {p.name}（{_ROLE_ZH[p.role]}）无权使用 {'、'.join(sorted(allowed))} 渠道接口")


def needs_case(p: Principal, ev: Envelope) -> bool:
    """Whether `decide` must know the case's current state (the gateway then reads it back)."""
    return not p.is_platform and ev.event_type in NEEDS_CASE


def decide(p: Principal, ev: Envelope, case: CaseFacts | None = None) -> Denial | None:
    """None when `p` may submit `ev`; else the reason. `case` is the case's current state
    (None: unknown to the case view), required when `needs_case`."""
    if p.is_platform:
        return None
    if p.role == KeyRole.intake:
        return _intake(p, ev, case)
    return _department(p, ev, case)


def _intake(p: Principal, ev: Envelope, case: CaseFacts | None) -> Denial | None:
    ch = str(ev.channel)
    if ev.event_type not in INTAKE_TYPES:
        return Denial("event_type", f"a {p.channel} intake key may submit only new petitions and citizens' "
                      f"evaluations, not {ev.event_type}", f"{p.channel} 受理渠道密钥只能提交新诉求和群众评价，"
                      f"不能提交 {ev.event_type}")
    if ch != p.channel:
        return Denial("channel", f"a {p.channel} key may not submit events of channel {ch}",
                      f"{p.channel} 渠道的密钥不能提交 {ch} 渠道的事件")
    allowed = {ActorRole.citizen, ActorRole.operator} if ev.event_type == "petition.received" else {ActorRole.citizen}
    if ev.actor is not None and ev.actor.role not in allowed:
        return Denial("actor", f"an intake key may not act as {ev.actor.role}", f"受理渠道密钥不能以 {ev.actor.role} 身份提交")
    if ev.event_type == "case.evaluated":
        if case is None:
            return Denial("unknown_case", f"no case {ev.case_id} to evaluate", f"未找到待评价的案件 {ev.case_id}")
        if case.channel != p.channel:
            return Denial("case_channel", f"case {ev.case_id} was not registered through channel {p.channel}: "
                          "a citizen rates their own case through the channel they used",
                          f"案件 {ev.case_id} 不是经 {p.channel} 渠道受理的，群众只能经原渠道评价本人案件")
    return None


def _department(p: Principal, ev: Envelope, case: CaseFacts | None) -> Denial | None:
    mine = "、".join(sorted(p.departments))
    if ev.event_type not in DEPARTMENT_TYPES:
        return Denial("event_type", f"a department key may sign, reply, return or extend cases, not {ev.event_type}",
                      f"承办单位密钥只能签收、反馈、退回或延期，不能提交 {ev.event_type}")
    if str(ev.channel) != "internal":
        return Denial("channel", "department events carry channel internal", "承办单位的事件渠道应为 internal")
    if ev.actor is not None and ev.actor.role != ActorRole.department:
        return Denial("actor", f"a department key may not act as {ev.actor.role}", f"承办单位密钥不能以 {ev.actor.role} 身份提交")
    named = getattr(ev.payload, "department", None)
    if named is not None and named not in p.departments:
        return Denial("department", f"key {p.name} acts for {', '.join(sorted(p.departments))}, not {named}",
                      f"此密钥只代表 {mine}，不能代表 {named}")
    if case is None:
        return Denial("unknown_case", f"no case {ev.case_id} assigned to your department",
                      f"未找到分派给本单位的案件 {ev.case_id}")
    if case.department not in p.departments:
        return Denial("not_assigned", f"case {ev.case_id} is not assigned to {', '.join(sorted(p.departments))}",
                      f"案件 {ev.case_id} 当前未分派给 {mine}")
    return None


_ROLE_ZH = {KeyRole.intake: "受理渠道", KeyRole.department: "承办单位", KeyRole.platform: "平台"}


class AccessAudit(BaseModel):
    """One refused request on the audit topic: which key (its name, never the secret), what, why.
    Only identifiers travel: no content, no citizen."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    key: str
    role: str
    path: str
    rule: str
    reason: str  # "en / zh"
    event_type: str | None = None
    event_id: str | None = None
    case_id: str | None = None
    channel: str | None = None

    @classmethod
    def of(cls, p: Principal, denial: Denial, *, path: str, at: datetime, ev: Envelope | None = None) -> "AccessAudit":
        about = ({"event_type": ev.event_type, "event_id": str(ev.event_id), "case_id": ev.case_id,
                  "channel": str(ev.channel)} if ev is not None else {})
        return cls(at=at, key=p.name, role=str(p.role), path=path[:200], rule=denial.rule,
                   reason=f"{denial.en} / {denial.zh}", **about)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()
