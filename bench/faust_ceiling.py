"""What Faust itself costs per message, on the worker's own app settings (run by bench_streams.py).

    CEILING_EVENTS=60000 CEILING_MODE=none|table FENGQIAO_TOPICS__EVENTS=... \
        .venv/bin/python bench/faust_ceiling.py worker -l warn

An agent on the events topic that only counts (`none`), or also writes one small table
value per event (`table`: one RocksDB put + one changelog message, the least a stateful
worker does). Prints one JSON line with the rate, then exits. The streams worker can
never be faster than this on the same machine.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fengqiao.settings import Settings  # noqa: E402
from streams.app import build_app  # noqa: E402

settings = Settings()
MODE = os.environ.get("CEILING_MODE", "none")
N = int(os.environ["CEILING_EVENTS"])
app = build_app(settings.model_copy(update={"streams": settings.streams.model_copy(update={"app_id": f"ceiling-{MODE}-{os.getpid()}"})}),
                workdir=Path(os.environ["CEILING_WORKDIR"]), web_port=int(os.environ["CEILING_WEB_PORT"]))
source = app.topic(settings.topics.events, key_type=str, key_serializer="raw", value_serializer="raw")
table = app.Table("ceiling", default=None, partitions=settings.topics.partitions, key_type=str)


@app.agent(source)
async def count(stream):  # type: ignore[no-untyped-def]
    n, t0 = 0, 0.0
    async for event in stream.events():
        if n == 0:
            t0 = time.perf_counter()
        if MODE == "table":
            table[event.key] = {"n": len(event.value)}
        n += 1
        if n == N:
            print(json.dumps({"mode": MODE, "rate": (N - 1) / (time.perf_counter() - t0)}), flush=True)
            os._exit(0)


if __name__ == "__main__":
    app.main()
