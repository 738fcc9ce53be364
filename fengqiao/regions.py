"""Hebei's division codes (prefectures and county-level units), loaded once.

Codes come from `data/hebei_divisions.csv` (NBS codes; x7x development zones
are statistical units counted at their prefecture). Match by code, never by
name: two districts are both called 新华区.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PROVINCE_CODE = "130000"


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    kind: str  # "prefecture" | "county" | "zone"
    parent_code: str
    note: str = ""
    seat_lon: float | None = None
    seat_lat: float | None = None

    @property
    def prefecture_code(self) -> str:
        return self.code if self.kind == "prefecture" else self.parent_code


@lru_cache(maxsize=1)
def regions() -> dict[str, Region]:
    """All Hebei regions by code."""
    text = resources.files("fengqiao").joinpath("data/hebei_divisions.csv").read_text("utf-8")
    out: dict[str, Region] = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["code"]] = Region(
            code=row["code"],
            name=row["name"],
            kind=row["kind"],
            parent_code=row["parent_code"],
            note=row["note"],
            seat_lon=float(row["seat_lon"]) if row["seat_lon"] else None,
            seat_lat=float(row["seat_lat"]) if row["seat_lat"] else None,
        )
    return out


def is_known(code: str) -> bool:
    return code in regions()


def prefecture_of(code: str) -> str:
    """The prefecture code a region rolls up to (itself for a prefecture)."""
    return regions()[code].prefecture_code


def prefectures() -> list[Region]:
    return [r for r in regions().values() if r.kind == "prefecture"]


def counties(prefecture_code: str | None = None) -> list[Region]:
    """County-level units (counties, districts, county-level cities and zones)."""
    return [
        r
        for r in regions().values()
        if r.kind != "prefecture" and (prefecture_code is None or r.parent_code == prefecture_code)
    ]


def name_of(code: str) -> str:
    r = regions().get(code)
    return r.name if r else code
