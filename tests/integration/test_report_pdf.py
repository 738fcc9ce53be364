"""The daily summary and weekly analysis as PDF (issue 14 item 8): printed by headless Chromium from
the HTML report built on seeded rows in this test's own chDB database, Chinese font embedded."""

from __future__ import annotations

import re
import shutil
import uuid
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import reports
from dashboard.seed import seed
from fengqiao.settings import Settings
from sinks.store import get_client

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed")]

ROOT = Path(__file__).resolve().parents[2]


def embedded_fonts(pdf: bytes) -> tuple[list[str], int, set[str]]:
    """(BaseFont names, how many font files are embedded, the characters the ToUnicode maps give)."""
    names = [n.decode() for n in re.findall(rb"/BaseFont\s*/([^\s/<>\[\]]+)", pdf)]
    files = len(re.findall(rb"/FontFile[23]?\s", pdf))
    chars: set[str] = set()
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            body = zlib.decompress(m.group(1))
        except zlib.error:
            continue
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", body, re.S):
            chars |= {chr(int(u, 16)) for u in re.findall(rb"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]{4})>", block)}
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", body, re.S):  # <lo> <hi> <first code point>
            for lo, hi, u in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]{4})>", block):
                chars |= {chr(int(u, 16) + k) for k in range(int(hi, 16) - int(lo, 16) + 1)}
    return names, files, chars


@pytest.fixture
def settings(session_chdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    db = "t_pdf_" + uuid.uuid4().hex[:8]
    for k, v in {"FENGQIAO_CLICKHOUSE_URL": session_chdb_url, "FENGQIAO_CLICKHOUSE_DATABASE": db,
                 "FENGQIAO_DATA_DIR": str(tmp_path / "data"), "FENGQIAO_WALL__EMBEDDED_SINK": "false",
                 "FENGQIAO_KAFKA_BOOTSTRAP": "127.0.0.1:9"}.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    seed(get_client(s), db, cases=80)
    return s


def test_no_browser_or_a_failing_one_is_a_clear_error_in_both_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(reports.PdfError, match="生成 PDF 失败 / PDF printing failed"):
        reports.to_pdf("<p>x</p>", browser="/bin/false")
    monkeypatch.setattr(reports.shutil, "which", lambda name: None)
    with pytest.raises(reports.PdfError, match="未找到 Chromium.*Chromium not found"):
        reports.to_pdf("<p>x</p>")


def test_leadership_offers_the_daily_summary_as_html_and_as_pdf_with_a_cjk_font_embedded(settings: Settings) -> None:
    at = AppTest.from_file(str(ROOT / "dashboard" / "pages" / "leadership.py"), default_timeout=90).run()
    assert not at.exception, at.exception
    at.button(key="mk_daily").click()
    at.run()
    assert not at.exception, at.exception
    labels = [e.proto.label for e in at.get("download_button")]
    assert labels == ["下载日汇总 HTML", "下载日汇总 PDF"], labels
    name, html, pdf = at.session_state["fq_report_daily"]
    assert "日汇总" in html and pdf.startswith(b"%PDF-")
    names, files, chars = embedded_fonts(pdf)
    assert files >= 1 and names, names
    assert all("+" in n for n in names), names  # every font a subset embedded in the file ("AAAAAA+Name")
    assert set("河北省网上枫桥日汇总各市排名") <= chars  # the title's characters come from an embedded font
