"""The wall's child process gets the same settings (issue 11): real API keys once broke every page
(`str(dict)` is not JSON), and a page that fails shows a bilingual line, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from dashboard.serve import command, settings_env
from fengqiao.settings import GatewaySettings, Settings, reveal

pytestmark = pytest.mark.unit
APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
KEYS = {"hotline": "k-hot-0123456789", "internal": "k-int-0123456789",
        "zoning": {"secret": "k-zj-0123456789", "role": "department", "departments": ["市住建局", "区环保局"]}}


def test_settings_round_trip_through_the_env_that_fengqiao_wall_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Settings(gateway=GatewaySettings(api_keys=KEYS), pii_key=SecretStr("p" * 40),
                        clickhouse_url=SecretStr("http://u:pw@ch:8123"), data_dir=Path("/tmp/fq-x"))
    env = settings_env(original)
    for k in [k for k in os.environ if k.startswith("FENGQIAO_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    child = Settings()  # what dashboard/runtime.settings() builds in the Streamlit process
    assert child.gateway.keys() == original.gateway.keys()
    assert child.gateway.key_for("zoning") == "k-zj-0123456789"
    assert reveal(child.pii_key) == "p" * 40 and reveal(child.clickhouse_url) == "http://u:pw@ch:8123"
    assert child.model_dump(mode="json") == original.model_dump(mode="json")


def test_streamlit_shows_no_error_details() -> None:
    argv = command(Settings(), 8501, "127.0.0.1")
    assert argv[argv.index("--client.showErrorDetails") + 1] == "none"


def test_a_failing_page_shows_a_bilingual_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_GATEWAY__API_KEYS", str({"hotline": "k"}))  # what the old wall passed on
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, at.exception
    text = " ".join(str(e.value) for e in at.error)
    assert "页面暂时无法显示" in text and "cannot be shown" in text and "Traceback" not in text
