"""Citizen tracking: does a wrong phone take as long as an unknown case? (prints figures, asserts nothing)

    FENGQIAO_KAFKA_BOOTSTRAP=127.0.0.1:39092 FENGQIAO_DATA_DIR=/tmp/fq-bench .venv/bin/python bench/bench_track.py [--n 400] [--floor 0]

A real streams worker and the gateway (uvicorn thread); one petition through the gateway, then
`GET /v1/track/...` interleaved: right phone (200), wrong phone (404), unknown case (404). Prints
the median and the 10th/90th percentiles of each, and whether the two 404 bodies are identical.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from producers.gateway.config import GatewaySettings  # noqa: E402
from producers.gateway.embedded import GatewayThread  # noqa: E402
from tests.integration._intake_helpers import fresh_settings  # noqa: E402
from tests.integration.streams_harness import Worker, worker_env  # noqa: E402

FORM = {"region_code": "130102", "category": "help", "topic": "社会保障", "title": "咨询", "content": "养老保险转移",
        "citizen": {"name": "王五", "phone": "13500001234"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--floor", type=float, default=GatewaySettings().track_floor_seconds, help="0: the raw times")
    args = ap.parse_args()
    import os

    work = Path(tempfile.mkdtemp(prefix="bench-track-"))
    settings = fresh_settings(os.environ.get("FENGQIAO_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), data_dir=work / "data")
    w = Worker(worker_env(settings), work / "w", work / "worker.log")
    gw = GatewaySettings(api_keys={"web": "k-web"}, streams_url=f"http://127.0.0.1:{w.port}",
                         track_per_minute=0, track_case_per_hour=0, track_floor_seconds=args.floor)
    try:
        w.wait_ready()
        with GatewayThread(settings, gw) as gt, httpx.Client(base_url=gt.url, timeout=30) as c:
            cid = c.post("/v1/petitions", json=FORM, headers={"X-API-Key": "k-web"}).json()["case_id"]
            while c.get(f"/v1/cases/{cid}").status_code != 200:
                time.sleep(0.2)
            kinds = {"right phone": (cid, "1234"), "wrong phone": (cid, "9999"), "unknown case": ("WEB-NO-SUCH", "1234")}
            times: dict[str, list[float]] = {k: [] for k in kinds}
            bodies: dict[str, bytes] = {}
            for _ in range(20):  # warm up
                for case_id, last4 in kinds.values():
                    c.get(f"/v1/track/{case_id}", params={"phone_last4": last4})
            for _ in range(args.n):
                for kind, (case_id, last4) in kinds.items():
                    t = time.perf_counter()
                    r = c.get(f"/v1/track/{case_id}", params={"phone_last4": last4})
                    times[kind].append((time.perf_counter() - t) * 1000)
                    bodies[kind] = r.content
            for kind, ts in times.items():
                q = statistics.quantiles(ts, n=10)
                print(f"{kind:13s} median {statistics.median(ts):6.2f} ms  p10 {q[0]:6.2f}  p90 {q[-1]:6.2f}  (n={len(ts)})")
            print(f"floor {args.floor} s; 404 bodies identical:", bodies["wrong phone"] == bodies["unknown case"])
    finally:
        w.stop()


if __name__ == "__main__":
    main()
