"""Fengqiao core: the wire contract, the domain rules and the settings.

Nothing in this package imports Kafka, ClickHouse or Streamlit; the adapters
(`producers`, `streams`, `sinks`, `dashboard`, `broker`) are built around it.
The CLI module (`fengqiao.cli`) is the one composition root.
"""

__version__ = "0.1.0"
