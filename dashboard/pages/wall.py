"""综治中心大屏: the wall. Nobody touches it; it refreshes itself (a fragment,
no page reload), says when its data is stale, and never shows personal data
(case ids, regions, topics and departments only)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import streamlit as st

from dashboard import maps, queries, repeat_view, ui
from dashboard.runtime import broker_reason, ensure_schema, ensure_sink, load_rows, settings
from fengqiao import regions as rg
from fengqiao.domain import metrics
from fengqiao.domain.early_warning import RULES_ZH
from fengqiao.vocab import TZ as SH
from sinks.health import sink_stale
from sinks.rows import scrub_text

S = settings()
sink = ensure_sink(S)
ensure_schema(S)

st.markdown(ui.CSS + ui.HIDE_CHROME, unsafe_allow_html=True)


def _load() -> tuple[dict[str, list[dict]] | None, str]:
    return load_rows(S, queries.WALL_QUERIES, queries.fetch)  # ClickHouse unreachable: no numbers, a banner


def _stale_reason(data: dict[str, list[dict]]) -> str:
    row = data["freshness"][0] if data["freshness"] else {}
    last, now = row.get("last_ingest"), row.get("now") or datetime.now(SH)
    if not last or not row.get("recent"):
        return "近两日无新数据 No events in the last two days"
    age = (now - last).total_seconds()
    if age > S.wall.stale_after_seconds:
        return f"数据已停止更新：{int(age)} 秒无新事件（最后 {ui.fmt_time(last)}） Data stale"
    return ""


def _header(status: str) -> None:
    now = datetime.now(SH)
    tone = "" if "实时" in status else "bad"
    st.markdown(
        f'<div class="fq-title"><h1>河北省网上枫桥 · 综治指挥中心</h1>'
        f'<div class="fq-clock">{now:%Y年%m月%d日 %H:%M:%S}<span class="fq-live {tone}">{ui.esc(status)}</span></div></div>',
        unsafe_allow_html=True)


def _kpis(data: dict[str, list[dict]], stale: bool) -> None:
    intake = sum(r["n"] for r in data["intake_today"])
    board = data["case_board"]
    open_, awaiting, due, over = (sum(r[k] for r in board) for k in ("open", "awaiting", "due24", "overdue"))
    periods = {r["period"]: queries.rates_of(r) for r in data["rates"]}
    none = queries.rates_of({})
    today = periods.get("today", none)
    week = {k: r + periods.get("earlier", none)[k] for k, r in today.items()}
    mix = " · ".join(f"{ui.CHANNEL_ZH.get(r['channel'], r['channel'])} {r['n']}" for r in data["intake_today"][:3])

    def rate(name: str) -> str:  # today's rate with its counts, and this week's
        t, w = today[name], week[name]
        value = "—" if t.value is None else f"{100 * t.value:.1f}%"
        return ui.kpi(f"{metrics.RATE_ZH[name]}(今日)", value, f"{t.num}/{t.den} · 本周 {w.label()}", "ok")

    tiles = [
        ui.kpi("今日受理", f"{intake:,}", mix or "—"),
        ui.kpi("在办", f"{open_:,}", "未答复或未解决"),
        ui.kpi("待评价", f"{awaiting:,}", "已答复解决，待评价回访"),
        ui.kpi("24小时内到期", f"{due:,}", "在办未超期", "warn"),
        ui.kpi("已超期", f"{over:,}", "在办且时限已过", "crit"),
        rate("response"), rate("on_time"), rate("resolution"), rate("satisfaction"),
    ]
    st.markdown(f'<div class="fq-kpis {"fq-stale" if stale else ""}">{"".join(tiles)}</div>',
                unsafe_allow_html=True)


def _charts(data: dict[str, list[dict]]) -> None:
    from streamlit_echarts import st_echarts

    st.markdown('<div class="fq-h">今日渠道构成</div>', unsafe_allow_html=True)
    pie = [{"name": ui.CHANNEL_ZH.get(r["channel"], r["channel"]), "value": r["n"]} for r in data["intake_today"]]
    st_echarts({"backgroundColor": "transparent",
                "tooltip": {"trigger": "item"},
                "legend": {"orient": "vertical", "left": 0, "top": "middle", "textStyle": {"color": "#cfe0ff", "fontSize": 15}},
                "series": [{"type": "pie", "radius": ["42%", "72%"], "center": ["64%", "50%"], "data": pie,
                            "label": {"color": "#dbe7ff", "fontSize": 14, "formatter": "{c}"},
                            "itemStyle": {"borderColor": "#050b18", "borderWidth": 2}}]},
               height="230px", key="wall-pie", theme="dark")
    st.markdown('<div class="fq-h">24小时受理趋势</div>', unsafe_allow_html=True)
    trend = data["intake_trend"]
    st_echarts({"backgroundColor": "transparent", "grid": {"left": 40, "right": 12, "top": 16, "bottom": 28},
                "tooltip": {"trigger": "axis"},
                "xAxis": {"type": "category", "data": [r["hour"][-5:] for r in trend],
                          "axisLabel": {"color": "#9fb4d8", "fontSize": 13}},
                "yAxis": {"type": "value", "axisLabel": {"color": "#9fb4d8"},
                          "splitLine": {"lineStyle": {"color": "#15305a"}}},
                # bars, not a line: every hour is present (0 where none came), and one bar shows
                # from the first minute of a new store where one point would draw no line
                "series": [{"type": "bar", "data": [r["n"] for r in trend], "barWidth": "70%",
                            "itemStyle": {"color": "#2f9bff", "borderRadius": [3, 3, 0, 0]}}]},
               height="235px", key="wall-trend", theme="dark")


def _map(data: dict[str, list[dict]]) -> None:
    from streamlit_echarts import Map, st_echarts

    names = {"": "全省"} | {p.code: p.name for p in rg.prefectures()}
    c1, c2, c3 = st.columns([5, 3, 2])
    title = c1.empty()
    with c2:
        if "wall_city" not in st.session_state:  # a city's own wall: /?city=130900
            wanted = st.query_params.get("city", "")
            st.session_state["wall_city"] = wanted if wanted in names else ""
        pick = st.selectbox("地图范围", list(names), format_func=names.get, key="wall_city",
                            label_visibility="collapsed")
    with c3:
        choice = st.radio("着色", ["在办", "超期"], horizontal=True, key="wall_metric",
                          label_visibility="collapsed")
    metric = "overdue" if choice == "超期" else "open"
    head = f"{names[pick]}案件态势 · 按县区着色" if pick else "全省案件态势 · 按市着色"
    title.markdown(f'<div class="fq-h">{head}</div>', unsafe_allow_html=True)
    board = {r["prefecture_code"]: r for r in data["case_board"]}
    if pick:
        rows = queries.fetch(S, "county_board", pick)
        values, unshaped = maps.county_values(pick, [(r["region_code"], r[metric]) for r in rows], S.wall.map_dir)
        geo, map_name = maps.county_geojson(pick, S.wall.map_dir), f"hebei-{pick}"
    else:
        values = maps.prefecture_values({k: v[metric] for k, v in board.items()})
        unshaped, geo, map_name = {}, maps.prefecture_geojson(S.wall.map_dir), maps.PROVINCE_MAP
    top = max([v["value"] for v in values] + [1])
    options = {
        "backgroundColor": "transparent",
        "tooltip": {"trigger": "item", "formatter": "{b}<br/>{a} {c} 件"},
        "visualMap": {"min": 0, "max": top, "left": 10, "bottom": 10, "calculable": True,
                      "text": ["高", "低"], "textStyle": {"color": "#cfe0ff"},
                      "inRange": {"color": ["#0d2a52", "#1f6fd1", "#ffb020", "#ff4d4f"]}},
        "series": [{"type": "map", "map": map_name, "roam": False, "data": values, "name": choice,
                    "layoutCenter": ["50%", "50%"], "layoutSize": "98%",
                    "label": {"show": True, "color": "#ffffff", "fontSize": 14 if pick else 16},
                    "itemStyle": {"borderColor": "#7fc3ff", "borderWidth": 1.2, "areaColor": "#0d2a52"},
                    "emphasis": {"label": {"color": "#fff"}, "itemStyle": {"areaColor": "#2f9bff"}}}],
    }
    chart_key = f"wall-map-{pick or 'hebei'}"
    st_echarts(options, map=Map(map_name, geo), height="530px", key=chart_key, theme="dark",
               events=maps.CLICK_EVENTS, on_change=partial(maps.on_map_click, chart_key, "wall_city"))
    if unshaped:
        st.caption("无边界图形，计入市级：" + "，".join(f"{k} {v}" for k, v in unshaped.items()))
    st.caption("点击地市下钻到县区 · 点击地图空白处返回全省" if not pick else "点击地图空白处返回全省")


def _ticker(data: dict[str, list[dict]]) -> None:
    alerts = data["firing_alerts"]
    st.markdown(f'<div class="fq-h">实时预警 · {len(alerts)} 条告警中</div>', unsafe_allow_html=True)
    items = "".join(
        f'<li><span class="fq-tag {ui.esc(a["severity"])}">{ui.SEVERITY_ZH.get(a["severity"], "")}'
        f'{"·" + ui.STAGE_ZH.get(a["stage"], "") if a["stage"] else ""}</span>'
        f'{ui.esc(a["updated_at"].strftime("%H:%M"))} {ui.esc(scrub_text(a["message"]))}</li>'
        for a in alerts) or '<li>暂无告警</li>'
    loop = items + items if len(alerts) > 14 else items
    style = "" if len(alerts) > 14 else ' style="animation:none"'
    st.markdown(f'<div class="fq-panel fq-ticker" data-testid="fq-ticker"><ul{style}>{loop}</ul></div>',
                unsafe_allow_html=True)


def _warnings(data: dict[str, list[dict]]) -> None:
    st.markdown('<div class="fq-h">热点与类案预警</div>', unsafe_allow_html=True, help=RULES_ZH)
    items = "".join(
        f'<li><span class="fq-tag {"warning" if w["kind"] == "hotspot" else "info"}">'
        f'{ui.KIND_ZH.get(w["kind"], w["kind"])}</span>{ui.esc(scrub_text(w["message"]))} · {w["cases"]}件</li>'
        for w in data["early_warnings"]) or "<li>暂无热点或类案</li>"
    st.markdown(f'<div class="fq-panel"><ul class="fq-list">{items}</ul></div>', unsafe_allow_html=True)


def _repeat_tag(label: str | None) -> str:
    return f' <span class="fq-tag warning">{ui.esc(label)}</span>' if label else ""


def _countdown(data: dict[str, list[dict]]) -> None:
    st.markdown('<div class="fq-h">临期倒计时</div>', unsafe_allow_html=True)
    links = repeat_view.labels(S, [r["case_id"] for r in data["countdown"][:5]])  # 假性整改: 重复投诉 · 关联 …
    rows = "".join(
        f'<tr><td class="t {"crit" if r["seconds_left"] < 3600 else "warn" if r["seconds_left"] < 14400 else ""}">'
        f'{ui.remaining(r["seconds_left"])}</td><td>{ui.esc(r["case_id"])}{_repeat_tag(links.get(r["case_id"]))}</td>'
        f'<td>{ui.esc(ui.region_name(r["region_code"]))}</td><td>{ui.esc(r["topic"])}</td>'
        f'<td>{ui.TARGET_ZH.get(r["target"], "")}</td><td>{ui.URGENCY_ZH.get(r["urgency"], "")}</td></tr>'
        for r in data["countdown"][:5]) or '<tr><td colspan="6">暂无临期案件</td></tr>'
    st.markdown(f'<div class="fq-panel"><table class="fq-cd"><tr><th>剩余时间</th><th>案件编号</th><th>属地</th>'
                f'<th>事项</th><th>时限</th><th>紧急</th></tr>{rows}</table></div>', unsafe_allow_html=True)


@st.fragment(run_every=S.wall.refresh_seconds)
def wall() -> None:
    data, error = _load()
    if data is None:
        _header("● 离线")
        st.markdown(f'<div class="fq-banner">⚠ 数据库连接中断，暂停显示数据 ClickHouse unreachable ({ui.esc(error)})</div>',
                    unsafe_allow_html=True)
        return
    stale = " · ".join(r for r in (broker_reason(S), _stale_reason(data), sink_stale(S.data_dir)) if r)  # broker, sink too
    _header("● 数据滞后" if stale else "● 实时")
    if stale:
        st.markdown(f'<div class="fq-banner">⚠ {ui.esc(stale)}</div>', unsafe_allow_html=True)
    _kpis(data, bool(stale))
    left, mid, right = st.columns([1.0, 1.45, 1.1])
    with left:
        _charts(data)
    with mid:
        _map(data)
    with right:
        _ticker(data)
    low1, low2 = st.columns([2.1, 1])
    with low1:
        _countdown(data)
    with low2:
        _warnings(data)
    sink_note = ""
    if sink is not None and sink.error:
        sink_note = " · 内置写入服务异常 embedded sink stopped"
    st.markdown(f'<div class="fq-foot">每 {S.wall.refresh_seconds:g} 秒自动刷新 · 数据源 ClickHouse{sink_note}</div>',
                unsafe_allow_html=True)


wall()
