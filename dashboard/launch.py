"""The wall's process: the embedded sink and the metrics server start with it, then Streamlit.

`streamlit run` alone starts the sink only when the first browser session runs a page, so a
wall opened after traffic showed 0 cases until its sink caught up (issue 13). `fengqiao wall`
execs `python -m dashboard.launch run app.py …` instead: this module starts the sink thread
(embedded mode) and prometheus_client's HTTP server on `wall.metrics_port`, then hands the
same argv to Streamlit's own command line, in this process, so the pages find the running
sink (`dashboard.runtime.embedded_sink`, one process, one chDB path). On exit the sink
flushes and commits.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Iterator
from typing import Any

from fengqiao import logs
from fengqiao.settings import Settings


class _WallCollector:
    """`fengqiao_wall_data_stale`: 1 while the wall shows its stale banner for the sink (store down, sink silent)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from sinks.health import sink_stale

        yield GaugeMetricFamily("fengqiao_wall_data_stale", "1 while the sink does not land rows",
                                value=int(bool(sink_stale(self.settings.data_dir))))


def main() -> None:
    from prometheus_client import REGISTRY

    from dashboard.runtime import ensure_sink, stop_sinks
    from sinks.metrics import serve_metrics

    settings = Settings()
    logs.install()
    REGISTRY.register(_WallCollector(settings))  # type: ignore[arg-type]
    serve_metrics(settings.wall.metrics_port, settings.wall.host)
    if ensure_sink(settings) is not None:
        atexit.register(stop_sinks)
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
