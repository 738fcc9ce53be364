"""The platform's shared vocabulary, defined once (DESIGN.md sections 3 and 4).

Every process speaks of the same time zone, the same administrative ladder, the same countdown
stages and targets and the same wire schema version; each was once written out in several modules
and the copies drifted (two sets of stage words). Import them from here; `tests/unit/test_vocab_guard.py`
fails when a second definition appears. Pure: the standard library only.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo

SCHEMA_VERSION = 1  # the wire contract's version (`schema_version` of every event)

TZ_NAME = "Asia/Shanghai"  # the platform's one time zone: working days, "today", reports, SQL
TZ = ZoneInfo(TZ_NAME)
TZ_SQL = f"'{TZ_NAME}'"  # as a ClickHouse string literal, for DDL types where a bound parameter cannot go


class Level(StrEnum):
    """The administrative ladder, low to high (村 → 乡镇 → 县 → 市 → 省)."""

    village = "village"
    township = "township"
    county = "county"
    city = "city"
    province = "province"


LEVELS: tuple[str, ...] = tuple(lv.value for lv in Level)
LEVEL_RANK: dict[str, int] = {lv: i for i, lv in enumerate(LEVELS)}
LEVEL_ZH = {"village": "村级", "township": "乡镇", "county": "县级", "city": "市级", "province": "省级"}
ESCALATION_LADDER: tuple[Level, ...] = (Level.township, Level.county, Level.city, Level.province)
"""The default supervision ladder of escalations (DESIGN.md section 4: never past province)."""

TARGETS = ("sign", "resolve")
TARGET_ZH = {"sign": "签收", "resolve": "办结"}

STAGES = ("reminder", "warning", "overdue", "escalation")
STAGE_ZH = {"reminder": "提醒", "warning": "催办", "overdue": "超期督办", "escalation": "逐级督办"}
"""The countdown stages in DESIGN.md's words: one label per stage on the wall, the console and alert text."""

CHANNEL_ZH = {"hotline": "12345热线", "web": "网站", "app": "移动端", "wechat": "微信", "qrcode": "民情码",
              "window": "窗口来访", "open311": "Open311", "internal": "内部"}
"""The intake channels' names on every screen and in alert text (the heartbeat names a silent one)."""

ALERT_KINDS = ("sla", "hotspot", "class_case", "heartbeat")
KIND_ZH = {"sla": "时限", "hotspot": "热点", "class_case": "类案", "heartbeat": "渠道心跳"}
"""Alert kinds (`AlertRecord.kind`) and their labels: heartbeat = a channel silent when it normally has traffic."""
