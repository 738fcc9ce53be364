"""领导视图: rankings over a chosen period, the map with drill-down, and the
daily summary / weekly analysis as downloadable HTML and PDF reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import streamlit as st

from dashboard import maps, queries, reports, ui
from dashboard.runtime import ensure_schema, ensure_sink, settings
from fengqiao import regions as rg
from fengqiao.vocab import TZ as SH

S = settings()
ensure_sink(S)
ensure_schema(S)
st.markdown(ui.CSS, unsafe_allow_html=True)
st.title("领导视图 · 考核排名与分析")

today = datetime.now(SH).date()
c1, c2 = st.columns([2, 3])
period = c1.date_input("统计区间 Period", value=(today - timedelta(days=today.weekday()), today), key="lead_period")
start, end = (period if isinstance(period, tuple) and len(period) == 2 else (today, today))

tabs = st.tabs(["各市排名", "县区排名", "部门排名", "地图下钻", "报告下载"])
for tab, by in zip(tabs[:3], ("prefecture", "county", "department")):
    with tab:
        rows = queries.fetch(S, "rankings", by, start, end, ttl="slow")
        st.dataframe(reports.ranking_rows(rows, by, S.wall.ranking_min_sample), hide_index=True,
                     key=f"rank-{by}", height=420)
        st.caption(f"按“按期办结率”95% 置信区间下限排名，各率附分子/分母；已决案件少于 {S.wall.ranking_min_sample} 件的"
                   "单位列在表末“样本不足”，不参与排名。")

with tabs[3]:
    from streamlit_echarts import Map, st_echarts

    names = {"": "全省"} | {p.code: p.name for p in rg.prefectures()}
    pick = st.selectbox("下钻到 Drill down", list(names), format_func=names.get, key="lead_city")
    if pick:
        st.button("↩ 返回全省 Back to the province", key="lead_up", on_click=st.session_state.update,
                  kwargs={"lead_city": ""})
    if pick:
        rows = queries.fetch(S, "county_board", pick)
        values, unshaped = maps.county_values(pick, [(r["region_code"], r["open"]) for r in rows], S.wall.map_dir)
        geo, name = maps.county_geojson(pick, S.wall.map_dir), f"hebei-{pick}"
    else:
        board = queries.fetch(S, "case_board")
        values = maps.prefecture_values({r["prefecture_code"]: r["open"] for r in board})
        unshaped, geo, name = {}, maps.prefecture_geojson(S.wall.map_dir), maps.PROVINCE_MAP
    st_echarts({"backgroundColor": "transparent", "tooltip": {"trigger": "item", "formatter": "{b}: {c} 件在办"},
                "visualMap": {"min": 0, "max": max([v["value"] for v in values] + [1]), "calculable": True,
                              "textStyle": {"color": "#cfe0ff"},
                              "inRange": {"color": ["#0d2a52", "#1f6fd1", "#ffb020", "#ff4d4f"]}},
                "series": [{"type": "map", "map": name, "data": values, "label": {"show": True, "color": "#fff"}}]},
               map=Map(name, geo), height="600px", key=f"lead-map-{pick or 'hebei'}", theme="dark",
               events=maps.CLICK_EVENTS, on_change=partial(maps.on_map_click, f"lead-map-{pick or 'hebei'}", "lead_city"))
    st.caption("点击地市下钻到县区 · 点击地图空白处返回全省")
    if unshaped:
        st.caption("无边界图形，计入市级：" + "，".join(f"{k} {v}" for k, v in unshaped.items()))

with tabs[4]:
    day = st.date_input("报告日期 Report date", value=today, key="report_day")
    a, b = st.columns(2)
    for col, kind, label in ((a, "daily", "日汇总 Daily summary"), (b, "weekly", "周分析 Weekly analysis")):
        if col.button(f"生成{label}", key=f"mk_{kind}"):
            with st.spinner("正在生成 HTML 与 PDF …"):
                fname, doc = reports.build(S, kind, day)
                try:
                    pdf: bytes | str = reports.to_pdf(doc)
                except reports.PdfError as exc:  # HTML still offered; the reason in both languages
                    pdf = str(exc)
            st.session_state[f"fq_report_{kind}"] = (fname, doc, pdf)
    for kind, label in (("daily", "日汇总"), ("weekly", "周分析")):
        if f"fq_report_{kind}" in st.session_state:
            fname, doc, pdf = st.session_state[f"fq_report_{kind}"]
            h, p = st.columns(2)
            h.download_button(f"下载{label} HTML", doc.encode("utf-8"), file_name=fname, mime="text/html",
                              key=f"dl-{kind}-html")
            if isinstance(pdf, bytes):
                p.download_button(f"下载{label} PDF", pdf, file_name=fname.removesuffix(".html") + ".pdf",
                                  mime="application/pdf", key=f"dl-{kind}-pdf")
            else:
                p.warning(pdf)
