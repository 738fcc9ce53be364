"""Which departments an early warning reaches (issue 14 item 5), as data: `data/warning_routes.toml`.

A hotspot (未诉先办) or class case (类案) is a county × topic matter; the departments responsible
for it are (each switchable per kind in the file):

* the department the dispatch rules (`fengqiao.domain.triage`) name for the topic in that county:
  the one a new petition on the topic would be sent to;
* the departments the alert's member cases are assigned to now (they hold the cases already);
* further departments by template, per kind and per topic.

Pure: the adapters pass the alert's kind, county, topics and the member cases' departments in.
A hotspot's topic is in its dedup key (`hotspot:{region}:{topic}:{window}`, DESIGN.md section 3);
a class case's topics are its member cases'.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fengqiao.domain import triage
from fengqiao.domain.triage import _fill as fill

DEFAULT_ROUTES = "data/warning_routes.toml"
KINDS = ("hotspot", "class_case")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KindRoute(_M):
    dispatch: bool = True
    holders: bool = True
    also: tuple[str, ...] = ()


class TopicRoute(_M):
    topic: str = Field(min_length=1, max_length=32)
    also: tuple[str, ...] = ()


class RoutesFile(_M):
    hotspot: KindRoute = KindRoute()
    class_case: KindRoute = KindRoute()
    topics: tuple[TopicRoute, ...] = ()


class WarningRoutesError(ValueError):
    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"warning routes {source}: {reason} / 预警分送规则文件 {source} 无效：{reason}")


@dataclass(frozen=True)
class WarningFacts:
    """What routing needs of one early-warning alert."""

    kind: str  # hotspot | class_case
    region_code: str  # the county (or prefecture) it was raised for
    topics: tuple[str, ...]  # the hotspot's topic; a class case's member topics
    holders: tuple[str, ...] = ()  # departments the member cases are assigned to now


class WarningRoutes:
    def __init__(self, spec: RoutesFile, rules: triage.DispatchRules | None = None) -> None:
        self.spec = spec
        self.rules = rules
        self._topics: dict[str, tuple[str, ...]] = {}
        for t in spec.topics:
            self._topics[t.topic] = self._topics.get(t.topic, ()) + t.also

    def departments(self, w: WarningFacts) -> tuple[str, ...]:
        """The departments `w` reaches, in a stable order, without repeats (none for another kind)."""
        if w.kind not in KINDS:
            return ()
        kind: KindRoute = getattr(self.spec, w.kind)
        out: list[str] = []
        for topic in w.topics:
            if kind.dispatch and topic:
                out.append(self._dispatch(topic, w.region_code))
            out += [fill(t, w.region_code) for t in self._topics.get(topic, ())]
        if kind.holders:
            out += [d for d in w.holders if d]
        out += [fill(t, w.region_code) for t in kind.also]
        return tuple(dict.fromkeys(d for d in out if d))

    def reaches(self, w: WarningFacts, departments: Iterable[str]) -> bool:
        mine = set(departments)
        return any(d in mine for d in self.departments(w))

    def _dispatch(self, topic: str, region_code: str) -> str:
        decide = self.rules.decide if self.rules is not None else triage.decide  # the packaged rules
        return decide("", topic, None, region_code).department


def hotspot_topic(dedup_key: str) -> str | None:
    """The topic of a hotspot's dedup key `hotspot:{region}:{topic}:{window}` (None for another key)."""
    parts = dedup_key.split(":")
    if len(parts) < 4 or parts[0] != "hotspot":
        return None
    return ":".join(parts[2:-1]) or None  # a topic label could itself hold a colon


def load_warning_routes(path: Path | None = None, rules: triage.DispatchRules | None = None) -> WarningRoutes:
    if path is None:
        return _packaged() if rules is None else WarningRoutes(_packaged().spec, rules)
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise WarningRoutesError(str(path), f"cannot read: {exc.strerror}") from None
    return WarningRoutes(_parse(text, str(path)), rules)


def _parse(text: str, source: str) -> RoutesFile:
    try:
        return RoutesFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise WarningRoutesError(source, str(exc)) from None
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        raise WarningRoutesError(source, f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}") from None


@lru_cache(maxsize=1)
def _packaged() -> WarningRoutes:
    return WarningRoutes(_parse(resources.files("fengqiao").joinpath(DEFAULT_ROUTES).read_text("utf-8"), DEFAULT_ROUTES))
