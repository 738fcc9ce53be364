"""Faust web views: health (ready, lag, broker reachable, stalled streams: `streams.watchdog`),
metrics, and one case's current state by id.

`GET /cases/{case_id}/` is answered by the worker that owns the case's partition
(`table_route` forwards the request there), for the gateway's read-backs.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from fengqiao import logs
from fengqiao.domain.case_codec import alert_to_json
from fengqiao.domain.lifecycle import snapshot
from streams import watchdog
from streams.metrics import WorkerMetrics
from streams.offsets import consumer_lag


def register(rt: Any) -> None:
    app: faust.App = rt.app
    tables = rt.tables
    cases = tables.cases

    metrics = WorkerMetrics(rt)
    wd = watchdog.install(app, rt.settings.kafka_bootstrap)  # broker reachable? every stream started?
    wd.progress = lambda: rt.events_applied

    def lag() -> dict[str, int]:
        return {f"{t}:{p}": n for (t, p), n in consumer_lag(app).items()}

    @app.page("/health/")
    async def health(web: faust.web.Web, request: Request) -> Response:
        lags = lag()
        return web.json({
            "ok": rt.ready and not wd.stalled, "app_id": rt.settings.streams.app_id, **wd.health(),
            "partitions": sorted(rt.owned(rt.topics.events.get_topic_name())),
            "timers": len(rt.heap), "events_applied": rt.events_applied,
            "stats_published": rt.stats_published, "lag": lags, "lag_total": sum(lags.values()),
            **logs.health(),
        })

    @app.page("/metrics/")
    async def prometheus(web: faust.web.Web, request: Request) -> Response:
        return web.text(metrics.text(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/cases/{case_id}/")
    class CaseView(View):
        @app.table_route(table=cases, match_info="case_id")
        async def get(self, request: Request, case_id: str) -> Response:
            rec = tables.case(case_id)
            if rec is None:
                return self.json({"error": f"unknown case {case_id} / 未知案件"}, status=404)
            snap = snapshot(rec.state)
            alerts = [alert_to_json(a) for a in rec.raised_alerts()]
            wake = rec.wake_at.isoformat() if rec.wake_at is not None else None
            return self.json({"case": snap.model_dump(mode="json"), "alerts": alerts, "next_wake": wake,
                              "track_token": rec.state.track_token})  # for the gateway's citizen tracking only
