"""Reading a case's state back for Open311, `GET /v1/cases/{id}` and citizen tracking.

* One case: the streams worker's case view over HTTP,
  `GET {streams_url}/cases/{case_id}` → a `CaseSnapshot` JSON (404 when unknown).
* Lists (`GET requests.json` with filters): the ClickHouse read model
  (`cases` FINAL) when `FENGQIAO_CLICKHOUSE_URL` is an http(s) server. In the
  embedded mode only the wall's process may open the chDB store, so the
  gateway cannot query it: a list by `service_request_id` is then served from
  the streams view (one lookup per id, at most 50), and any other filter
  answers 501 with a bilingual message that says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from fengqiao.settings import Settings
from producers.gateway.config import GatewaySettings, streams_base


class ReadbackUnavailable(Exception):
    """The streams view or ClickHouse did not answer."""


class ListsNotServed(Exception):
    """Embedded mode: lists need the ClickHouse server (501)."""


class CaseView:
    def __init__(self, settings: Settings, gw: GatewaySettings) -> None:
        self.settings = settings
        self.base = streams_base(gw, settings)
        self.client = httpx.Client(timeout=5.0)

    def get(self, case_id: str) -> dict[str, Any] | None:
        found = self._fetch(case_id)
        return found.get("case", found) if found is not None else None

    def tracked(self, case_id: str) -> tuple[dict[str, Any], str] | None:
        """The snapshot and the citizen's tracking token (`track.py`; "" when none was carried)."""
        found = self._fetch(case_id)
        if found is None or not isinstance(found.get("case"), dict):
            return None
        token = found.get("track_token")
        return found["case"], token if isinstance(token, str) else ""

    def _fetch(self, case_id: str) -> dict[str, Any] | None:
        try:
            r = self.client.get(f"{self.base}/cases/{quote(case_id, safe='')}/")  # the Faust view has a trailing slash
        except httpx.HTTPError as exc:
            raise ReadbackUnavailable(f"streams case view at {self.base} unreachable: {type(exc).__name__}") from exc
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise ReadbackUnavailable(f"streams case view answered {r.status_code}")
        data = r.json()
        return data if isinstance(data, dict) else None

    def close(self) -> None:
        self.client.close()


def list_cases(settings: Settings, *, ids: list[str] | None = None, service_code: str | None = None,
               start: datetime | None = None, end: datetime | None = None, status: str | None = None,
               limit: int = 1000) -> list[dict[str, Any]]:
    """Cases from the ClickHouse read model (server mode only), newest first."""
    if settings.embedded_store:
        raise ListsNotServed()
    from sinks.store import get_client

    where, params = ["1"], {}  # type: ignore[var-annotated]
    if ids:
        where.append("case_id IN {ids:Array(String)}")
        params["ids"] = ids
    if service_code:
        where.append("category = {code:String}")
        params["code"] = service_code
    if start:
        where.append("received_at >= {start:DateTime64(3)}")
        params["start"] = start
    if end:
        where.append("received_at <= {end:DateTime64(3)}")
        params["end"] = end
    if status == "open":
        where.append("closed_at IS NULL")
    elif status == "closed":
        where.append("closed_at IS NOT NULL")
    db = settings.clickhouse_database
    sql = (f"SELECT * FROM {db}.cases FINAL WHERE {' AND '.join(where)} "
           f"ORDER BY received_at DESC LIMIT {int(limit)}")
    try:
        res = get_client(settings).query(sql, parameters=params)
        return [dict(zip(res.column_names, row)) for row in res.result_rows]
    except Exception as exc:
        raise ReadbackUnavailable(f"ClickHouse unavailable: {type(exc).__name__}") from exc
