"""Topic declarations: the contract topics plus the worker's internal, co-partitioned ones.

Every topic a case's messages travel on uses the same partition count
(`settings.topics.partitions`) and the key `case_id`, so the events topic, the
case-ops topic (timer firings, routed commands) and the case table's changelog are
co-partitioned: partition p of each is owned by the same worker. The topics are created
(with their configs) by `broker.topics.ensure_project_topics`, the one function every process
calls; the internal topics' names come from there too.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from broker.topics import internal_topics
from fengqiao.settings import Settings


@dataclass(frozen=True)
class StreamTopics:
    events: faust.TopicT  # contract events (raw bytes, parsed by us so that bad input reaches the DLQ)
    case_ops: faust.TopicT  # internal, key case_id: timer ticks, routed alert commands
    commands: faust.TopicT  # contract commands (any key)
    alert_index: faust.TopicT  # internal, key alert_id: alert_id -> owner, and commands to route
    stat_parts: faust.TopicT  # internal, key prefecture code: per-partition partial counts
    early: faust.TopicT  # internal, key county code: intake facts for hotspots / class cases
    alerts: faust.TopicT
    stats: faust.TopicT
    cases: faust.TopicT
    dlq: faust.TopicT

    @property
    def case_sources(self) -> tuple[str, str]:
        return (self.events.get_topic_name(), self.case_ops.get_topic_name())


def declare(app: faust.App, settings: Settings, configs: dict[str, str] | None = None) -> StreamTopics:
    """`configs`: the topic configs faust uses if it has to create an internal topic itself."""
    t = settings.topics
    n = t.partitions
    internal = internal_topics(settings.streams.app_id)

    def raw(name: str, is_internal: bool = False) -> faust.TopicT:
        return app.topic(name, partitions=n, key_serializer="raw", value_serializer="raw", internal=is_internal,
                         config=dict(configs or {}) if is_internal else None)

    return StreamTopics(
        events=raw(t.events),
        case_ops=raw(internal["case-ops"], is_internal=True),
        commands=raw(t.commands),
        alert_index=raw(internal["alert-index"], is_internal=True),
        stat_parts=raw(internal["stat-parts"], is_internal=True),
        early=raw(internal["early"], is_internal=True),
        alerts=raw(t.alerts),
        stats=raw(t.stats),
        cases=raw(t.cases),
        dlq=raw(t.dlq),
    )
