"""deploy/grafana/vitawin.json: a Grafana dashboard that loads (valid JSON, panels laid out on the
grid with unique ids, every query on the dashboard's Prometheus variable), whose queries parse as
PromQL and read only metrics the code exposes, and that shows what each alert watches."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ops import RULES, exposed_metric_names, metric_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "vitawin.json"
# Grafana's variables, replaced by what they stand for before parsing.
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$service": ".*", "${service}": ".*"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def queries(dashboard) -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's variables replaced) of every target."""
    result = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"{panel['title']}: unknown variable in {target['expr']}"
            result.append((panel["title"], expr))
    return result


def test_the_dashboard_loads_with_a_uid_a_title_and_laid_out_panels(dashboard):
    assert dashboard["uid"] == "vitawin-overview" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid) and grid["x"] + grid["w"] <= 24, panel["title"]
    # no two panels on the same cells
    cells = set()
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_every_query_uses_the_dashboards_prometheus_variable(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


def test_every_query_parses_and_reads_metrics_the_code_exposes(dashboard):
    known = exposed_metric_names() | {"up", "ALERTS"}
    for title, expr in queries(dashboard):
        used = metric_names(expr)  # raises on a query that is not PromQL
        assert used and used <= known, f"{title}: unknown metrics {used - known}"


def test_an_unknown_metric_in_a_query_is_caught():
    with pytest.raises(ValueError):
        metric_names("sum(rate(vitawin_http_requests_total[5m])")
    assert metric_names("rate(vitawin_no_such_metric_total[5m])") - exposed_metric_names() == {"vitawin_no_such_metric_total"}


def test_the_dashboard_shows_what_every_alert_watches(dashboard):
    rules = [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]
    records = {rule["record"]: metric_names(rule["expr"]) for rule in rules if "record" in rule}
    shown = set().union(*(metric_names(expr) for _, expr in queries(dashboard)))
    described = " ".join(panel.get("description", "") for panel in panels(dashboard))
    for rule in rules:
        if "alert" not in rule:
            continue
        watched = set().union(*(records.get(name, {name}) for name in metric_names(rule["expr"])))
        assert watched & shown, f"{rule['alert']}: none of {watched} on the dashboard"
        assert rule["alert"] in described, f"no panel says it backs {rule['alert']}"
