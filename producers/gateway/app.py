"""The HTTP intake gateway (FastAPI): native JSON, channel adapters, Open311 GeoReport v2.

Answers: 202 + case id once Kafka acknowledged (acks=all); 422 with every field
error in English and zh-CN; 413 over `max_body_bytes` (or `max_batch_events`);
401 for a missing/wrong API key (logged without the key); 403 for a key of
another channel; 409 for an Idempotency-Key reused with another body; 503 when
the broker did not acknowledge (then nothing was written). The OpenAPI document
is at /openapi.json, the interactive one at /docs.
"""

from __future__ import annotations

import hmac
import json
import logging
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from fengqiao.contract import _ZH, ContractError, reasons_of
from fengqiao.records import DeadLetter
from fengqiao.settings import Settings
from producers.gateway import adapters as A
from producers.gateway.config import GatewaySettings, gateway_settings
from producers.gateway.intake import Accepted, Conflict, Forbidden, Intake, Unavailable, fingerprint
from producers.gateway.readback import CaseView, ListsNotServed, ReadbackUnavailable, list_cases

log = logging.getLogger("fengqiao.gateway")
CST = timezone(timedelta(hours=8))


class HttpError(Exception):
    def __init__(self, status: int, code: str, en: str, zh: str, errors: list[dict[str, str]] | None = None):
        self.status, self.code, self.en, self.zh, self.errors = status, code, en, zh, errors or []

    def body(self) -> dict[str, Any]:
        b: dict[str, Any] = {"error": self.code, "message": f"{self.en} / {self.zh}"}
        if self.errors:
            b["errors"] = [{"field": e["field"], "en": e["en"], "zh": e["zh"]} for e in self.errors]
        return b


class BodyLimit:
    """Pure ASGI middleware: 413 before reading more than `limit` bytes of a body."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            return await self._reject(send)
        chunks, size, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await self._reject(send)
            chunks.append(chunk)
            more = msg.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Callable) -> None:
        e = HttpError(413, "payload_too_large", f"request body over {self.limit} bytes", f"请求体超过 {self.limit} 字节")
        data = json.dumps(e.body(), ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def _reasons_from_fastapi(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        typ, msg = e.get("type", ""), str(e.get("msg", "invalid"))
        zh = _ZH.get(typ, "取值无效")
        ctx = e.get("ctx") or {}
        if "Hebei" in msg:
            zh = "行政区划代码不在河北省区划表中"
        elif typ == "value_error" and " / " in msg:
            zh = msg.rsplit(" / ", 1)[1]
        elif typ == "string_too_long" and "max_length" in ctx:
            zh += f"（最多 {ctx['max_length']} 字）"
        elif typ in ("literal_error", "enum") and "expected" in ctx:
            zh += f"（允许：{ctx['expected']}）"
        out.append({"field": ".".join(loc) or "(body)", "en": msg, "zh": zh})
    return out


def create_app(settings: Settings, gw: GatewaySettings | None = None, intake: Intake | None = None) -> FastAPI:
    """The gateway app; `intake.start()` runs at application start-up."""
    gw = gw or gateway_settings(settings)
    intake = intake or Intake(settings, gw)
    view = CaseView(settings, gw)
    keys = gw.keys()
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if gw.dev_keys:
            log.warning("no FENGQIAO_GATEWAY__API_KEYS configured: using dev-<channel> keys (development only)")
        await run_in_threadpool(intake.start)
        try:
            yield
        finally:
            await run_in_threadpool(intake.close)
            view.close()

    app = FastAPI(title="网上枫桥 受理网关 Fengqiao intake gateway", version="1", lifespan=lifespan,
                  description="One stream for every channel: native JSON events, channel forms, Open311 GeoReport v2.")
    app.add_middleware(BodyLimit, limit=gw.max_body_bytes)
    app.state.intake = intake

    @app.exception_handler(HttpError)
    async def _http_error(_: Request, exc: HttpError) -> JSONResponse:
        return _json(exc.status, exc.body())

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = _reasons_from_fastapi(list(exc.errors()))
        return _json(422, HttpError(422, "invalid_input", "invalid input", "输入有误", reasons).body())

    # ------------------------------------------------------------ helpers
    def channel_of(request: Request, allowed: set[str] | None, form_key: str | None = None) -> str:
        """The channel whose key was presented; 401 (logged without the key) or 403."""
        presented = request.headers.get("x-api-key") or form_key
        auth = request.headers.get("authorization", "")
        if not presented and auth.lower().startswith("bearer "):
            presented = auth[7:].strip()
        channel = None
        if presented:
            for ch, k in keys.items():
                if hmac.compare_digest(presented.encode(), k.encode()):
                    channel = ch
                    break
        if channel is None:
            log.warning("401 %s %s from %s: %s API key", request.method, request.url.path,
                        request.client.host if request.client else "?", "wrong" if presented else "missing")
            raise HttpError(401, "unauthorized", "missing or wrong API key (X-API-Key)", "缺少或错误的 API 密钥（X-API-Key）")
        if allowed is not None and channel not in allowed and channel != "internal":
            raise HttpError(403, "forbidden", f"a {channel} key may not use this endpoint", f"{channel} 渠道的密钥无权使用此接口")
        return channel

    def any_key(request: Request) -> str:
        return channel_of(request, None)

    def invalid(exc: ContractError) -> HttpError:
        return HttpError(422, "invalid_input", f"{len(exc.reasons)} invalid field(s)", f"{len(exc.reasons)} 处输入有误", exc.reasons)

    def run(request: Request, channel: str, body: bytes, work: Callable[[], tuple[int, Any]]) -> JSONResponse:
        """Idempotency-Key handling around one write."""
        key = request.headers.get("idempotency-key")
        if not key:
            status, out = _guard(work)
            return _json(status, out)
        if len(key) > 200:
            raise HttpError(422, "invalid_input", "Idempotency-Key longer than 200 characters", "Idempotency-Key 超过 200 字符")
        scoped = f"{channel}:{key}"
        try:
            state, prev = intake.idem.begin(scoped, fingerprint(request.url.path, body))
        except Conflict:
            raise HttpError(409, "idempotency_conflict", "Idempotency-Key reused with a different request",
                            "Idempotency-Key 已用于另一个不同的请求") from None
        except Unavailable:
            raise HttpError(503, "busy", "the first request with this key is still running", "同一幂等键的请求仍在处理中") from None
        if state == "replay":
            return _json(prev[0], prev[1], {"Idempotent-Replayed": "true"})
        try:
            status, out = _guard(work)
        except BaseException:
            intake.idem.abandon(scoped)
            raise
        if status < 500:
            intake.idem.finish(scoped, status, out)
        else:
            intake.idem.abandon(scoped)
        return _json(status, out)

    def _guard(work: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        try:
            return work()
        except ContractError as exc:
            return 422, invalid(exc).body()
        except Forbidden as exc:
            return 403, HttpError(403, "forbidden", str(exc), "此密钥无权提交该渠道的事件").body()
        except Unavailable:
            return 503, HttpError(503, "broker_unavailable", "the event broker did not acknowledge; nothing was written, retry later",
                                  "消息服务暂不可用，未写入任何数据，请稍后重试").body()

    def scope_of(request: Request, channel: str, external: str | None) -> str | None:
        key = request.headers.get("idempotency-key")
        if external:
            return f"{channel}:ext:{external}"
        return f"{channel}:idem:{key}" if key else None

    def petition(form: A.PetitionForm, channel: str, request: Request) -> dict[str, Any]:
        ch = str(form.channel or channel)
        if channel != "internal" and ch != channel:
            raise Forbidden(f"a {channel} key may not submit petitions of channel {ch}")
        case_id = A.case_id_for(ch, scope=scope_of(request, ch, form.external_id))
        return A.petition_event(form, ch, case_id, datetime.now(CST))

    def accepted_body(acc: list[Accepted], single: bool) -> dict[str, Any]:
        if single and len([a for a in acc]) == 1:
            return {"status": "accepted", **acc[0].as_dict()}
        return {"status": "accepted", "accepted": len(acc), "events": [a.as_dict() for a in acc]}

    def parse_json(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ContractError([{"field": "(body)", "en": f"not JSON: {exc}", "zh": "不是合法的 JSON", "type": "json_invalid"}]) from None

    # ------------------------------------------------------------ native
    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, Any]:
        return {"ok": True, "duplicate_index_ready": intake.index.ready.is_set(), "duplicate_index_cases": len(intake.index)}

    @app.post("/v1/events", status_code=202, tags=["native"],
              summary="One contract event (JSON object) or a batch (JSON array), all-or-nothing")
    async def post_events(request: Request) -> JSONResponse:
        body = await request.body()
        channel = channel_of(request, None)

        def work() -> tuple[int, Any]:
            data = parse_json(body)
            items = data if isinstance(data, list) else [data]
            if not items:
                raise ContractError([{"field": "(body)", "en": "empty batch", "zh": "批量为空", "type": "too_short"}])
            if len(items) > gw.max_batch_events:
                raise HttpError(413, "batch_too_large", f"more than {gw.max_batch_events} events in one batch",
                                f"单批事件超过 {gw.max_batch_events} 条")
            events = intake.prepare(items, channel)
            return 202, accepted_body(intake.submit(events), not isinstance(data, list))

        return await _threaded(run, request, channel, body, work)

    @app.post("/v1/petitions", status_code=202, tags=["native"],
              summary="A new petition in a channel-friendly form; the gateway assigns case_id and event_id")
    async def post_petition(request: Request, form: A.PetitionForm, channel: str = Depends(any_key)) -> JSONResponse:
        body = await request.body()

        def work() -> tuple[int, Any]:
            events = intake.prepare([petition(form, channel, request)], channel)
            return 202, accepted_body(intake.submit(events), True)

        return await _threaded(run, request, channel, body, work)

    # ------------------------------------------------------------ channel adapters
    @app.post("/v1/channels/hotline/batch", status_code=202, tags=["channels"],
              summary="12345 hotline export: CSV (text/csv) or JSON lines (application/x-ndjson), hotline column names")
    async def post_hotline(request: Request, partial: bool = False, format: str | None = None) -> JSONResponse:
        """All-or-nothing by default; `?partial=true` accepts the good rows and sends
        each bad one to the DLQ (source `gateway.hotline`) in the same transaction."""
        channel = channel_of(request, {"hotline"})
        body = await request.body()
        ctype = request.headers.get("content-type", "")
        fmt = format or ("csv" if "csv" in ctype else "jsonl")
        if fmt not in ("csv", "jsonl"):
            raise HttpError(422, "invalid_input", "format must be csv or jsonl", "format 只能是 csv 或 jsonl")

        def work() -> tuple[int, Any]:
            rows = A.parse_hotline_export(body, fmt)
            if not rows:
                raise ContractError([{"field": "(body)", "en": "no rows", "zh": "没有数据行", "type": "too_short"}])
            if len(rows) > gw.max_batch_events:
                raise HttpError(413, "batch_too_large", f"more than {gw.max_batch_events} rows", f"超过 {gw.max_batch_events} 行")
            good, reasons, dead = [], [], []
            now = datetime.now(CST)
            for i, row in enumerate(rows):
                try:
                    form = A.hotline_row_form(row)
                    case_id = A.case_id_for("hotline", scope=f"hotline:ext:{form.external_id}")
                    good.append(A.petition_event(form, "hotline", case_id, now))
                except ContractError as exc:
                    reasons += [{**r, "field": f"row {i + 1}.{r['field']}"} for r in exc.reasons]
                    # the row may carry a clear phone or ID number: keep it, sealed
                    dead.append(DeadLetter.sealed_of("gateway.hotline", json.dumps(row, ensure_ascii=False).encode(),
                                                     exc.bilingual(), now, settings.pii_key))
            if reasons and not partial:
                raise ContractError(reasons)
            events = intake.prepare(good, "hotline") if good else []
            acc = intake.submit(events, dead if partial else None)
            out = accepted_body(acc, False)
            if partial:
                out["dead_lettered"] = len(dead)
                out["errors"] = [{"field": r["field"], "en": r["en"], "zh": r["zh"]} for r in reasons]
            return 202, out

        return await _threaded(run, request, channel, body, work)

    def _form_endpoint(path: str, allowed: set[str], to_form: Callable[[dict[str, Any], str], A.PetitionForm],
                       summary: str) -> None:
        @app.post(path, status_code=202, tags=["channels"], summary=summary, name=path)
        async def post_form(request: Request) -> JSONResponse:
            channel = channel_of(request, allowed)
            body = await request.body()
            ch = next(iter(allowed)) if channel == "internal" else channel

            def work() -> tuple[int, Any]:
                data = parse_json(body)
                if not isinstance(data, dict):
                    raise ContractError([{"field": "(body)", "en": "expected a JSON object", "zh": "应为 JSON 对象", "type": "dict_type"}])
                form = to_form(data, ch)
                events = intake.prepare([petition(form, ch, request)], ch)
                return 202, accepted_body(intake.submit(events), True)

            return await _threaded(run, request, channel, body, work)

    _form_endpoint("/v1/channels/wechat", {"wechat"}, A.wechat_form, "WeChat mini-program form (camelCase)")
    _form_endpoint("/v1/channels/app", {"app"}, A.wechat_form, "Mobile app form (same shape as the mini-program)")
    _form_endpoint("/v1/channels/qrcode", {"qrcode"}, lambda d, _: A.qrcode_form(d),
                   "民情码 QR sticker form: the region comes from the scanned code")

    # ------------------------------------------------------------ read-back
    def case_or_404(case_id: str, open311: bool) -> dict[str, Any]:
        try:
            case = view.get(case_id)
        except ReadbackUnavailable as exc:
            body = HttpError(503, "readback_unavailable", str(exc), "案件状态服务暂不可用").body()
            raise _Resp(503, [{"code": 503, "description": body["message"]}] if open311 else body) from None
        if case is None:
            msg = {"en": f"no case {case_id}", "zh": f"未找到案件 {case_id}"}
            raise _Resp(404, [{"code": 404, "description": f"{msg['en']} / {msg['zh']}"}] if open311 else
                        {"error": "not_found", "message": f"{msg['en']} / {msg['zh']}"})
        return case

    @app.get("/v1/cases/{case_id}", tags=["native"], summary="A case's current state (from the streams worker's view)")
    def get_case(case_id: str) -> JSONResponse:
        try:
            return _json(200, case_or_404(case_id, False))
        except _Resp as r:
            return _json(r.status, r.body)

    # ------------------------------------------------------------ Open311 GeoReport v2
    @app.get("/open311/v2/services.json", tags=["open311"])
    def services() -> list[dict[str, Any]]:
        return A.SERVICES

    @app.get("/open311/v2/services/{code}.json", tags=["open311"])
    def service(code: str) -> JSONResponse:
        if code not in A.SERVICE_CODES:
            return _json(404, [{"code": 404, "description": f"unknown service_code {code} / 未知的服务代码"}])
        return _json(200, A.service_definition(code))

    @app.post("/open311/v2/requests.json", status_code=202, tags=["open311"],
              summary="Create a service request (application/x-www-form-urlencoded, as the spec says)")
    async def post_request(request: Request) -> JSONResponse:
        body = await request.body()
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype and "multipart/form-data" not in ctype:
            return _json(415, [{"code": 415, "description": "send application/x-www-form-urlencoded / 请使用表单编码提交"}])
        try:
            raw = await request.form()
        except Exception:
            return _json(422, [{"code": 422, "description": "unreadable form body / 表单无法解析"}])
        fields = {k: v for k, v in raw.items() if isinstance(v, str)}
        try:
            channel = channel_of(request, {"open311"}, fields.get("api_key"))
        except HttpError as exc:
            return _json(exc.status, [{"code": exc.status, "description": f"{exc.en} / {exc.zh}"}])
        ch = "open311"

        def work() -> tuple[int, Any]:
            try:
                form = A.open311_form(fields)
                events = intake.prepare([petition(form, ch, request)], ch)
                acc = intake.submit(events)[0]
            except ContractError as exc:
                return 422, A.open311_error(exc.reasons, 422)
            except Unavailable:
                return 503, [{"code": 503, "description": "broker unavailable, nothing written / 消息服务暂不可用，未写入"}]
            notice = f"已受理，已合并至 {acc.merged_into} / accepted, merged into {acc.merged_into}" if acc.merged_into else "已受理 / accepted"
            return 202, [{"service_request_id": acc.case_id, "service_notice": notice, "account_id": None}]

        return await _threaded(run, request, channel, body, work)

    @app.get("/open311/v2/requests/{request_id}.json", tags=["open311"])
    def get_request(request_id: str) -> JSONResponse:
        try:
            return _json(200, [A.case_to_open311(case_or_404(request_id, True))])
        except _Resp as r:
            return _json(r.status, r.body)

    @app.get("/open311/v2/requests.json", tags=["open311"],
             summary="List requests: ClickHouse in server mode; in embedded mode only by service_request_id")
    def get_requests(service_request_id: str | None = None, service_code: str | None = None,
                     start_date: datetime | None = None, end_date: datetime | None = None,
                     status: str | None = None) -> JSONResponse:
        ids = [i.strip() for i in service_request_id.split(",") if i.strip()] if service_request_id else None
        if status not in (None, "open", "closed"):
            return _json(422, [{"code": 422, "description": "status must be open or closed / status 只能是 open 或 closed"}])
        try:
            rows = list_cases(settings, ids=ids, service_code=service_code, start=start_date, end=end_date, status=status)
        except ListsNotServed:
            if ids and not (service_code or start_date or end_date) and len(ids) <= 50:
                out = []
                for i in ids:
                    try:
                        case = view.get(i)
                    except ReadbackUnavailable:
                        return _json(503, [{"code": 503, "description": "case view unavailable / 案件状态服务暂不可用"}])
                    if case is not None:
                        r = A.case_to_open311(case)
                        if status is None or r["status"] == status:
                            out.append(r)
                return _json(200, out)
            return _json(501, [{"code": 501, "description":
                                "lists are served from the ClickHouse server (server mode); in the embedded mode only the wall "
                                "owns the store, so filter by service_request_id here or use the wall / 列表查询需要 ClickHouse "
                                "服务器模式；嵌入模式下请按 service_request_id 查询或在大屏查看"}])
        except ReadbackUnavailable:
            return _json(503, [{"code": 503, "description": "read model unavailable / 读模型暂不可用"}])
        return _json(200, [A.case_to_open311(r) for r in rows])

    return app


class _Resp(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


async def _threaded(fn: Callable[..., JSONResponse], *args: Any) -> JSONResponse:
    """Kafka writes block until acknowledged: run them off the event loop."""
    from starlette.concurrency import run_in_threadpool

    try:
        return await run_in_threadpool(fn, *args)
    except HttpError as exc:
        return _json(exc.status, exc.body())


__all__ = ["create_app", "HttpError", "ValidationError", "reasons_of"]
