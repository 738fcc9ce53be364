"""The SLA policy as data (DESIGN.md section 4, "SLA targets"), validated by pydantic.

File format (TOML), one table per profile::

    [profiles.default]
    thresholds = { reminder = 0.5, warning = 0.8, overdue = 1.0 }
    extension_unit = "working_days"          # what `case.extended.days` counts on the normal track
    [profiles.default.escalation]
    step = "1 working_days"                  # every further working day ...
    urgent_step = "2 hours"                  # ... every 2 h for urgent cases
    ladder = ["township", "county", "city", "province"]
    [profiles.default.formal]
    resolve = "60 natural_days"
    max_extensions = 1
    max_extension_days = 30
    extension_unit = "natural_days"
    [profiles.default.targets.consult]
    urgent = { sign = "30 minutes", resolve = "24 hours" }
    ...

A duration is "<int> <unit>" with unit minutes, hours, natural_days or
working_days (singular forms accepted). Every category × urgency must be given.
A malformed file raises `PolicyError` naming the path and the field at fault.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from fengqiao.contract import Category, Level, Urgency
from fengqiao.vocab import ESCALATION_LADDER

DEFAULT_POLICY = "data/sla_policy.toml"
Unit = Literal["minutes", "hours", "natural_days", "working_days"]
_UNIT_ALIASES = {
    "minute": "minutes", "minutes": "minutes", "min": "minutes",
    "hour": "hours", "hours": "hours", "h": "hours",
    "natural_day": "natural_days", "natural_days": "natural_days",
    "working_day": "working_days", "working_days": "working_days",
}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([a-z_]+)\s*$")


@dataclass(frozen=True, slots=True)
class Duration:
    """A target length: natural minutes/hours/days or working days."""

    value: int
    unit: Unit

    @property
    def working(self) -> bool:
        return self.unit == "working_days"

    def __str__(self) -> str:
        return f"{self.value} {self.unit}"


def _parse_duration(v: object) -> Duration:
    if isinstance(v, Duration):
        return v
    if isinstance(v, dict) and set(v) == {"value", "unit"}:
        v = f"{v['value']} {v['unit']}"
    if not isinstance(v, str):
        raise ValueError('expected a duration string like "30 minutes" or "5 working_days"')
    m = _DURATION_RE.match(v.lower())
    if not m or m.group(2) not in _UNIT_ALIASES:
        raise ValueError(f'{v!r} is not a duration like "30 minutes", "24 hours", "60 natural_days", "5 working_days"')
    n = int(m.group(1))
    if n < 1:
        raise ValueError("a duration must be at least 1")
    return Duration(n, _UNIT_ALIASES[m.group(2)])  # type: ignore[arg-type]


DurationField = Annotated[Duration, BeforeValidator(_parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Thresholds(_Model):
    """Fractions of a target's span at which the stages fire (of working time for working-day targets)."""

    reminder: float = Field(0.5, gt=0, le=1)
    warning: float = Field(0.8, gt=0, le=1)
    overdue: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if not (self.reminder <= self.warning <= self.overdue):
            raise ValueError("thresholds must satisfy reminder <= warning <= overdue")
        return self


class TargetPair(_Model):
    sign: DurationField
    resolve: DurationField


class Escalation(_Model):
    step: DurationField = _parse_duration("1 working_days")
    urgent_step: DurationField = _parse_duration("2 hours")
    ladder: list[Level] = Field(default_factory=lambda: list(ESCALATION_LADDER), min_length=1)


class FormalTrack(_Model):
    """信访工作条例 (2022): 60 days, extendable once by at most 30."""

    resolve: DurationField = _parse_duration("60 natural_days")
    max_extensions: int = Field(1, ge=0)
    max_extension_days: int = Field(30, ge=1)
    extension_unit: Unit = "natural_days"


class Profile(_Model):
    description: str = ""
    thresholds: Thresholds = Thresholds()
    extension_unit: Unit = "working_days"
    max_extensions: int | None = Field(None, ge=0)  # None: no limit on the normal track
    escalation: Escalation = Escalation()
    formal: FormalTrack = FormalTrack()
    targets: dict[Category, dict[Urgency, TargetPair]]

    @model_validator(mode="after")
    def _complete(self) -> "Profile":
        for c in Category:
            if c not in self.targets:
                raise ValueError(f"targets.{c.value} is missing (every category needs targets)")
            for u in Urgency:
                if u not in self.targets[c]:
                    raise ValueError(f"targets.{c.value}.{u.value} is missing")
        return self


class PolicyFile(_Model):
    profiles: dict[str, Profile] = Field(min_length=1)


class PolicyError(ValueError):
    """A policy file or profile that cannot be used; names the path and the field."""

    def __init__(self, path: str, field: str, reason: str, reason_zh: str = "取值无效"):
        self.path, self.field, self.reason = path, field, reason
        super().__init__(f"SLA policy {path}: {field}: {reason} / SLA 策略文件 {path}：{field}：{reason_zh}")


@dataclass(frozen=True, slots=True)
class Policy:
    """One profile of a policy file, ready for fast lookups."""

    name: str
    source: str
    profile: Profile

    @property
    def thresholds(self) -> Thresholds:
        return self.profile.thresholds

    @property
    def ladder(self) -> tuple[str, ...]:
        return tuple(level.value for level in self.profile.escalation.ladder)

    def targets(self, category: str, urgency: str, formal: bool = False) -> TargetPair:
        """sign/resolve durations; the formal track replaces `resolve`."""
        pair = self.profile.targets[Category(category)][Urgency(urgency)]
        if formal:
            return TargetPair(sign=pair.sign, resolve=self.profile.formal.resolve)
        return pair

    def escalation_step(self, urgency: str) -> Duration:
        esc = self.profile.escalation
        return esc.urgent_step if urgency == Urgency.urgent else esc.step

    def extension(self, formal: bool) -> tuple[Unit, int | None, int | None]:
        """(unit of `days`, max number of extensions or None, max days per extension or None)."""
        if formal:
            f = self.profile.formal
            return f.extension_unit, f.max_extensions, f.max_extension_days
        return self.profile.extension_unit, self.profile.max_extensions, None


def _field_of(loc: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in loc if p != "[key]") or "(file)"


def parse_policy(text: str, source: str, profile: str = "default") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, "(syntax)", str(exc), "TOML 语法错误") from None
    try:
        pf = PolicyFile.model_validate(data)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        raise PolicyError(source, _field_of(e["loc"]), e["msg"], "取值无效或缺失") from None
    if profile not in pf.profiles:
        raise PolicyError(source, f"profiles.{profile}",
                          f"no such profile (available: {', '.join(sorted(pf.profiles))})", "没有该配置档")
    return Policy(name=profile, source=source, profile=pf.profiles[profile])


def load_policy(path: Path | None = None, profile: str = "default") -> Policy:
    """Load and validate a policy profile; `path=None` is the packaged default file."""
    if path is None:
        return _packaged(profile)
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise PolicyError(str(p), "(file)", f"cannot read: {exc.strerror}", "无法读取文件") from None
    return parse_policy(text, str(p), profile)


@lru_cache(maxsize=8)
def _packaged(profile: str) -> Policy:
    text = resources.files("fengqiao").joinpath(DEFAULT_POLICY).read_text("utf-8")
    return parse_policy(text, DEFAULT_POLICY, profile)
