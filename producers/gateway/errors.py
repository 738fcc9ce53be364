"""The gateway's errors: one bilingual body for every failure, whatever raised it.

Native routes answer `{"error", "message": "English / 中文", "errors": [{field, en, zh}]}`;
Open311 paths answer the GeoReport v2 shape (`open311.error`), in XML on `.xml`
paths. FastAPI's own parameter errors, Starlette's 404/405 and anything
unforeseen are mapped here too, so no answer is a bare traceback or an
English-only `{"detail": ...}`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fengqiao.contract import _ZH
from producers.gateway import open311

log = logging.getLogger("fengqiao.gateway")


class HttpError(Exception):
    def __init__(self, status: int, code: str, en: str, zh: str, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None):
        self.status, self.code, self.en, self.zh, self.errors = status, code, en, zh, errors or []
        self.headers = headers

    def body(self) -> dict[str, Any]:
        b: dict[str, Any] = {"error": self.code, "message": f"{self.en} / {self.zh}"}
        if self.errors:
            b["errors"] = [{"field": e["field"], "en": e["en"], "zh": e["zh"]} for e in self.errors]
        return b


def too_large(limit: int, path: str) -> tuple[int, bytes]:
    e = HttpError(413, "payload_too_large", f"request body over {limit} bytes", f"请求体超过 {limit} 字节")
    body: Any = [{"code": 413, "description": f"{e.en} / {e.zh}"}] if path.startswith("/open311/") else e.body()
    return 413, json.dumps(body, ensure_ascii=False).encode()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def reasons_from_fastapi(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
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


def _fmt(request: Request) -> str | None:
    """"json"/"xml" on an Open311 path (its errors take the spec's shape), else None."""
    path = request.url.path
    if not path.startswith("/open311/"):
        return None
    return "xml" if path.endswith(".xml") else "json"


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(HttpError)
    async def _http_error(request: Request, exc: HttpError) -> Response:
        fmt = _fmt(request)
        if fmt:
            return open311.error(fmt, exc.status, exc.en, exc.zh, exc.headers)
        return json_response(exc.status, exc.body(), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        reasons = reasons_from_fastapi(list(exc.errors()))
        fmt = _fmt(request)
        if fmt:
            return open311.render(fmt, "errors", 400, [{"code": 400, "description": f"{r['field']}: {r['en']} / {r['zh']}"}
                                                      for r in reasons])
        return json_response(422, HttpError(422, "invalid_input", "invalid input", "输入有误", reasons).body())

    @app.exception_handler(StarletteHTTPException)
    async def _starlette(request: Request, exc: StarletteHTTPException) -> Response:
        zh = {404: "未找到", 405: "不支持该请求方法"}.get(exc.status_code, "请求无法处理")
        en = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        fmt = _fmt(request)
        if fmt:
            return open311.error(fmt, exc.status_code, en, zh, dict(exc.headers or {}))
        return json_response(exc.status_code, HttpError(exc.status_code, en.replace(" ", "_"), en, zh).body(), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        # the request body is not logged: it may carry personal data
        log.error("500 %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        e = HttpError(500, "internal_error", "internal error; nothing was written, the failure is logged",
                      "内部错误，未写入任何数据，已记录日志")
        fmt = _fmt(request)
        return open311.error(fmt, 500, e.en, e.zh) if fmt else json_response(500, e.body())
