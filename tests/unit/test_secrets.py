"""Secrets (issue 11 item 8): never printed; no serving beyond loopback on built-in keys or demo
users; `fengqiao secrets init` writes what to set; compose reads them from an env file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from dashboard.auth import ensure_users_file, write_users_file
from dashboard.serve import exposure as wall_exposure
from fengqiao import secrets_file
from fengqiao.cli import app
from fengqiao.settings import GatewaySettings, Settings, exposure_problem
from producers.gateway.config import exposure as gateway_exposure

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
REAL = {"pii_key": SecretStr("p" * 43), "command_key": SecretStr("c" * 43)}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for k in [k for k in os.environ if k.startswith("FENGQIAO_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("FENGQIAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_refusal_is_one_bilingual_line_naming_what_to_set() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert exposure_problem(host, ["FENGQIAO_PII_KEY"]) is None
    assert exposure_problem("0.0.0.0", []) is None
    msg = exposure_problem("0.0.0.0", ["FENGQIAO_PII_KEY"])
    assert msg and "\n" not in msg and "拒绝" in msg and "refusing" in msg and "FENGQIAO_PII_KEY" in msg


def test_gateway_beyond_loopback_needs_real_keys() -> None:
    msg = gateway_exposure(Settings(), "0.0.0.0")
    assert msg and "FENGQIAO_GATEWAY__API_KEYS" in msg and "FENGQIAO_PII_KEY" in msg
    dev = Settings(**REAL, gateway=GatewaySettings(api_keys={"hotline": "dev-hotline", "internal": "x" * 30}))
    assert "FENGQIAO_GATEWAY__API_KEYS" in (gateway_exposure(dev, "10.0.0.5") or "")
    real = Settings(**REAL, gateway=GatewaySettings(api_keys={"hotline": "h" * 30, "internal": "x" * 30}))
    assert gateway_exposure(real, "0.0.0.0") is None and gateway_exposure(Settings(), "127.0.0.1") is None


def test_wall_beyond_loopback_needs_real_users_and_keys(tmp_path: Path) -> None:
    s = Settings(**REAL, data_dir=tmp_path)
    assert "wall_users.toml" in (wall_exposure(s, "0.0.0.0") or "")  # no file yet: it would be the demo file
    ensure_users_file(tmp_path)
    assert "wall_users.toml" in (wall_exposure(s, "0.0.0.0") or "")
    write_users_file(tmp_path / "wall_users.toml", secrets_file.new_passwords())
    assert wall_exposure(s, "0.0.0.0") is None
    assert "FENGQIAO_PII_KEY" in (wall_exposure(Settings(data_dir=tmp_path), "0.0.0.0") or "")


def test_cli_refuses_before_binding_and_never_echoes_a_secret(clean_env: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    for cmd in (["gateway", "--host", "0.0.0.0", "--port", "9"], ["wall", "--host", "0.0.0.0", "--port", "9"]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == 2, r.output
        assert "refusing to serve on 0.0.0.0" in r.output and "拒绝" in r.output
    assert not (clean_env / "data" / "wall_users.toml").exists()  # refused before the demo file is made
    monkeypatch.setenv("FENGQIAO_GATEWAY__API_KEYS", '{"x": {"secret": "topsecret-4711", "role": "department"}}')
    r = runner.invoke(app, ["gateway", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "配置无效" in r.output and "topsecret-4711" not in r.output


def test_secrets_init_writes_what_the_refusal_asks_for(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["secrets", "init", "--docker", "--env-file", "x.env", "--users-file", "users.toml"])
    assert r.exit_code == 0, r.output
    env_file = clean_env / "x.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = secrets_file.parse(env_file.read_text("utf-8"))
    assert env["CLICKHOUSE_PASSWORD"] in env["FENGQIAO_CLICKHOUSE_URL"]
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert s.default_secrets() == [] and not s.gateway.dev_keys
    assert gateway_exposure(s, "0.0.0.0") is None
    assert env["FENGQIAO_PII_KEY"] not in repr(s) and s.gateway.key_for("internal") not in repr(s.gateway)
    assert s.gateway.keys()["qrcode"].channel == "qrcode"
    s = s.model_copy(update={"data_dir": clean_env})
    from dashboard.auth import DESK_ROLES, ROLES, load_users

    users = load_users(clean_env / "users.toml")  # a user for every role, the desks' included (issue 14 item 10)
    assert {u["role"] for u in users.values()} == set(ROLES) and set(DESK_ROLES) <= set(ROLES)
    assert all(f"  {name} / " in r.output for name in users)  # each password shown once
    (clean_env / "users.toml").rename(clean_env / "wall_users.toml")
    assert wall_exposure(s, "0.0.0.0") is None
    again = runner.invoke(app, ["secrets", "init", "--env-file", "x.env", "--users-file", "wall_users.toml"])
    assert again.exit_code == 1 and "--force" in again.output


def test_compose_reads_secrets_from_an_env_file_and_publishes_on_loopback() -> None:
    doc = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text("utf-8"))
    app_env = doc["x-app"]["environment"]
    env_file = ["${FENGQIAO_ENV_FILE:-fengqiao.env}"]  # the default file, or the one FENGQIAO_ENV_FILE names
    assert doc["x-app"]["env_file"] == env_file and "fengqiao.env" in (ROOT / ".gitignore").read_text()
    for name, svc in doc["services"].items():
        env = {**(svc.get("environment") or {}), **app_env}
        assert not {"FENGQIAO_PII_KEY", "FENGQIAO_GATEWAY__API_KEYS", "CLICKHOUSE_PASSWORD", "FENGQIAO_CLICKHOUSE_URL",
                    "FENGQIAO_WALL__HOST"} & set(env), name
        for port in svc.get("ports", []):
            assert port.startswith("${FENGQIAO_PUBLISH:-127.0.0.1}:"), (name, port)
    assert doc["services"]["clickhouse"]["env_file"] == env_file
    assert {p for s in doc["services"].values() for p in s.get("ports", [])}  # wall and gateway still published
