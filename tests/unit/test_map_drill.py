"""Click-to-drill on the wall's and the leadership map (issue 14 item 8): what a click means."""

from __future__ import annotations

import pytest

from dashboard import maps
from fengqiao import regions as rg

pytestmark = pytest.mark.unit


def test_a_city_clicked_on_the_province_map_opens_its_counties() -> None:
    assert maps.drill_target({"name": "沧州市"}, "") == "130900"
    assert maps.drill_target({"name": "石家庄市"}, "") == "130100"


def test_every_prefecture_shape_is_clickable() -> None:
    names = {f["properties"]["name"] for f in maps.prefecture_geojson()["features"]}
    assert {maps.drill_target({"name": n}, "") for n in names} == {p.code for p in rg.prefectures()}


def test_a_click_beside_a_city_map_returns_to_the_province() -> None:
    assert maps.drill_target({"up": True}, "130900") == ""
    assert maps.drill_target({"up": True}, "") is None  # already there: nothing to do


@pytest.mark.parametrize("event,current", [
    ({"name": "任丘市"}, "130900"),  # a county: the finest level the map draws
    ({"name": "北京市"}, ""),  # not a Hebei prefecture
    ({}, ""), (None, ""), ("沧州市", ""), ({"name": None}, ""),
])
def test_other_clicks_change_nothing(event: object, current: str) -> None:
    assert maps.drill_target(event, current) is None


def test_click_handlers_are_single_function_expressions() -> None:
    # streamlit-echarts evaluates each value as one JS function; returning undefined skips the round trip
    assert set(maps.CLICK_EVENTS) == {"click", "zr:click"}
    assert all(js.startswith("function(") and "undefined" in js for js in maps.CLICK_EVENTS.values())
