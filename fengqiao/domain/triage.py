"""Triage and dispatch rules as data (DESIGN.md section 4, "Triage").

`complex` cases go to the county dispute-resolution centre (县社会矛盾纠纷调处中心);
`simple` and `moderate` ones (and those without a difficulty: choice, counted as
moderate) to the township department the most specific rule names. `consult` cases
may be answered online (`Dispatch.online`). See `fengqiao/data/dispatch_rules.toml`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fengqiao.contract import Category, Level
from fengqiao.regions import regions

DEFAULT_RULES = "data/dispatch_rules.toml"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_M):
    department: str = Field(min_length=1, max_length=100)
    level: Level
    online: bool = False


class Rule(Target):
    category: Category | None = None
    topic: str | None = Field(None, min_length=1, max_length=32)


class RulesFile(_M):
    complex: Target
    default: Target
    rules: list[Rule] = Field(default_factory=list)


class DispatchRulesError(ValueError):
    def __init__(self, path: str, field: str, reason: str):
        super().__init__(f"dispatch rules {path}: {field}: {reason} / 分派规则文件 {path}：{field}：取值无效")


@dataclass(frozen=True, slots=True)
class Dispatch:
    department: str
    level: str
    online: bool


class DispatchRules:
    """Compiled rules: exact (category, topic) lookups, most specific first."""

    def __init__(self, spec: RulesFile):
        self.spec = spec
        self._by: dict[tuple[str | None, str | None], Rule] = {}
        for r in spec.rules:
            self._by.setdefault((r.category.value if r.category else None, r.topic), r)

    def decide(self, category: str, topic: str, difficulty: str | None, region_code: str) -> Dispatch:
        cat_rule = self._by.get((category, None))
        online = bool(cat_rule and cat_rule.online)
        if difficulty == "complex":
            t: Target = self.spec.complex
        else:
            t = (self._by.get((category, topic)) or self._by.get((None, topic)) or cat_rule or self.spec.default)
        return Dispatch(_fill(t.department, region_code), t.level.value, online or t.online)

    def route(self, category: str, topic: str, difficulty: str | None, region_code: str) -> tuple[str, str]:
        d = self.decide(category, topic, difficulty, region_code)
        return d.department, d.level


def _fill(template: str, region_code: str) -> str:
    regs = regions()
    r = regs.get(region_code)
    county = r.name if r else ""
    pref = regs[r.prefecture_code].name if r and r.prefecture_code in regs else ""
    return template.replace("{county}", county).replace("{prefecture}", pref)


def load_dispatch_rules(path: Path | None = None) -> DispatchRules:
    if path is None:
        return _packaged()
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise DispatchRulesError(str(p), "(file)", f"cannot read: {exc.strerror}") from None
    return _parse(text, str(p))


def _parse(text: str, source: str) -> DispatchRules:
    try:
        return DispatchRules(RulesFile.model_validate(tomllib.loads(text)))
    except tomllib.TOMLDecodeError as exc:
        raise DispatchRulesError(source, "(syntax)", str(exc)) from None
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        raise DispatchRulesError(source, ".".join(str(x) for x in e["loc"]), e["msg"]) from None


@lru_cache(maxsize=1)
def _packaged() -> DispatchRules:
    return _parse(resources.files("fengqiao").joinpath(DEFAULT_RULES).read_text("utf-8"), DEFAULT_RULES)


def route(category: str, topic: str, difficulty: str | None, region_code: str) -> tuple[str, str]:
    """(department, level) by the packaged rules."""
    return _packaged().route(category, topic, difficulty, region_code)


def decide(category: str, topic: str, difficulty: str | None, region_code: str) -> Dispatch:
    return _packaged().decide(category, topic, difficulty, region_code)
