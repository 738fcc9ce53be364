"""日汇总 / 周分析: self-contained HTML reports with inline SVG charts.

No script and no outside resource: the file opens offline and prints well.
Built from the same named queries as the pages (`queries.run`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from dashboard import queries, ui
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


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{ui.esc(label)}</th>" for _, label in cols)
    body = "".join("<tr>" + "".join(f"<td>{ui.esc(r[k])}</td>" for k, _ in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _rank_rows(rows: list[dict], by: str) -> list[dict]:
    out = []
    for i, r in enumerate(rows, 1):
        name = ui.region_name(r["key"]) if by != "department" else r["key"]
        out.append({"rank": i, "name": name, "cases": r["cases"], "on_time": f"{100 * r['on_time_rate']:.1f}%",
                    "sat": f"{100 * r['satisfaction_rate']:.1f}%", "ret": f"{100 * r['return_rate']:.1f}%",
                    "reopen": f"{100 * r['reopen_rate']:.1f}%", "overdue": r["overdue_open"]})
    return out


RANK_COLS = [("rank", "名次"), ("name", "名称"), ("cases", "受理"), ("on_time", "按期办结率"),
             ("sat", "满意率"), ("ret", "退回率"), ("reopen", "重办率"), ("overdue", "在办超期")]


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
    dept = queries.run(settings, "rankings", "department", start, end)[:15]
    cats = queries.run(settings, "mix", start, end, "category")
    topics = queries.run(settings, "mix", start, end, "topic")
    daily = queries.run(settings, "daily_intake", start, end) if kind == "weekly" else []

    def p(key: str) -> str:
        return f"{100 * float(totals.get(key) or 0):.1f}%"

    kpis = [("受理", f"{int(totals.get('received') or 0):,}"), ("办结", f"{int(totals.get('resolved') or 0):,}"),
            ("响应率", p("response_rate")), ("解决率", p("resolution_rate")), ("满意率", p("satisfaction_rate")),
            ("按期办结率", p("on_time_rate")), ("网上办结率", p("online_rate")), ("退回率", p("return_rate")),
            ("重办率", p("reopen_rate")), ("重复投诉率", p("repeat_rate"))]
    parts = [
        f"<h1>{ui.esc(title)}</h1>",
        f"<p class='meta'>生成时间 {datetime.now(SH):%Y-%m-%d %H:%M} · 数据来源 ClickHouse 读模型 · 不含个人信息</p>",
        "<div class='kpis'>" + "".join(f"<div><b>{ui.esc(v)}</b><span>{ui.esc(k)}</span></div>" for k, v in kpis)
        + "</div>",
    ]
    if daily:
        parts.append(_bars([(f"{r['day']:%m-%d}", r["n"]) for r in daily], "每日受理量"))
    parts += [
        _bars([(ui.region_name(r["key"]), 100 * r["on_time_rate"]) for r in pref], "各市按期办结率 (%)", "{:.1f}"),
        _bars([(ui.CATEGORY_ZH.get(r["key"], r["key"]), r["n"]) for r in cats], "诉求类别"),
        _bars([(r["key"], r["n"]) for r in topics], "热点事项"),
        "<h2>各市排名</h2>", _table(_rank_rows(pref, "prefecture"), RANK_COLS),
        "<h2>部门排名（前15）</h2>", _table(_rank_rows(dept, "department"), RANK_COLS),
    ]
    doc = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{ui.esc(title)}</title><style>"
        "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:32px;color:#1a2233}"
        "h1{border-bottom:3px solid #2f6fd1;padding-bottom:8px}.meta{color:#667}"
        ".kpis{display:grid;grid-template-columns:repeat(5,1fr);gap:10px;margin:16px 0}"
        ".kpis div{border:1px solid #c8d4ea;border-radius:6px;padding:10px;text-align:center}"
        ".kpis b{display:block;font-size:26px;color:#1f4fa0}.kpis span{color:#556}"
        "table{border-collapse:collapse;margin:8px 0 20px 0}td,th{border:1px solid #c8d4ea;padding:4px 10px}"
        "th{background:#eef3fb}</style></head><body>" + "".join(parts) + "</body></html>"
    )
    name = f"fengqiao-{'daily' if kind == 'daily' else 'weekly'}-{start:%Y%m%d}.html"
    return name, doc
