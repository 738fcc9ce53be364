"""Early warnings to departments (fengqiao/domain/routing.py): the rules as data, pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengqiao.domain import routing
from fengqiao.domain.routing import WarningFacts

pytestmark = pytest.mark.unit


def test_a_hotspot_reaches_the_topics_department_of_its_county_and_the_files_extras() -> None:
    r = routing.load_warning_routes()
    got = r.departments(WarningFacts("hotspot", "130102", ("劳资纠纷",)))
    assert got == ("长安区乡镇（街道）劳动保障所", "长安区人力资源和社会保障局")  # dispatch rules + [[topics]]
    assert r.reaches(WarningFacts("hotspot", "130102", ("劳资纠纷",)), ["长安区乡镇（街道）劳动保障所"])
    other_county = WarningFacts("hotspot", "130123", ("劳资纠纷",))  # 正定县
    assert not r.reaches(other_county, ["长安区乡镇（街道）劳动保障所"])
    assert r.departments(WarningFacts("hotspot", "130102", ("无此规则的话题",))) == ("长安区乡镇（街道）综治中心",)


def test_a_class_case_reaches_its_holders_and_the_county_centre_without_repeats() -> None:
    r = routing.load_warning_routes()
    w = WarningFacts("class_case", "130102", ("物业管理", "物业管理"), ("长安区住房和城乡建设局", "", "长安区住房和城乡建设局"))
    assert r.departments(w) == ("长安区街道办事处物业服务管理站", "长安区住房和城乡建设局", "长安区社会矛盾纠纷调处中心")
    assert r.departments(WarningFacts("sla", "130102", ("物业管理",), ("x",))) == ()  # SLA alerts are not routed here


def test_routes_are_data(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text('[hotspot]\ndispatch = false\nholders = false\nalso = ["{prefecture}信访局"]\n', "utf-8")
    r = routing.load_warning_routes(path)
    assert r.departments(WarningFacts("hotspot", "130102", ("劳资纠纷",), ("某部门",))) == ("石家庄市信访局",)
    path.write_text('[hotspot]\nsend_to_all = true\n', "utf-8")
    with pytest.raises(routing.WarningRoutesError, match="预警分送规则文件"):
        routing.load_warning_routes(path)


def test_the_hotspot_topic_comes_from_its_dedup_key() -> None:
    assert routing.hotspot_topic("hotspot:130102:劳资纠纷:20261201T1100") == "劳资纠纷"
    assert routing.hotspot_topic("class:130102:C-1") is None
    assert routing.hotspot_topic("hotspot:130102") is None
