"""申请延期 → 延期审批 (dashboard/extensions.py): the server-side refusals of a request and of a decision,
and the two workflow records as the worker and the sink read them. Nothing here reaches a broker: every
path ends in a refusal (its audit record goes to a dead port and is logged as not audited) or before."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from dashboard import auth, extensions
from dashboard.desk_actions import DeskRefused
from dashboard.extensions import ExtensionRequest
from fengqiao.records import Command
from fengqiao.settings import Settings
from fengqiao.vocab import TZ
from sinks.rows import map_command
from tests.unit.test_dispatch_desk import store  # noqa: F401 - the seeded store (its own database)

pytestmark = pytest.mark.unit

LABOUR = "长安区乡镇（街道）劳动保障所"
DEPT = auth.User("dept_changan", "长安区劳动保障所", "department", ("130102",), (LABOUR,))
PROP = auth.User("dept_prop", "长安区物业站", "department", ("130102",), ("长安区街道办事处物业服务管理站",))
ZD = auth.User("dept_zd", "正定县劳动保障所", "department", ("130123",), (LABOUR,))  # same name, other region
DISPATCHER = auth.User("dispatcher", "派单员", "dispatcher", ("province",))
ZD_DISPATCHER = auth.User("dispatcher_zd", "正定派单员", "dispatcher", ("130123",))
RID = str(uuid.uuid4())
AT = datetime(2026, 12, 1, 9, 30, tzinfo=TZ)


@pytest.fixture
def s() -> Settings:
    """A dead broker and a short wait: a refusal's audit record fails fast (and is logged)."""
    return Settings(kafka_bootstrap="127.0.0.1:9", wall={"command_timeout_seconds": 0.3})


def case(**kw: Any) -> dict[str, Any]:
    return {"case_id": "C-1", "status": "signed", "phase": "open", "channel": "web", "department": LABOUR,
            "region_code": "130102", "resolve_status": "pending", "formal_petition": False, "extension_count": 0, **kw}


def req(state: str = "pending", **kw: Any) -> ExtensionRequest:
    return ExtensionRequest(**{"request_id": RID, "case_id": "C-1", "department": LABOUR, "requested_by": "dept_changan",
                               "requested_at": AT, "days": 5, "reason": "需现场核查", "extensions_before": 0,
                               "state": state, **kw})


def never(_: str) -> Any:
    raise AssertionError("refused before this is read")


def refused(fn: Any, *args: Any, **kw: Any) -> DeskRefused:
    with pytest.raises(DeskRefused) as exc:
        fn(*args, **kw)
    return exc.value


@pytest.mark.parametrize("user,snapshot,rule", [
    (ZD, case(), "scope"),  # a department of another region, even under the same department name
    (PROP, case(), "not_assigned"),  # another department's case
    (DEPT, case(status="replied", phase="awaiting_evaluation", resolve_status="met"), "extension"),
    (DEPT, case(formal_petition=True, extension_count=1), "extension"),  # the formal track allows one
])
def test_a_request_is_refused_server_side(s: Settings, user: auth.User, snapshot: dict, rule: str) -> None:
    got = refused(extensions.request, s, user, "C-1", 5, "需现场核查", cases=lambda _: snapshot, requests=lambda _: [])
    assert got.denial.rule == rule and got.denial.zh and got.denial.en
    assert "/" in str(got)  # Chinese / English


def test_a_second_request_is_refused_while_one_is_pending(s: Settings) -> None:
    got = refused(extensions.request, s, DEPT, "C-1", 3, "再延", cases=lambda _: case(), requests=lambda _: [req()])
    assert got.denial.rule == "pending" and "已有待审批的延期申请" in got.denial.zh and "pending" in got.denial.en
    # a decided request, or one of the department that had the case before, does not block a new one
    for earlier in (req("rejected", decision_reason="材料不足"), req(department="另一单位")):
        assert extensions._pending("C-1", LABOUR, [earlier]) is None


def test_bad_input_and_wrong_roles_are_refused_before_anything_is_read(s: Settings) -> None:
    with pytest.raises(ValueError, match="输入无效 Invalid input"):
        extensions.request(s, DEPT, "C-1", 31, "太久", cases=lambda _: case(), requests=never)
    with pytest.raises(ValueError, match="输入无效 Invalid input"):
        extensions.request(s, DEPT, "C-1", 5, "  ", cases=lambda _: case(), requests=never)
    for fn, args in ((extensions.request, (DISPATCHER, "C-1", 5, "x")),
                     (extensions.approve, (DEPT, RID, "C-1")), (extensions.reject, (DEPT, RID, "C-1", "x"))):
        with pytest.raises(auth.Forbidden):  # a department never approves its own request
            fn(s, *args, cases=never, requests=never)  # type: ignore[operator]


def test_a_rejection_needs_a_reason(s: Settings) -> None:
    with pytest.raises(ValueError, match="驳回延期申请须填写理由"):
        extensions.reject(s, DISPATCHER, RID, "C-1", "  ", cases=never, requests=never)
    adapter: TypeAdapter = TypeAdapter(Command)
    base = {"command_id": str(uuid.uuid4()), "issued_at": AT.isoformat(), "officer_id": "dispatcher",
            "type": "case.decide_extension", "case_id": "C-1", "request_id": RID}
    with pytest.raises(ValidationError, match="须填写理由"):  # the record itself, as the worker validates it
        adapter.validate_python({**base, "approved": False})
    assert adapter.validate_python({**base, "approved": True}).reason == ""


def test_a_decision_needs_a_pending_request_a_current_case_and_the_dispatchers_region(s: Settings) -> None:
    assert refused(extensions.approve, s, DISPATCHER, RID, "C-1", cases=never,
                   requests=lambda _: [req("approved")]).denial.rule == "decided"
    assert refused(extensions.reject, s, DISPATCHER, str(uuid.uuid4()), "C-1", "x", cases=never,
                   requests=lambda _: [req()]).denial.rule == "decided"  # unknown request
    stale = refused(extensions.approve, s, DISPATCHER, RID, "C-1", cases=lambda _: case(extension_count=1),
                    requests=lambda _: [req()])
    assert stale.denial.rule == "stale" and "在申请后已延期" in stale.denial.zh
    moved = refused(extensions.approve, s, DISPATCHER, RID, "C-1", cases=lambda _: case(department="另一单位"),
                    requests=lambda _: [req()])
    assert moved.denial.rule == "stale" and "已不在" in moved.denial.zh
    assert refused(extensions.approve, s, ZD_DISPATCHER, RID, "C-1", cases=lambda _: case(),
                   requests=lambda _: [req()]).denial.rule == "scope"
    assert refused(extensions.reject, s, ZD_DISPATCHER, RID, "C-1", "不予延期", cases=lambda _: case(),
                   requests=lambda _: [req()]).denial.rule == "scope"


def test_the_department_reads_its_requests_state() -> None:
    assert req().label == "延期 5 天 · 待审批"
    assert req("approved", decided_by="dispatcher").label == "延期 5 天 · 已批准（dispatcher）"
    assert req("rejected", decision_reason="材料不足").label == "延期 5 天 · 已驳回：材料不足"
    assert ExtensionRequest.of({**req().__dict__, "extra": 1}) == req()


def test_the_sink_stores_both_records_as_commands_rows_with_the_reason_scrubbed() -> None:
    request = {"command_id": str(uuid.uuid4()), "type": "case.request_extension", "issued_at": AT.isoformat(),
               "officer_id": "dept_changan", "case_id": "C-1", "department": LABOUR, "days": 5,
               "reason": "需联系13912345678核实", "extensions_before": 0}
    import json

    rows = map_command(json.dumps(request, ensure_ascii=False).encode())
    assert len(rows) == 1 and rows[0].table == "commands"  # type: ignore[union-attr]
    row = rows[0].row  # type: ignore[union-attr]
    assert row[1] == "case.request_extension" and row[5] == "C-1"
    body = json.loads(row[6])
    assert body["days"] == 5 and body["department"] == LABOUR and "13912345678" not in body["reason"]


def test_the_dispatcher_desk_lists_a_pending_request_and_answers_a_rejection_without_reason(
        store: tuple[Settings, datetime]) -> None:
    """The page on the seeded store with one request as the sink writes it (its own `commands` row)."""
    from streamlit.testing.v1 import AppTest

    from dashboard import commands
    from sinks.rows import COLUMNS, command_row
    from sinks.store import get_client
    from tests.unit.test_dispatch_desk import ROOT

    settings, _ = store
    client, db = get_client(settings), settings.clickhouse_database
    cid = client.query(f"SELECT case_id FROM {db}.cases FINAL WHERE resolve_due_at IS NOT NULL LIMIT 1").result_rows[0][0]
    cmd = commands.build(DEPT, "case.request_extension", case_id=cid, department=LABOUR, days=7, reason="需现场核查")
    client.insert(f"{db}.commands", [command_row(cmd)], column_names=list(COLUMNS["commands"]))
    at = AppTest.from_file(str(ROOT / "dashboard" / "pages" / "dispatch.py"), default_timeout=60).run()
    at.text_input(key="login_user").input("dispatcher")
    at.text_input(key="login_password").input("dispatch123")
    at.button[0].click()
    at = at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    listed = next(d.value for d in at.dataframe if "延期天数" in d.value.columns)
    assert listed.to_dict("records")[0]["案件编号"] == cid and listed.to_dict("records")[0]["延期天数"] == 7
    assert any(f"选中延期申请 {cid}" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "驳回延期 Reject").click()
    at = at.run()
    assert any("驳回延期申请须填写理由" in str(e.value) for e in at.error)
