"""Map shapes for the wall: Hebei's prefectures and each city's counties.

The shipped shapes (`assets/maps/`) are 2018 boundaries from the ECharts
province/city packages; a deployment replaces them with its own approved
GeoJSON (审图号) through `settings.wall.map_dir` (same file layout).

ECharts matches series data to features by `properties.name`, so every
county feature is given a stable name here and today's division codes are
mapped onto the 2018 shapes through an explicit alias table. A code without a
shape (the x7x development zones, or an unknown code) is still counted at its
prefecture, and listed beside the county map as "no shape".
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from fengqiao import regions as rg
from fengqiao.geo import CODE_TO_SHAPE  # today's code → the 2018 feature id (one table for map and geo)

ASSETS = Path(__file__).resolve().parent / "assets" / "maps"
PROVINCE_MAP = "河北"

# 2018 feature id → the name shown today (feature names are rewritten to these)
SHAPE_NAMES: dict[str, str] = {
    "130223": "滦州市",
    "130428": "肥乡区",
    "130429": "永年区",
    "130823": "平泉市",
    "130502": "襄都区",
    "130503": "信都区",
    "130521": "原邢台县(已并入襄都/信都)",
    "130526": "任泽区",
    "130527": "南和区",
}


def _map_dir(map_dir: Path | None) -> Path:
    return Path(map_dir) if map_dir else ASSETS


@lru_cache(maxsize=4)
def _load_prefectures(map_dir: Path | None) -> dict:
    return json.loads((_map_dir(map_dir) / "hebei_prefectures.echarts.json").read_text("utf-8"))


@lru_cache(maxsize=32)
def _load_counties(map_dir: Path | None, prefecture_code: str) -> dict:
    path = _map_dir(map_dir) / "counties" / f"{prefecture_code}.echarts.json"
    geo = copy.deepcopy(json.loads(path.read_text("utf-8")))
    by_name = {r.name: r.code for r in rg.counties(prefecture_code)}
    for feature in geo["features"]:
        props = feature.setdefault("properties", {})
        fid = feature.get("id")
        if not fid:  # 沧州's features carry no id: match by name inside this prefecture only
            fid = by_name.get(props.get("name", ""))
            if fid:
                feature["id"] = fid
        if fid in SHAPE_NAMES:
            props["name"] = SHAPE_NAMES[fid]
    return geo


def prefecture_geojson(map_dir: Path | None = None) -> dict:
    """The province map (11 prefectures, `properties.name` = 石家庄市 …)."""
    return _load_prefectures(map_dir)


def county_geojson(prefecture_code: str, map_dir: Path | None = None) -> dict:
    """One city's county map with today's names on the 2018 shapes."""
    return _load_counties(map_dir, prefecture_code)


def county_shape_names(prefecture_code: str, map_dir: Path | None = None) -> dict[str, str]:
    """Feature id → feature name for one city's county map."""
    geo = county_geojson(prefecture_code, map_dir)
    return {f["id"]: f["properties"]["name"] for f in geo["features"] if f.get("id")}


def shape_for(code: str, map_dir: Path | None = None) -> str | None:
    """The feature name that shows today's `code` on its city's county map, or None."""
    region = rg.regions().get(code)
    if region is None or region.kind == "prefecture":
        return None
    shapes = county_shape_names(region.parent_code, map_dir)
    return shapes.get(CODE_TO_SHAPE.get(code, code))


def prefecture_values(counts: Mapping[str, int]) -> list[dict]:
    """ECharts series data for the province map from counts by prefecture code."""
    return [{"name": p.name, "value": int(counts.get(p.code, 0)), "code": p.code} for p in rg.prefectures()]


def county_values(
    prefecture_code: str, counts: Iterable[tuple[str, int]], map_dir: Path | None = None
) -> tuple[list[dict], dict[str, int]]:
    """Series data for a city's county map from (code, count) rows.

    Returns the per-shape data (every shape present, zero when no case) and the
    counts of codes that have no shape (zones, the prefecture itself), which
    the caller lists beside the map so the city's total still adds up.
    """
    per_shape: dict[str, int] = {name: 0 for name in county_shape_names(prefecture_code, map_dir).values()}
    shapes = set(per_shape)
    unshaped: dict[str, int] = {r.name: 0 for r in rg.counties(prefecture_code) if shape_for(r.code, map_dir) not in shapes}
    for code, n in counts:
        name = shape_for(code, map_dir)
        if name is None:
            unshaped[rg.name_of(code)] = unshaped.get(rg.name_of(code), 0) + int(n)
        else:
            per_shape[name] = per_shape.get(name, 0) + int(n)
    return [{"name": k, "value": v} for k, v in per_shape.items()], unshaped


# Click-to-drill on the wall's and the leadership map. ECharts runs these in the browser; a handler's
# return value reaches Python as the component's `chart_event` trigger (streamlit-echarts >= 0.7).
# A click on a region sends its name; a click on the blank sea around the shapes sends "up".
CLICK_EVENTS: dict[str, str] = {
    "click": "function(p){return (p.componentType === 'series' && p.name) ? {name: p.name} : undefined}",
    "zr:click": "function(e){return e.target ? undefined : {up: true}}",
}


def drill_target(event: object, current: str) -> str | None:
    """The map scope after a click: a city's code from the province map, "" (the province) for a
    click beside the shapes of a city's map, None when the click changes nothing (a county: the
    finest level the wall draws, or anything unknown)."""
    if not isinstance(event, Mapping):
        return None
    if event.get("up"):
        return "" if current else None
    if current:
        return None
    by_name = {p.name: p.code for p in rg.prefectures()}
    return by_name.get(str(event.get("name", "")))


def on_map_click(chart_key: str, scope_key: str) -> None:
    """Streamlit callback of a map chart: move the scope selector (`scope_key`) as the click says.
    A callback runs before the page does, the one moment a widget's value may be set."""
    import streamlit as st

    value = st.session_state.get(chart_key) or {}
    target = drill_target(value.get("chart_event"), st.session_state.get(scope_key, ""))
    if target is not None:
        st.session_state[scope_key] = target
