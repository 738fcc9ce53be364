"""The repeat link (重复投诉 · 关联 <earlier case>) on the wall's countdown and the console's case panel
(AppTest on seeded data; the `repeats` rows as the sink writes them from `RepeatRecord`s)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from fengqiao.domain.repeat import RepeatRecord
from fengqiao.settings import Settings
from fengqiao.vocab import TZ
from sinks.rows import COLUMNS, map_repeat
from sinks.store import get_client
from tests.unit.test_dashboard_pages import PAGES, _login, seeded  # noqa: F401 - the fixture

pytestmark = pytest.mark.unit


def _flag(settings: Settings, case_ids: list[str], earlier: str = "HL-EARLIER-1") -> None:
    at = datetime.now(TZ)
    rows = []
    for cid in case_ids:
        rec = RepeatRecord(case_id=cid, earlier_case_id=earlier, earlier_department="长安区人社局", basis="phone",
                           topic="劳资纠纷", region_code="130102", received_at=at, concluded_at=at, version=2)
        out = map_repeat(rec.to_json())
        assert not isinstance(out, str)
        rows += [r.row for r in out]
    get_client(settings).insert(f"{settings.clickhouse_database}.repeats", rows, column_names=list(COLUMNS["repeats"]))


def test_the_wall_and_the_console_link_a_repeat_to_its_earlier_case(seeded: tuple[Settings, dict]) -> None:  # noqa: F811
    settings, _ = seeded
    client = get_client(settings)
    ids = [r[0] for r in client.query(f"SELECT case_id FROM {settings.clickhouse_database}.open_cases FINAL").result_rows]
    _flag(settings, ids)
    wall = AppTest.from_file(str(PAGES / "wall.py"), default_timeout=60).run()
    assert not wall.exception, wall.exception
    assert "重复投诉 · 关联 HL-EARLIER-1" in "\n".join(m.value for m in wall.markdown)  # the countdown's cases
    at = _login(settings, "officer", "officer123")
    assert not at.exception, at.exception
    shown = at.text_input(key="case_id").value
    _flag(settings, [shown], earlier="HL-EARLIER-2")  # the phone match of this one (version 2 again: latest wins)
    time.sleep(2.1)  # past the pages' 2 s query cache
    at = at.run()
    warnings = [str(w.value) for w in at.warning]
    assert any("重复投诉 · 关联 HL-EARLIER" in w for w in warnings), warnings
