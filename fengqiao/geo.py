"""Where in Hebei a point or an address lies: pure geometry over the county shapes.

The shapes are the ones the wall draws (ECharts' compressed GeoJSON, one file
per prefecture, `<map_dir>/counties/<prefecture code>.echarts.json`); the
caller passes the folder, so a deployment's approved maps (审图号) serve both.
They are 2018 boundaries: `CODE_TO_SHAPE` maps today's codes onto them, and
a point in a shape whose code no longer exists (邢台县, split in 2020) is placed
at its prefecture. No I/O beyond reading that folder, no network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fengqiao import regions as rg

# today's code -> the 2018 feature id that covers it
CODE_TO_SHAPE: dict[str, str] = {
    "130284": "130223",  # 滦州市 ← 滦县
    "130407": "130428",  # 肥乡区 (2016 code change)
    "130408": "130429",  # 永年区
    "130881": "130823",  # 平泉市 ← 平泉县
    "130505": "130526",  # 任泽区 ← 任县
    "130506": "130527",  # 南和区 ← 南和县
    # 襄都区 130502 / 信都区 130503 keep the 桥东区/桥西区 codes; 邢台县 130521 was
    # split between them and its 2018 shape stays without a code of its own.
}
SHAPE_TO_CODE = {shape: code for code, shape in CODE_TO_SHAPE.items()}
Ring = list[tuple[float, float]]  # (lon, lat)


def decode_ring(encoded: str, offset: list[int], scale: float = 1024.0) -> Ring:
    """One ring of ECharts' `UTF8Encoding`: zig-zag, delta-coded character pairs."""
    x, y = offset[0], offset[1]
    out: Ring = []
    for i in range(0, len(encoded) - 1, 2):
        dx, dy = ord(encoded[i]) - 64, ord(encoded[i + 1]) - 64
        x += (dx >> 1) ^ (-(dx & 1))
        y += (dy >> 1) ^ (-(dy & 1))
        out.append((x / scale, y / scale))
    return out


def _rings(geometry: dict, encoded: bool) -> list[Ring]:
    """All rings of a Polygon or MultiPolygon (outer rings and holes alike: even-odd rule)."""
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    offsets = geometry.get("encodeOffsets")
    offsets = (offsets if geometry["type"] == "MultiPolygon" else [offsets]) if offsets else None
    out: list[Ring] = []
    for p, poly in enumerate(polys):
        for r, ring in enumerate(poly):
            if encoded and isinstance(ring, str):
                out.append(decode_ring(ring, offsets[p][r] if offsets else [0, 0]))
            else:
                out.append([(float(c[0]), float(c[1])) for c in ring])
    return out


def _inside(lon: float, lat: float, ring: Ring) -> bool:
    """Ray casting: does a ray east of the point cross the ring an odd number of times?"""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@dataclass(frozen=True)
class Shape:
    code: str  # today's division code (a prefecture code when the shape has none of its own)
    rings: tuple[tuple[tuple[float, float], ...], ...]
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

    def contains(self, lon: float, lat: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return False
        return sum(_inside(lon, lat, list(r)) for r in self.rings) % 2 == 1


def _code_of(feature: dict, prefecture: str, by_name: dict[str, str]) -> str:
    fid = str(feature.get("id") or "") or by_name.get(feature.get("properties", {}).get("name", ""), "")
    fid = SHAPE_TO_CODE.get(fid, fid)
    return fid if rg.is_known(fid) else prefecture


def load_shapes(map_dir: Path) -> list[Shape]:
    """Every county shape under `map_dir/counties/`, tagged with today's code."""
    shapes: list[Shape] = []
    for path in sorted((Path(map_dir) / "counties").glob("*.echarts.json")):
        prefecture = path.name.split(".", 1)[0]
        geo = json.loads(path.read_text("utf-8"))
        by_name = {r.name: r.code for r in rg.counties(prefecture)}
        for feature in geo.get("features", []):
            rings = _rings(feature["geometry"], bool(geo.get("UTF8Encoding")))
            pts = [p for ring in rings for p in ring]
            if not pts:
                continue
            bbox = (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))
            shapes.append(Shape(_code_of(feature, prefecture, by_name), tuple(tuple(r) for r in rings), bbox))
    return shapes


def region_at(lat: float, lon: float, shapes: list[Shape]) -> str | None:
    """The Hebei division code whose shape contains the point (WGS84), or None outside Hebei."""
    for s in shapes:
        if s.contains(lon, lat):
            return s.code
    return None


def _short(name: str) -> str:
    return re.sub(r"(市|地区)$", "", name)


def region_from_address(text: str) -> str | None:
    """The most precise Hebei division an address names (county, else prefecture), or None.

    County names repeat across prefectures (桥西区, 新华区): a county is taken
    only when its name is unique, or the address also names its prefecture.
    """
    if not text:
        return None
    prefs = {p.code for p in rg.prefectures() if p.name in text or (len(_short(p.name)) >= 2 and _short(p.name) in text)}
    hits = [c for c in rg.counties() if c.kind != "zone" and c.name in text]
    if prefs:
        hits = [c for c in hits if c.parent_code in prefs] or []
    # prefer the longest names (长安区 inside 石家庄市长安区, not a shorter accidental match)
    codes = {c.code for c in hits if not any(c.name != o.name and c.name in o.name for o in hits)}
    if len(codes) == 1:
        return codes.pop()
    parents = {rg.prefecture_of(c) for c in codes} or prefs
    return parents.pop() if len(parents) == 1 else None
