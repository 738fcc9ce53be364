"""The Open311 GeoReport v2 routes: `/open311/v2/...{json,xml}`.

The mapping is in `georeport.py`; this file only speaks HTTP. Errors use the
spec's shape (a list of `{code, description}`, `<errors><error>…` in XML),
with bilingual descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Callable, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from fengqiao.contract import CaseId, Category, ContractError
from producers.gateway import georeport as G
from producers.gateway import spec
from producers.gateway.intake import Unavailable
from producers.gateway.readback import ListsNotServed, ReadbackUnavailable, list_cases

Format = Literal["json", "xml"]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
XML = {"content": {"application/xml": {"schema": {}}}}


def render(fmt: str, root: str, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """The answer in the format the path asked for."""
    if fmt == "xml":
        return Response(G.to_xml(root, body), status_code=status, media_type="application/xml", headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def error(fmt: str, status: int, en: str, zh: str, headers: dict[str, str] | None = None) -> Response:
    return render(fmt, "errors", status, [{"code": status, "description": f"{en} / {zh}"}], headers)


Jurisdiction = Annotated[str | None, Query(max_length=64, description="optional: this endpoint serves Hebei "
                                           "only (130000 or a Hebei division code)")]


def wrong_jurisdiction(fmt: str, jurisdiction_id: str | None) -> Response | None:
    """The spec's 400 for a jurisdiction this endpoint does not serve, else None."""
    try:
        G.check_jurisdiction(jurisdiction_id)
    except ContractError as exc:
        return render(fmt, "errors", 400, G.open311_error(exc.reasons, 400))
    return None


@dataclass
class Hooks:
    """What the Open311 routes need from the gateway app."""

    settings: Any
    identify: Callable[..., str]  # (request, allowed, form_key) -> scope; raises HttpError
    throttle: Callable[[Request], None]
    run: Callable[..., Response]  # (request, scope, body, work, render) -> Response
    petition: Callable[..., dict[str, Any]]
    prepare: Callable[..., list]
    submit: Callable[..., list]
    case: Callable[[str], dict[str, Any] | None]  # raises ReadbackUnavailable
    locate: Callable[[float, float], str | None]


def add_routes(app: FastAPI, h: Hooks) -> None:
    errs = spec.answers

    @app.get("/open311/v2/services.{format}", tags=["open311"], response_model=list[spec.Open311Service],
             responses={200: XML, **errs(400, 429, open311=True, xml=True)}, summary="Service list")
    def services(request: Request, format: Format, jurisdiction_id: Jurisdiction = None) -> Response:
        h.throttle(request)
        if bad := wrong_jurisdiction(format, jurisdiction_id):
            return bad
        return render(format, "services", 200, G.SERVICES)

    @app.get("/open311/v2/services/{service_code}.{format}", tags=["open311"], response_model=spec.Open311Definition,
             responses={200: XML, **errs(400, 404, 429, open311=True, xml=True)}, summary="Service definition")
    def service(request: Request, service_code: str, format: Format, jurisdiction_id: Jurisdiction = None) -> Response:
        h.throttle(request)
        if bad := wrong_jurisdiction(format, jurisdiction_id):
            return bad
        if service_code not in G.SERVICE_CODES:
            return error(format, 404, f"unknown service_code {service_code[:64]}", "未知的服务代码")
        return render(format, "service_definition", 200, G.service_definition(service_code))

    @app.post("/open311/v2/requests.{format}", status_code=202, tags=["open311"], response_model=list[spec.Open311Created],
              responses={202: XML, **errs(400, 401, 403, 409, 413, 415, 429, 500, 503, open311=True, xml=True)},
              openapi_extra=spec.reads({"application/x-www-form-urlencoded": G.RequestFields},
                                       {"application/x-www-form-urlencoded": spec.OPEN311_EXAMPLE}),
              summary="Create a service request (form-encoded, as the spec says)")
    async def post_request(request: Request, format: Format) -> Response:
        body = await request.body()
        ctype = request.headers.get("content-type", "")
        if not any(t in ctype.lower() for t in FORM_TYPES):
            return error(format, 415, "send application/x-www-form-urlencoded", "请使用表单编码（application/x-www-form-urlencoded）提交")
        try:
            raw = await request.form()
        except Exception:  # python-multipart refuses a malformed body
            return error(format, 400, "unreadable form body", "表单无法解析")
        fields = {k: v for k, v in raw.items() if isinstance(v, str)}
        scope = h.identify(request, {"open311"}, fields.get("api_key"))

        def work() -> tuple[int, Any]:
            try:
                form = G.open311_form(fields, h.locate)
                events = h.prepare([h.petition(form, "open311", request)], request)
                acc = h.submit(events)[0]
            except ContractError as exc:
                return 400, G.open311_error(exc.reasons, 400)
            except Unavailable:
                return 503, [{"code": 503, "description": "broker unavailable, nothing written / 消息服务暂不可用，未写入"}]
            notice = (f"已受理，已合并至 {acc.merged_into} / accepted, merged into {acc.merged_into}" if acc.merged_into
                      else "已受理 / accepted")
            return 202, [{"service_request_id": acc.case_id, "service_notice": notice, "account_id": None}]

        return await _off_loop(h.run, request, scope, body, work,
                               lambda st, out, hd=None: render(format, "errors" if st >= 400 else "service_requests", st, out, hd))

    def one(request_id: str) -> tuple[int, Any]:
        try:
            case = h.case(request_id)
        except ReadbackUnavailable:
            return 503, [{"code": 503, "description": "case view unavailable / 案件状态服务暂不可用"}]
        if case is None:
            return 404, [{"code": 404, "description": f"no request {request_id[:64]} / 未找到该诉求"}]
        return 200, [G.case_to_open311(case)]

    @app.get("/open311/v2/requests/{service_request_id}.{format}", tags=["open311"], response_model=list[spec.Open311Request],
             responses={200: XML, **errs(400, 404, 429, 503, open311=True, xml=True)}, summary="One service request")
    def get_request(request: Request, service_request_id: CaseId, format: Format,
                    jurisdiction_id: Jurisdiction = None) -> Response:
        h.throttle(request)
        if bad := wrong_jurisdiction(format, jurisdiction_id):
            return bad
        status, out = one(service_request_id)
        return render(format, "errors" if status >= 400 else "service_requests", status, out)

    @app.get("/open311/v2/requests.{format}", tags=["open311"], response_model=list[spec.Open311Request],
             responses={200: XML, **errs(400, 429, 501, 503, open311=True, xml=True)},
             summary="List requests: ClickHouse in server mode; in embedded mode only by service_request_id")
    def get_requests(request: Request, format: Format,
                     service_request_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,64}(,[A-Za-z0-9_-]{1,64}){0,49}$",
                                                               description="comma-separated, at most 50")] | None = None,
                     service_code: Category | None = None, start_date: datetime | None = None,
                     end_date: datetime | None = None, status: Literal["open", "closed"] | None = None,
                     jurisdiction_id: Jurisdiction = None) -> Response:
        h.throttle(request)
        if bad := wrong_jurisdiction(format, jurisdiction_id):
            return bad
        ids = [i.strip() for i in service_request_id.split(",") if i.strip()] if service_request_id else None
        code, out = _list(h, ids, service_code, start_date, end_date, status)
        return render(format, "errors" if code >= 400 else "service_requests", code, out)

    def _list(h: Hooks, ids: list[str] | None, service_code: str | None, start: datetime | None,
              end: datetime | None, status: str | None) -> tuple[int, Any]:
        try:
            rows = list_cases(h.settings, ids=ids, service_code=service_code and str(service_code), start=start, end=end,
                              status=status)
        except ListsNotServed:
            if not ids or service_code or start or end or len(ids) > 50:
                return 501, [{"code": 501, "description":
                              "lists are served from the ClickHouse server (server mode); in the embedded mode only the wall "
                              "owns the store, so filter by service_request_id here or use the wall / 列表查询需要 ClickHouse "
                              "服务器模式；嵌入模式下请按 service_request_id 查询或在大屏查看"}]
            found = []
            for i in ids:
                code, out = one(i)
                if code == 503:
                    return code, out
                if code == 200 and (status is None or out[0]["status"] == status):
                    found += out
            return 200, found
        except ReadbackUnavailable:
            return 503, [{"code": 503, "description": "read model unavailable / 读模型暂不可用"}]
        return 200, [G.case_to_open311(r) for r in rows]


async def _off_loop(fn: Callable[..., Response], *args: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)
