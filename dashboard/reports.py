"""日汇总 / 周分析: self-contained HTML reports with inline SVG charts, and the same
document as PDF.

No script and no outside resource: the file opens offline and prints well.
Built from the same named queries as the pages (`queries.run`). The PDF is the
HTML printed by headless Chromium (Skia embeds a subset of every font it used,
so the Chinese text reads on a machine without CJK fonts).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from dashboard import queries, ui
from fengqiao.domain import metrics
from fengqiao.vocab import TZ as SH


def _bars(rows: list[tuple[str, float]], title: str, fmt: str = "{:.0f}", width: int = 640) -> str:
    """A horizontal bar chart as inline SVG."""
    if not rows:
        return f"<h3>{ui.esc(title)}</h3><p>无数据</p>"
    top = max(v for _, v in rows) or 1
    h = 26 * len(rows) + 10
    bars = "".join(
        f'<text x="0" y="{26 * i + 20}" font-size="13">{ui.esc(k)}</text>'
        f'<rect x="170" y="{26 * i + 6}" width="{max(1, (width - 260) * v / top):.1f}" height="18" fill="#2f6fd1"/>'
        f'<text x="{176 + (width - 260) * v / top:.1f}" y="{26 * i + 20}" font-size="13">{fmt.format(v)}</text>'
        for i, (k, v) in enumerate(rows))
    return f'<h3>{ui.esc(title)}</h3><svg width="{width}" height="{h}">{bars}</svg>'


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>无数据</p>"
    head = "".join(f"<th>{ui.esc(label)}</th>" for label in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{ui.esc(v)}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


RANKED_BY = "on_time"  # 按期办结率: the rate units are ranked by (Wilson lower bound)
SHOWN = ("on_time", "satisfaction", "return", "reopen")


def ranking_rows(rows: list[dict], by: str, min_sample: int) -> list[dict]:
    """Rows of a ranking table (zh-CN columns), fair as DESIGN.md says: ranked by the Wilson
    lower bound of 按期办结率, every rate with its counts, units with fewer decided cases
    than `min_sample` listed after the ranked ones as 样本不足."""
    by_key = {r["key"]: r for r in rows}
    rates = {k: queries.rates_of(r) for k, r in by_key.items()}
    ranking = metrics.rank({k: v[RANKED_BY] for k, v in rates.items()}, min_sample)

    def row(place: str, u: metrics.Ranked) -> dict:
        r = rates[u.key]
        out = {"名次": place, "名称": ui.region_name(u.key) if by != "department" else u.key,
               "受理": int(by_key[u.key]["cases"]),
               "排名依据(95%下限)": "—" if u.lower is None else f"{100 * u.lower:.1f}%"}
        out |= {metrics.RATE_ZH[name]: r[name].label() for name in SHOWN}
        return out | {"在办超期": int(by_key[u.key]["overdue_open"])}

    return [row(str(i), u) for i, u in enumerate(ranking.ranked, 1)] + [row("样本不足", u) for u in ranking.too_few]


def build(settings: Any, kind: str, day: date) -> tuple[str, str]:
    """(file name, HTML) of the daily summary (`daily`) or the weekly analysis (`weekly`) for `day`."""
    if kind == "daily":
        start = end = day
        title = f"河北省网上枫桥 日汇总 {day:%Y年%m月%d日}"
    else:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=6)
        title = f"河北省网上枫桥 周分析 {start:%Y-%m-%d} 至 {end:%Y-%m-%d}"
    totals = (queries.run(settings, "period_totals", start, end) or [{}])[0]
    pref = queries.run(settings, "rankings", "prefecture", start, end)
    dept = queries.run(settings, "rankings", "department", start, end)
    min_sample = settings.wall.ranking_min_sample
    cats = queries.run(settings, "mix", start, end, "category")
    topics = queries.run(settings, "mix", start, end, "topic")
    daily = queries.run(settings, "daily_intake", start, end) if kind == "weekly" else []

    rates = queries.rates_of(totals)
    kpis = [("受理", f"{int(totals.get('received') or 0):,}"), ("在办", f"{int(totals.get('open') or 0):,}"),
            ("待评价", f"{int(totals.get('awaiting') or 0):,}"), ("已办结", f"{int(totals.get('closed') or 0):,}"),
            ("已超期", f"{int(totals.get('overdue') or 0):,}")]
    kpis += [(metrics.RATE_ZH[name], r.label()) for name, r in rates.items()]
    parts = [
        f"<h1>{ui.esc(title)}</h1>",
        f"<p class='meta'>生成时间 {datetime.now(SH):%Y-%m-%d %H:%M} · 数据来源 ClickHouse 读模型 · 不含个人信息</p>",
        "<div class='kpis'>" + "".join(f"<div><b>{ui.esc(v)}</b><span>{ui.esc(k)}</span></div>" for k, v in kpis)
        + "</div>",
    ]
    if daily:
        parts.append(_bars([(f"{r['day']:%m-%d}", r["n"]) for r in daily], "每日受理量"))
    parts += [
        _bars([(ui.region_name(r["key"]), 100 * (queries.rates_of(r)["on_time"].value or 0)) for r in pref],
              "各市按期办结率 (%)", "{:.1f}"),
        _bars([(ui.CATEGORY_ZH.get(r["key"], r["key"]), r["n"]) for r in cats], "诉求类别"),
        _bars([(r["key"], r["n"]) for r in topics], "热点事项"),
        "<h2>各市排名</h2>", _table(ranking_rows(pref, "prefecture", min_sample)),
        "<h2>部门排名（前15）</h2>", _table(ranking_rows(dept, "department", min_sample)[:15]),
        f"<p class='meta'>按“按期办结率”95% 置信区间下限排名；已决案件少于 {min_sample} 件的单位列为“样本不足”，不参与排名。</p>",
    ]
    doc = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{ui.esc(title)}</title><style>"
        "@page{size:A4;margin:14mm}"
        "body{font-family:'Noto Sans CJK SC','WenQuanYi Zen Hei','Microsoft YaHei',sans-serif;margin:32px;color:#1a2233}"
        "h1{border-bottom:3px solid #2f6fd1;padding-bottom:8px}.meta{color:#667}"
        ".kpis{display:grid;grid-template-columns:repeat(5,1fr);gap:10px;margin:16px 0}"
        ".kpis div{border:1px solid #c8d4ea;border-radius:6px;padding:10px;text-align:center}"
        ".kpis b{display:block;font-size:26px;color:#1f4fa0}.kpis span{color:#556}"
        "table{border-collapse:collapse;margin:8px 0 20px 0}td,th{border:1px solid #c8d4ea;padding:4px 10px}"
        "th{background:#eef3fb}</style></head><body>" + "".join(parts) + "</body></html>"
    )
    name = f"fengqiao-{'daily' if kind == 'daily' else 'weekly'}-{start:%Y%m%d}.html"
    return name, doc


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PdfError(RuntimeError):
    """The PDF could not be printed (no browser on this machine, or it failed)."""


def to_pdf(html: str, timeout: float = 60.0, browser: str | None = None) -> bytes:
    """The report printed to PDF by headless Chromium (A4, no header/footer line).

    `--no-sandbox`: the page is our own script-free document and the dashboard often runs as
    root in a container, where Chromium's sandbox cannot start."""
    exe = browser or next((b for b in map(shutil.which, BROWSERS) if b), None)
    if not exe:
        raise PdfError("未找到 Chromium，无法生成 PDF（可下载 HTML 后打印） / "
                       "Chromium not found: download the HTML and print it instead")
    with tempfile.TemporaryDirectory(prefix="fq-report-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html, "utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               "--disable-background-networking",
               f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
               f"--print-to-pdf={out}", src.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"生成 PDF 超时（{timeout:g} 秒） / PDF printing timed out") from exc
        if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace")[-300:]
            raise PdfError(f"生成 PDF 失败 / PDF printing failed (exit {done.returncode}): {tail}")
        return out.read_bytes()
