"""Faust web views: health and lag, metrics, and one case's current state by id.

`GET /cases/{case_id}/` is answered by the worker that owns the case's partition
(`table_route` forwards the request there), for the gateway's read-backs.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View

from fengqiao.domain.lifecycle import CaseState, snapshot


def register(rt: Any) -> None:
    app: faust.App = rt.app
    cases = rt.tables.cases

    async def lag() -> dict[str, int]:
        out: dict[str, int] = {}
        consumer = app.consumer
        for tp in sorted(consumer.assignment()):
            try:
                hw = consumer.highwater(tp)
            except Exception:
                continue
            pos = consumer._read_offset.get(tp)  # last offset read by the streams
            if hw is None:
                continue
            out[f"{tp.topic}:{tp.partition}"] = max(0, int(hw) - int((pos if pos is not None else -1) + 1))
        return out

    @app.page("/health/")
    async def health(web: faust.web.Web, request: Request) -> Response:
        lags = await lag()
        return web.json({
            "ok": rt.ready, "app_id": rt.settings.streams.app_id,
            "partitions": sorted(rt.owned(rt.topics.events.get_topic_name()) or []),
            "timers": len(rt.heap), "events_applied": rt.events_applied,
            "stats_published": rt.stats_published, "lag": lags, "lag_total": sum(lags.values()),
        })

    @app.page("/metrics/")
    async def metrics(web: faust.web.Web, request: Request) -> Response:
        lags = await lag()
        lines = [
            f"fengqiao_streams_ready {int(rt.ready)}",
            f"fengqiao_streams_timers {len(rt.heap)}",
            f"fengqiao_streams_events_applied_total {rt.events_applied}",
            f"fengqiao_streams_stats_published_total {rt.stats_published}",
        ] + [f'fengqiao_streams_lag{{tp="{k}"}} {v}' for k, v in lags.items()]
        return web.text("\n".join(lines) + "\n")

    @app.page("/cases/{case_id}/")
    class CaseView(View):
        @app.table_route(table=cases, match_info="case_id")
        async def get(self, request: Request, case_id: str) -> Response:
            entry = cases.get(case_id)
            if not entry:
                return self.json({"error": f"unknown case {case_id} / 未知案件"}, status=404)
            snap = snapshot(CaseState.from_dict(entry["s"]))
            alerts = [slot["r"] for slot in entry.get("a", {}).values() if slot.get("r")]
            return self.json({"case": snap.model_dump(mode="json"), "alerts": alerts, "next_wake": entry.get("w")})
