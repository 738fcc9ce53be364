"""The Streamlit entry point (`streamlit run dashboard/app.py`, via `fengqiao wall`).

Three pages, zh-CN first: the wall at `/`, the officer console and the
leadership view. Settings arrive through `FENGQIAO_*` variables (see serve.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts dashboard/ on the path, not the project
    sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

import streamlit as st  # noqa: E402

st.set_page_config(page_title="网上枫桥 综治指挥中心", page_icon="🛡", layout="wide",
                   initial_sidebar_state="collapsed")

PAGES = Path(__file__).resolve().parent / "pages"
nav = st.navigation(
    [
        st.Page(PAGES / "wall.py", title="指挥大屏", icon="🖥", url_path="wall", default=True),
        st.Page(PAGES / "console.py", title="值班台", icon="🛎", url_path="console"),
        st.Page(PAGES / "leadership.py", title="领导视图", icon="📊", url_path="leadership"),
        st.Page(PAGES / "dispatch.py", title="派单工作台", icon="📮", url_path="dispatch"),
        st.Page(PAGES / "department.py", title="承办单位", icon="🏢", url_path="department"),
        st.Page(PAGES / "callback.py", title="回访工作台", icon="☎", url_path="callback"),
    ],
    position="sidebar",
)
try:
    nav.run()
except Exception:  # a screen never shows a traceback: the details go to the log only
    logging.getLogger("fengqiao.wall").exception("page failed")
    st.error("页面暂时无法显示，请联系值班技术人员（详情已记入日志） / "
             "This page cannot be shown right now; the details are in the server log.")
