"""Point in polygon on the shipped county shapes, and region names in addresses (offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengqiao import geo
from fengqiao import regions as rg

pytestmark = pytest.mark.unit
MAPS = Path(__file__).resolve().parents[2] / "dashboard" / "assets" / "maps"


@pytest.fixture(scope="module")
def shapes() -> list[geo.Shape]:
    return geo.load_shapes(MAPS)


def test_every_prefecture_seat_lies_in_a_county_of_that_prefecture(shapes: list[geo.Shape]) -> None:
    for p in rg.prefectures():
        code = geo.region_at(p.seat_lat, p.seat_lon, shapes)
        assert code is not None and rg.prefecture_of(code) == p.code, (p.name, code)


def test_known_points_and_points_outside_hebei(shapes: list[geo.Shape]) -> None:
    assert geo.region_at(38.04, 114.51, shapes) in {"130102", "130104", "130105", "130108"}  # 石家庄 city centre
    assert geo.region_at(39.9042, 116.4074, shapes) is None  # 北京 (an enclave in Hebei, not Hebei)
    assert geo.region_at(39.0842, 117.2009, shapes) is None  # 天津
    assert geo.region_at(31.23, 121.47, shapes) is None  # 上海
    assert all(rg.is_known(s.code) for s in shapes)  # 2018 ids are mapped onto today's codes


def test_the_alias_table_maps_old_shapes_onto_todays_codes(shapes: list[geo.Shape]) -> None:
    codes = {s.code for s in shapes}
    assert {"130284", "130407", "130408", "130881", "130505", "130506"} <= codes
    assert "130900" not in codes and len([c for c in codes if c.startswith("1309")]) == 16  # 沧州 matched by name


@pytest.mark.parametrize(("text", "code"), [
    ("河北省石家庄市长安区中山东路 1 号", "130102"),
    ("正定县城关镇", "130123"),
    ("张家口市桥西区", "130703"),
    ("沧州市新华区", "130902"),
    ("桥西区", None),  # 石家庄 and 张家口 both have one: ambiguous without the city
    ("保定", "130600"),
    ("北京市朝阳区", None),
    ("", None),
])
def test_region_from_address(text: str, code: str | None) -> None:
    assert geo.region_from_address(text) == code
