"""The HTTP intake gateway (FastAPI): native JSON, channel adapters, Open311 GeoReport v2.

Answers: 202 + case id once Kafka acknowledged (acks=all); 400 for a body that
cannot be read (not UTF-8, not JSON, nested too deeply, numbers too long); 415
for a content type the endpoint does not take; 422 with every field error in
English and zh-CN; 413 over `max_body_bytes` (or `max_batch_events`); 401 for a
missing/wrong API key (logged without the key); 403 for what the key may not
do; 409 for an Idempotency-Key reused with another body; 429 over the key's
rate (Retry-After); 503 while the broker does not answer (then nothing was
written, and the answer comes at once). No input yields a 500: a failure
nobody foresaw is answered with a bilingual 500 and logged. The OpenAPI
document (`spec.py`, derived from the models) is at /openapi.json, the
interactive one at /docs.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Callable, Literal, Union

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from fengqiao import geo
from fengqiao.contract import CaseId, ContractError, Event, load_json, reasons_of
from fengqiao.records import DeadLetter
from fengqiao.settings import Settings
from fengqiao.vocab import TZ as CST
from producers.gateway import adapters as A
from producers.gateway import open311, spec, track_page
from producers.gateway.authz import KeyRing, endpoint_denial
from producers.gateway.config import INTAKE_CHANNELS, GatewaySettings, gateway_settings
from producers.gateway.errors import HttpError, install_handlers, too_large
from producers.gateway.errors import json_response as _json
from producers.gateway.guards import BodyLimit, BrokerHealth, RateLimiter, is_json_type, retry_after
from producers.gateway.intake import Accepted, Conflict, Forbidden, Intake, Unavailable, fingerprint
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.readback import CaseView, ReadbackUnavailable
from producers.gateway.track_page import Tracker

log = logging.getLogger("fengqiao.gateway")


def shipped_maps() -> Path:
    """The county shapes the wall ships (`dashboard/assets/maps`), found without importing the wall."""
    found = importlib.util.find_spec("dashboard")
    base = next(iter(found.submodule_search_locations or [])) if found else Path(__file__).parents[2] / "dashboard"
    return Path(base) / "assets" / "maps"


def create_app(settings: Settings, gw: GatewaySettings | None = None, intake: Intake | None = None) -> FastAPI:
    """The gateway app; `intake.start()` runs at application start-up."""
    gw = gw or gateway_settings(settings)
    intake = intake or Intake(settings, gw)
    view = CaseView(settings, gw)
    ring = KeyRing(gw.keys())  # authorization by role: producers/gateway/authz.py
    limiter = RateLimiter(gw.rate_limit_per_second, gw.rate_limit_burst)
    health = BrokerHealth(settings.kafka_bootstrap)
    metrics = GatewayMetrics(health)
    shapes: list[geo.Shape] = []
    shapes_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if gw.dev_keys:
            log.warning("no FENGQIAO_GATEWAY__API_KEYS configured: using dev-<channel> keys (development only)")
        await run_in_threadpool(health.start)
        await run_in_threadpool(intake.start)
        try:
            yield
        finally:
            health.stop()
            await run_in_threadpool(intake.close)
            view.close()

    app = FastAPI(title="网上枫桥 受理网关 Fengqiao intake gateway", version="1", lifespan=lifespan,
                  description="One stream for every channel: native JSON events, channel forms, Open311 GeoReport v2.")
    app.add_middleware(BodyLimit, limit=gw.max_body_bytes, reject=too_large)
    app.state.intake = intake
    app.state.health = health
    spec.install(app)
    install_handlers(app)

    # ------------------------------------------------------------ helpers
    def channel_of(request: Request, allowed: set[str] | None, form_key: str | None = None) -> str:
        """The channel whose key was presented; 401 (logged without the key) or 403."""
        presented = request.headers.get("x-api-key") or form_key
        auth = request.headers.get("authorization", "")
        if not presented and auth.lower().startswith("bearer "):
            presented = auth[7:].strip()
        principal = ring.identify(presented)
        if principal is None:
            log.warning("401 %s %s from %s: %s API key", request.method, request.url.path,
                        request.client.host if request.client else "?", "wrong" if presented else "missing")
            raise HttpError(401, "unauthorized", "missing or wrong API key (X-API-Key)", "缺少或错误的 API 密钥（X-API-Key）")
        request.state.principal = principal
        wait = limiter.take(f"key:{principal.name}")
        if wait:
            raise HttpError(429, "rate_limited", f"rate limit of key {principal.name} reached, retry after {retry_after(wait)} s",
                            f"密钥 {principal.name} 超出频率限制，请 {retry_after(wait)} 秒后重试",
                            headers={"Retry-After": retry_after(wait)})
        denial = endpoint_denial(principal, allowed) if allowed is not None else None
        if denial is not None:
            try:
                intake.deny(principal, denial, request.url.path)
            except Forbidden:
                raise HttpError(403, "forbidden", denial.en, denial.zh) from None
        return principal.scope

    def throttle(request: Request) -> None:
        """Rate limit of the routes without a key: per client address."""
        wait = limiter.take(f"ip:{request.client.host if request.client else '?'}")
        if wait:
            raise HttpError(429, "rate_limited", f"rate limit reached, retry after {retry_after(wait)} s",
                            f"超出频率限制，请 {retry_after(wait)} 秒后重试", headers={"Retry-After": retry_after(wait)})

    def json_body(request: Request, body: bytes) -> Any:
        """The JSON value of the body: 415 for another content type, 400 if it cannot be read."""
        if not is_json_type(request.headers.get("content-type")):
            raise HttpError(415, "unsupported_media_type", "send application/json", "请使用 application/json 提交")
        try:
            return load_json(body, max_bytes=gw.max_body_bytes)
        except ContractError as exc:
            raise HttpError(400, "unreadable_body", "the body cannot be read as JSON", "请求体不是可读取的 JSON",
                            exc.reasons) from None

    def json_object(request: Request, body: bytes) -> dict[str, Any]:
        data = json_body(request, body)
        if not isinstance(data, dict):
            raise ContractError([{"field": "(body)", "en": "expected a JSON object", "zh": "应为 JSON 对象", "type": "dict_type"}])
        return data

    def submit(events: list[Any], dead: list[DeadLetter] | None = None) -> list[Accepted]:
        """Write unless the broker is known to be down (then 503 at once, nothing written)."""
        if not health.reachable_now():
            raise Unavailable("the broker does not answer")
        accepted = intake.submit(events, dead)
        metrics.submitted(len(accepted), len(dead or ()))
        return accepted

    def locate(lat: float, lon: float) -> str | None:
        with shapes_lock:
            if not shapes:
                shapes.extend(geo.load_shapes(settings.wall.map_dir or shipped_maps()))
        return geo.region_at(lat, lon, shapes)

    def invalid(exc: ContractError) -> HttpError:
        return HttpError(422, "invalid_input", f"{len(exc.reasons)} invalid field(s)", f"{len(exc.reasons)} 处输入有误", exc.reasons)

    def run(request: Request, channel: str, body: bytes, work: Callable[[], tuple[int, Any]],
            render: Callable[..., Response] = _json) -> Response:
        """Idempotency-Key handling around one write; `render(status, body, headers)` makes the answer."""
        key = request.headers.get("idempotency-key")
        if not key:
            status, out = _guard(work)
            return render(status, out)
        if len(key) > 200:
            raise HttpError(400, "bad_header", "Idempotency-Key longer than 200 characters", "Idempotency-Key 超过 200 字符")
        scoped = f"{channel}:{key}"
        try:
            state, prev = intake.idem.begin(scoped, fingerprint(request.url.path, body))
        except Conflict:
            raise HttpError(409, "idempotency_conflict", "Idempotency-Key reused with a different request",
                            "Idempotency-Key 已用于另一个不同的请求") from None
        except Unavailable:
            raise HttpError(503, "busy", "the first request with this key is still running", "同一幂等键的请求仍在处理中") from None
        if state == "replay":
            return render(prev[0], prev[1], {"Idempotent-Replayed": "true"})
        try:
            status, out = _guard(work)
        except BaseException:
            intake.idem.abandon(scoped)
            raise
        if status < 500:
            intake.idem.finish(scoped, status, out)
        else:
            intake.idem.abandon(scoped)
        return render(status, out)

    def _guard(work: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        try:
            return work()
        except ContractError as exc:
            return 422, invalid(exc).body()
        except Forbidden as exc:
            return 403, HttpError(403, "forbidden", exc.en, exc.zh).body()
        except ReadbackUnavailable:  # authorization needs the case's state: fail closed, nothing written
            return 503, HttpError(503, "readback_unavailable", "the case view did not answer, so who may act on this "
                                  "case cannot be checked; nothing was written, retry later",
                                  "案件状态服务暂不可用，无法核验权限，未写入任何数据，请稍后重试").body()
        except Unavailable:
            return 503, HttpError(503, "broker_unavailable", "the event broker did not acknowledge; nothing was written, retry later",
                                  "消息服务暂不可用，未写入任何数据，请稍后重试").body()

    def scope_of(request: Request, channel: str, external: str | None) -> str | None:
        key = request.headers.get("idempotency-key")
        if external:
            return f"{channel}:ext:{external}"
        return f"{channel}:idem:{key}" if key else None

    def petition(form: A.PetitionForm, channel: str, request: Request) -> dict[str, Any]:
        ch = str(form.channel or channel)  # another channel than the key's: 403 (and audited) in intake.prepare
        case_id = A.case_id_for(ch, scope=scope_of(request, ch, form.external_id))
        return A.petition_event(form, ch, case_id, datetime.now(CST))

    def accepted_body(acc: list[Accepted], single: bool) -> dict[str, Any]:
        if single and len([a for a in acc]) == 1:
            return {"status": "accepted", **acc[0].as_dict()}
        return {"status": "accepted", "accepted": len(acc), "events": [a.as_dict() for a in acc]}

    # ------------------------------------------------------------ native
    write = {"responses": spec.answers(*spec.WRITE_ERRORS), "response_model": spec.Accepted, "status_code": 202}
    keyed = {"security": [{"ApiKey": []}]}

    @app.get("/healthz", tags=["ops"], response_model=spec.Health, responses={503: {"model": spec.Health,
             "description": "Kafka does not answer: writes are refused / 消息服务不可达"}})
    def healthz() -> JSONResponse:
        kafka = health.as_dict()
        return _json(200 if health.reachable else 503, {
            "ok": health.reachable, "kafka": kafka,
            "duplicate_index_ready": intake.index.ready.is_set(), "duplicate_index_cases": len(intake.index)})

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        """Prometheus text format (events accepted, dead letters, broker up)."""
        return metrics.response()

    events_body = TypeAdapter(Union[Event, Annotated[list[Event], Field(min_length=1, max_length=gw.max_batch_events)]])

    @app.post("/v1/events", tags=["native"], **write,
              openapi_extra={**keyed, **spec.reads({"application/json": events_body},
                                                   {"application/json": spec.EVENT_EXAMPLE})},
              summary="One contract event (JSON object) or a batch (JSON array), all-or-nothing")
    async def post_events(request: Request) -> Response:
        body = await request.body()
        channel = channel_of(request, None)

        def work() -> tuple[int, Any]:
            data = json_body(request, body)
            items = data if isinstance(data, list) else [data]
            if not items:
                raise ContractError([{"field": "(body)", "en": "empty batch", "zh": "批量为空", "type": "too_short"}])
            bad = [i for i, it in enumerate(items) if not isinstance(it, dict)]
            if bad:
                raise ContractError([{"field": f"[{i}]" if isinstance(data, list) else "(body)", "en": "expected a JSON object",
                                      "zh": "应为 JSON 对象", "type": "dict_type"} for i in bad])
            if len(items) > gw.max_batch_events:
                raise HttpError(413, "batch_too_large", f"more than {gw.max_batch_events} events in one batch",
                                f"单批事件超过 {gw.max_batch_events} 条")
            events = intake.prepare(items, request.state.principal)
            return 202, accepted_body(submit(events), not isinstance(data, list))

        return await _threaded(run, request, channel, body, work)

    @app.post("/v1/petitions", tags=["native"], **write,
              openapi_extra={**keyed, **spec.reads({"application/json": A.PetitionForm},
                                                   {"application/json": spec.PETITION_EXAMPLE})},
              summary="A new petition in a channel-friendly form; the gateway assigns case_id and event_id")
    async def post_petition(request: Request) -> Response:
        """New petitions come from intake channels and the platform, never from a department key."""
        body = await request.body()
        channel = channel_of(request, set(INTAKE_CHANNELS))

        def work() -> tuple[int, Any]:
            form = A.petition_form(json_object(request, body))
            events = intake.prepare([petition(form, channel, request)], request.state.principal)
            return 202, accepted_body(submit(events), True)

        return await _threaded(run, request, channel, body, work)

    # ------------------------------------------------------------ channel adapters
    text_body = {"type": "string", "maxLength": gw.max_body_bytes}

    @app.post("/v1/channels/hotline/batch", tags=["channels"], **write,
              openapi_extra={**keyed, **spec.reads({"text/csv": text_body, "application/x-ndjson": text_body},
                                                   {"text/csv": spec.HOTLINE_EXAMPLE})},
              summary="12345 hotline export: CSV (text/csv) or JSON lines (application/x-ndjson), hotline column names")
    async def post_hotline(request: Request, partial: bool = False, format: Literal["csv", "jsonl"] | None = None) -> Response:
        """All-or-nothing by default; `?partial=true` accepts the good rows and sends
        each bad one to the DLQ (source `gateway.hotline`) in the same transaction."""
        channel = channel_of(request, {"hotline"})
        body = await request.body()
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        fmt = format or ("csv" if "csv" in ctype else "jsonl" if (not ctype or "json" in ctype) else None)
        if fmt is None:
            raise HttpError(415, "unsupported_media_type", "send text/csv or application/x-ndjson",
                            "请使用 text/csv 或 application/x-ndjson 提交")

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
            acc = submit(events, dead if partial else None)
            out = accepted_body(acc, False)
            if partial:
                out["dead_lettered"] = len(dead)
                out["errors"] = [{"field": r["field"], "en": r["en"], "zh": r["zh"]} for r in reasons]
            return 202, out

        return await _threaded(run, request, channel, body, work)

    def _form_endpoint(path: str, allowed: set[str], to_form: Callable[[dict[str, Any], str], A.PetitionForm],
                       model: type, example: dict[str, Any], summary: str) -> None:
        @app.post(path, tags=["channels"], summary=summary, name=path, **write,
                  openapi_extra={**keyed, **spec.reads({"application/json": model}, {"application/json": example})})
        async def post_form(request: Request) -> Response:
            channel = channel_of(request, allowed)
            body = await request.body()
            ch = next(iter(allowed)) if channel == "internal" else channel

            def work() -> tuple[int, Any]:
                form = to_form(json_object(request, body), ch)
                events = intake.prepare([petition(form, ch, request)], ch)
                return 202, accepted_body(submit(events), True)

            return await _threaded(run, request, channel, body, work)

    _form_endpoint("/v1/channels/wechat", {"wechat"}, A.wechat_form, A.WechatForm, spec.WECHAT_EXAMPLE,
                   "WeChat mini-program form (camelCase)")
    _form_endpoint("/v1/channels/app", {"app"}, A.wechat_form, A.WechatForm, spec.WECHAT_EXAMPLE,
                   "Mobile app form (same shape as the mini-program)")
    _form_endpoint("/v1/channels/qrcode", {"qrcode"}, lambda d, _: A.qrcode_form(d), A.QrForm, spec.QR_EXAMPLE,
                   "民情码 QR sticker form: the region comes from the scanned code")

    # ------------------------------------------------------------ read-back
    @app.get("/v1/cases/{case_id}", tags=["native"], summary="A case's current state (from the streams worker's view)",
             responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}},
                        **spec.answers(404, 429, 503)})
    def get_case(request: Request, case_id: CaseId) -> Response:
        throttle(request)
        try:
            case = view.get(case_id)
        except ReadbackUnavailable as exc:
            raise HttpError(503, "readback_unavailable", str(exc), "案件状态服务暂不可用") from None
        if case is None:
            raise HttpError(404, "not_found", f"no case {case_id[:64]}", f"未找到案件 {case_id[:64]}")
        return _json(200, case)

    # ------------------------------------------------------------ citizen tracking (track.py)
    track_page.add_routes(app, Tracker(view, settings.pii_key, gw.track_per_minute, gw.track_burst,
                                       gw.track_case_per_hour, gw.track_floor_seconds))

    # ------------------------------------------------------------ Open311 GeoReport v2
    open311.add_routes(app, open311.Hooks(
        settings=settings, identify=channel_of, throttle=throttle, run=run, petition=petition,
        prepare=lambda raws, request: intake.prepare(raws, request.state.principal, request.url.path),
        submit=submit, case=view.get, locate=locate))

    return app


async def _threaded(fn: Callable[..., Response], *args: Any) -> Response:
    """Kafka writes block until acknowledged: run them off the event loop (HttpError: the handlers)."""
    return await run_in_threadpool(fn, *args)


__all__ = ["create_app", "HttpError", "ValidationError", "reasons_of"]
