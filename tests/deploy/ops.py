"""Helpers of the deploy tests: the metrics the code exposes, the metric names a PromQL query reads
(parsed with promql-parser)."""
from __future__ import annotations

from pathlib import Path

import promql_parser
from prometheus_client.metrics import MetricWrapperBase

from vitawin_common import metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "vitawin.rules.yml"


def metric_objects() -> list[MetricWrapperBase]:
    """The metrics of vitawin_common.metrics (every service's processes expose them)."""
    return [value for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)]


def exposed_metric_names() -> set[str]:
    """Every series name the code's metrics produce (a counter's _total, a histogram's _bucket,
    _sum and _count), from the metric objects themselves."""
    names = set()
    for metric in metric_objects():
        for family in metric.describe():
            kind = family.type
            if kind == "counter":
                names |= {f"{family.name}_total"}
            elif kind == "histogram":
                names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
            else:
                names.add(family.name)
    return names


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list = []
    promql_parser.walk(promql_parser.parse(expr),
                       lambda node: found.append(node) if isinstance(node, promql_parser.VectorSelector) else None)
    return found


def metric_names(expr: str) -> set[str]:
    return {selector.name for selector in selectors(expr)}
