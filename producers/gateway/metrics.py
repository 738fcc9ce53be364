"""The gateway's Prometheus metrics (`GET /metrics`): events accepted, dead letters,
the broker's reachability and the repeat filter's figures, via prometheus_client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Response
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fengqiao.prom import CONTENT_TYPE, log_metrics, render


class _Broker(Collector):
    def __init__(self, health: Any) -> None:
        self.health = health

    def collect(self) -> Iterator[Any]:
        yield GaugeMetricFamily("fengqiao_gateway_broker_up", "1 while Kafka answers (writes accepted)",
                                value=int(bool(self.health.reachable)))
        yield from log_metrics("gateway")


class GatewayMetrics:
    """One registry per app (tests build several gateways in one process)."""

    def __init__(self, health: Any) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter("fengqiao_gateway_events_accepted", "contract events written to Kafka",
                              registry=self.registry)
        self.dead = Counter("fengqiao_gateway_dead_letters", "rejected items kept as dead letters",
                            registry=self.registry)
        self.registry.register(_Broker(health))

    def submitted(self, accepted: int, dead: int) -> None:
        self.events.inc(accepted)
        if dead:
            self.dead.inc(dead)

    def response(self) -> Response:
        return Response(render(self.registry), media_type=CONTENT_TYPE)
