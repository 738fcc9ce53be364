"""Today's division codes onto the 2018 map shapes; users, roles and settings hand-over."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import auth, maps
from dashboard.serve import settings_env
from fengqiao import regions as rg
from fengqiao.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("code,shape", [
    ("130284", "滦州市"), ("130407", "肥乡区"), ("130408", "永年区"), ("130881", "平泉市"),
    ("130502", "襄都区"), ("130503", "信都区"), ("130505", "任泽区"), ("130506", "南和区"),
    ("130902", "新华区"), ("130105", "新华区"), ("130982", "任丘市"),
])
def test_aliases_put_todays_codes_on_2018_shapes(code: str, shape: str) -> None:
    assert maps.shape_for(code) == shape
    assert shape in maps.county_shape_names(rg.prefecture_of(code)).values()


def test_every_county_has_a_shape_and_zones_count_at_their_city() -> None:
    missing = [r for r in rg.counties() if maps.shape_for(r.code) is None]
    assert missing and all(r.kind == "zone" for r in missing)
    values, unshaped = maps.county_values("130900", [("130902", 3), ("130971", 2), ("130921", 1)])
    by_name = {v["name"]: v["value"] for v in values}
    assert by_name["新华区"] == 3 and by_name["沧县"] == 1
    assert unshaped["河北沧州经济开发区"] == 2 and unshaped["沧州渤海新区"] == 0
    assert sum(by_name.values()) + sum(unshaped.values()) == 6  # the city's total still adds up


def test_cangzhou_features_get_ids_by_name_inside_the_city() -> None:
    geo = maps.county_geojson("130900")
    assert all(f.get("id", "").startswith("1309") for f in geo["features"])
    # 新华区 inside 沧州 is 130902, never 石家庄's 130105
    assert {f["id"] for f in geo["features"] if f["properties"]["name"] == "新华区"} == {"130902"}


def test_province_values_cover_all_prefectures() -> None:
    vals = maps.prefecture_values({"130100": 5})
    assert len(vals) == 11 and {"name": "石家庄市", "value": 5, "code": "130100"} in vals
    names = {f["properties"]["name"] for f in maps.prefecture_geojson()["features"]}
    assert {v["name"] for v in vals} == names


def test_demo_users_are_hashed_and_roles_enforced(tmp_path: Path) -> None:
    path = auth.ensure_users_file(tmp_path)
    text = path.read_text("utf-8")
    assert "officer123" not in text and "$2b$" in text
    assert auth.authenticate(path, "officer", "officer123") == auth.User("officer", "值班员", "officer", ("province",))
    assert auth.authenticate(path, "officer", "wrong") is None
    assert auth.authenticate(path, "nobody", "x") is None
    viewer = auth.authenticate(path, "viewer", "viewer123")
    assert viewer and not auth.can(viewer, "alert.acknowledge")
    with pytest.raises(auth.Forbidden):
        auth.require(viewer, "alert.silence")
    admin = auth.authenticate(path, "admin", "admin123")
    assert auth.can(admin, "case.escalate") and not auth.can(admin, "case.reveal_contact")
    path.write_text(text.replace('role = "viewer"', 'role = "root"'), "utf-8")
    with pytest.raises(ValueError):
        auth.load_users(path)


def test_settings_survive_the_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(kafka_bootstrap="127.0.0.1:19999", clickhouse_database="x1", data_dir=Path("/tmp/fq-x"),
                 wall={"port": 18555, "refresh_seconds": 3, "embedded_sink": False})  # type: ignore[arg-type]
    for k in list(__import__("os").environ):
        if k.startswith("FENGQIAO_"):
            monkeypatch.delenv(k)
    for k, v in settings_env(s).items():
        monkeypatch.setenv(k, v)
    assert Settings() == s
