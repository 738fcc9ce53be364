"""Shared look and labels: the dark command-centre style, zh-CN names, small HTML tiles."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from fengqiao import regions as rg
from fengqiao.vocab import CHANNEL_ZH, KIND_ZH, LEVEL_ZH, STAGE_ZH, TARGET_ZH  # noqa: F401 - the pages' labels, defined there

STATE_ZH = {"firing": "告警中", "acknowledged": "已确认", "resolved": "已解除", "silenced": "已静默"}
SEVERITY_ZH = {"critical": "严重", "warning": "警告", "info": "提示"}
URGENCY_ZH = {"urgent": "特急", "pressing": "加急", "normal": "一般"}
CATEGORY_ZH = {"consult": "咨询", "help": "求助", "dispute": "解纷", "report": "举报", "complaint": "投诉",
               "suggestion": "建议"}

CSS = """
<style>
:root { --fq-bg:#050b18; --fq-panel:#0b1730; --fq-line:#1c3a66; --fq-accent:#2f9bff; --fq-warn:#ffb020;
        --fq-crit:#ff4d4f; --fq-ok:#35d39a; --fq-text:#dbe7ff; --fq-dim:#7f93b8; }
.stApp { background: radial-gradient(ellipse at top, #0b1d3d 0%, #050b18 60%) !important; }
.block-container { padding: 0.6rem 1.2rem 0.4rem 1.2rem !important; max-width: 100% !important; }
div[data-testid="stVerticalBlock"] { gap: 0.45rem; }
.fq-title { display:flex; align-items:center; justify-content:space-between; padding:4px 6px 6px 6px;
            border-bottom:2px solid var(--fq-line); margin-bottom:2px; }
.fq-title h1 { font-size:34px; margin:0; padding:0; letter-spacing:6px; color:#eaf3ff;
               text-shadow:0 0 12px rgba(47,155,255,.6); font-weight:800; }
.fq-title .fq-clock { font-size:24px; color:var(--fq-dim); font-variant-numeric: tabular-nums; }
.fq-live { color:var(--fq-ok); font-size:18px; margin-left:14px; }
.fq-live.bad { color:var(--fq-crit); }
.fq-banner { background:#5a1010; border:2px solid var(--fq-crit); color:#ffd6d6; font-size:22px;
             padding:8px 14px; border-radius:6px; font-weight:700; }
.fq-kpis { display:grid; grid-template-columns: repeat(9, 1fr); gap:10px; }
.fq-kpi { background:linear-gradient(180deg,#0f2244,#0a1630); border:1px solid var(--fq-line);
          border-radius:8px; padding:8px 12px; box-shadow: inset 0 0 18px rgba(47,155,255,.08); }
.fq-kpi .l { color:var(--fq-dim); font-size:18px; letter-spacing:2px; }
.fq-kpi .v { color:#ffffff; font-size:46px; font-weight:800; line-height:1.1; font-variant-numeric: tabular-nums; }
.fq-kpi .s { color:var(--fq-dim); font-size:15px; }
.fq-kpi.warn .v { color:var(--fq-warn); } .fq-kpi.crit .v { color:var(--fq-crit); } .fq-kpi.ok .v { color:var(--fq-ok); }
.fq-stale .v { color:#6b7a94 !important; }
.fq-panel { background:rgba(11,23,48,.85); border:1px solid var(--fq-line); border-radius:8px; padding:6px 10px; }
.fq-h { color:#9cc7ff; font-size:20px; font-weight:700; letter-spacing:3px; margin:2px 0 4px 0;
        border-left:4px solid var(--fq-accent); padding-left:8px; }
.fq-ticker { height:520px; overflow:hidden; position:relative; }
.fq-ticker ul { list-style:none; margin:0; padding:0; animation: fqscroll 40s linear infinite; }
.fq-ticker:hover ul { animation-play-state: paused; }
@keyframes fqscroll { 0% { transform: translateY(0); } 100% { transform: translateY(-50%); } }
.fq-ticker li, .fq-list li { font-size:17px; padding:5px 2px; border-bottom:1px dashed #1c3a66; color:var(--fq-text);
                             white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.fq-list { list-style:none; margin:0; padding:0; }
.fq-tag { display:inline-block; min-width:64px; text-align:center; border-radius:4px; padding:0 6px;
          margin-right:8px; font-size:15px; font-weight:700; }
.fq-tag.critical { background:var(--fq-crit); color:#fff; } .fq-tag.warning { background:var(--fq-warn); color:#111; }
.fq-tag.info { background:#2d5b9a; color:#fff; }
.fq-cd { width:100%; border-collapse:collapse; font-size:17px; }
.fq-cd td, .fq-cd th { padding:4px 6px; border-bottom:1px solid #15305a; text-align:left; white-space:nowrap; }
.fq-cd th { color:var(--fq-dim); font-weight:600; }
.fq-cd .t { font-variant-numeric: tabular-nums; font-weight:800; font-size:20px; }
.fq-cd .t.crit { color:var(--fq-crit); } .fq-cd .t.warn { color:var(--fq-warn); }
.fq-foot { color:var(--fq-dim); font-size:14px; text-align:right; }
.fq-mix { font-size:16px; color:var(--fq-dim); }
</style>
"""

HIDE_CHROME = """
<style>
header[data-testid="stHeader"], div[data-testid="stToolbar"], footer { display:none !important; }
</style>
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def region_name(code: str) -> str:
    return rg.name_of(code) if code else "—"


def pct(num: float, den: float) -> str:
    return f"{100.0 * num / den:.1f}%" if den else "—"


def kpi(label: str, value: str, sub: str = "", tone: str = "") -> str:
    return (f'<div class="fq-kpi {tone}"><div class="l">{esc(label)}</div><div class="v">{esc(value)}</div>'
            f'<div class="s">{esc(sub)}</div></div>')


def remaining(seconds: int) -> str:
    """Countdown text: 2天03:15:20 / 03:15:20."""
    s = max(int(seconds), 0)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}天" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def fmt_time(t: datetime | None) -> str:
    return t.strftime("%m-%d %H:%M:%S") if t else "—"
