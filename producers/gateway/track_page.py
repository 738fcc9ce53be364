"""The citizen tracking routes: `GET /v1/track/{case_id}?phone_last4=NNNN` (JSON) and the
public page `/track` (zh-CN first; a plain form, no script, no external asset).

A wrong phone answers exactly like an unknown case: one 404 body, and the same work
(the hash of the request and a constant-time compare against the stored token, or a
dummy one) whether the case exists or not. Rate limits are stricter than the API keys':
per client address, and per case number (so that many addresses cannot try all 10,000
endings of one case).

The page posts its form, so the phone digits stay out of URLs, browser history and
proxies' logs; every answer is `no-store` and carries a Content-Security-Policy that
allows nothing but the page's own inline style and form.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import time
from pathlib import Path
from string import Template
from typing import Annotated, Any, Callable
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from fengqiao import privacy
from fengqiao.contract import CaseId
from fengqiao.records import CaseSnapshot
from producers.gateway import spec
from producers.gateway.errors import HttpError, json_response
from producers.gateway.guards import RateLimiter, retry_after
from producers.gateway.readback import CaseView, ReadbackUnavailable
from producers.gateway.track import Last4, Tracking, citizen_view

PAGE = Template((Path(__file__).with_name("track.html")).read_text("utf-8"))
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'"}
_CASE = TypeAdapter(CaseId)
_LAST4 = TypeAdapter(Last4)
_FORM_SCHEMA = {"type": "object", "required": ["case_id", "phone_last4"], "properties": {
    "case_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "phone_last4": {"type": "string", "pattern": r"^\d{4}$"}}}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_PAGE_ANSWERS = {code: {"description": d, "content": _HTML} for code, d in (
    (400, "the form is incomplete / 表单填写有误"), (404, "no such petition for these digits / 未找到"),
    (429, "too many queries; see Retry-After / 查询过于频繁"), (503, "the case view does not answer / 暂不可用"))}
_PAGE_ANSWERS[429]["headers"] = spec.RETRY_AFTER
_PAGE_ANSWERS[413] = spec.answers(413)[413]
_DUMMY = privacy.track_token("\x00", "dummy", "dummy")  # compared with when there is nothing to compare


def not_found() -> HttpError:
    """The one answer for an unknown case, a wrong phone, and a case that carries no token."""
    return HttpError(404, "not_found", "no petition with this number and these phone digits",
                     "未找到与该编号和手机号后四位相符的诉求")


def rate_limited(wait: float) -> HttpError:
    s = retry_after(wait)
    return HttpError(429, "rate_limited", f"too many tracking requests, retry after {s} s",
                     f"查询过于频繁，请 {s} 秒后重试", headers={"Retry-After": s})


class Tracker:
    """Looks a case up for a citizen; `find` answers a `Tracking` or raises 404/429/503."""

    def __init__(self, view: CaseView, secret: Any, per_minute: float, burst: float, case_per_hour: float,
                 floor: float = 0.0, clock: Callable[[], float] | None = None) -> None:
        kw = {"clock": clock} if clock is not None else {}
        self.view, self.secret, self.floor = view, secret, floor
        self.clients = RateLimiter(per_minute / 60.0, burst, **kw)
        self.cases = RateLimiter(case_per_hour / 3600.0, max(1.0, min(burst, case_per_hour)), **kw)

    def find(self, case_id: str, last4: str, client: str) -> Tracking:
        wait = self.clients.take(f"ip:{client}") or self.cases.take(f"case:{case_id}")
        if wait:
            raise rate_limited(wait)
        try:
            found = self.view.tracked(case_id)
        except ReadbackUnavailable:
            raise HttpError(503, "readback_unavailable", "the case view does not answer, retry later",
                            "案件状态服务暂不可用，请稍后重试") from None
        stored = found[1] if found is not None and found[1] else _DUMMY
        match = hmac.compare_digest(privacy.track_token(case_id, last4, self.secret), stored)  # the same work either way
        if found is None or not match or stored is _DUMMY:
            raise not_found()
        return citizen_view(CaseSnapshot.model_validate(found[0]))

    async def answer(self, case_id: str, last4: str, client: str) -> Tracking:
        """`find` off the event loop, every outcome after at least `floor` seconds: the worker
        answers an unknown case a little faster than a known one, and that must not show."""
        start = time.monotonic()
        try:
            return await run_in_threadpool(self.find, case_id, last4, client)
        finally:
            await asyncio.sleep(max(0.0, self.floor - (time.monotonic() - start)))


def client_of(request: Request) -> str:
    return request.client.host if request.client else "?"


def render(result: str = "", case_id: str = "") -> str:
    return PAGE.substitute(result=result, case_id=html.escape(case_id, quote=True))


def _when(dt: Any) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")


def result_html(t: Tracking) -> str:
    stages = "".join(f'<li>{html.escape(s.name_zh)} <span class="en">{html.escape(s.name_en)}</span>'
                     f'<time datetime="{s.at.isoformat()}">{_when(s.at)}</time></li>' for s in t.stages)
    deadline = (f'<div class="deadline">承诺办结时间 <span class="en">due</span>'
                f'<time datetime="{t.deadline.isoformat()}">{_when(t.deadline)}</time></div>') if t.deadline else ""
    return (f'<section><div>诉求编号 {html.escape(t.case_id)}</div>'
            f'<div class="status">{html.escape(t.status_zh)} <span class="en">{html.escape(t.status_en)}</span></div>'
            f'<ol>{stages}</ol>{deadline}</section>')


def message_html(e: HttpError) -> str:
    return f'<section class="msg">{html.escape(e.zh)}<br><span class="en">{html.escape(e.en)}</span></section>'


def page(status: int, body: str, extra: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**HEADERS, **(extra or {})})


def add_routes(app: FastAPI, tracker: Tracker) -> None:
    @app.get("/v1/track/{case_id}", tags=["citizens"], response_model=Tracking,
             responses=spec.answers(404, 429, 503),
             summary="A citizen's own petition: status, stages with dates, deadline (no personal data)",
             description="A wrong `phone_last4` answers exactly like an unknown case (the same 404). "
                         "Rate-limited per client address and per case number. / 凭诉求编号和手机号后四位查询办理进度")
    async def track(request: Request, case_id: CaseId, phone_last4: Annotated[Last4, Query()]) -> Response:
        t = await tracker.answer(case_id, phone_last4, client_of(request))
        return json_response(200, t.model_dump(mode="json"), {"Cache-Control": "no-store"})

    @app.get("/track", tags=["citizens"], response_class=HTMLResponse, summary="The tracking page (zh-CN) / 办理进度查询页",
             responses={200: {"content": _HTML, "description": "the form / 查询表单"}})
    def track_form() -> HTMLResponse:
        return page(200, render())

    @app.post("/track", tags=["citizens"], response_class=HTMLResponse, summary="The tracking page's answer",
              responses={200: {"content": _HTML, "description": "the status / 办理进度"}, **_PAGE_ANSWERS},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA}}}})
    async def track_post(request: Request) -> HTMLResponse:
        try:
            fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
        except ValueError:  # more fields than a form has
            fields = {}
        case_id = (fields.get("case_id") or [""])[0].strip()
        last4 = (fields.get("phone_last4") or [""])[0].strip()
        try:
            _CASE.validate_python(case_id)
            _LAST4.validate_python(last4)
        except ValidationError:
            bad = HttpError(400, "invalid_input", "enter the petition number and four digits",
                            "请填写正确的诉求编号和四位数字")
            return page(400, render(message_html(bad), case_id[:64]))
        try:
            t = await tracker.answer(case_id, last4, client_of(request))
        except HttpError as e:
            return page(e.status, render(message_html(e), case_id), e.headers)
        return page(200, render(result_html(t), case_id))

