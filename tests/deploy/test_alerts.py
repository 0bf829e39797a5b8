"""The Prometheus side of deploy/: both scrape configs and the alert rules pass promtool, the
rules' unit tests (deploy/prometheus/rules/vitawin.test.yml) pass, every alert the issue asks for
is there with a severity, a runbook in deploy/README.md and a unit test, and every query reads
metrics the code really exposes (parsed with promql-parser, not matched by eye).

promtool comes from Debian's prometheus package (`make promtool` puts it in .venv/bin)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ops import PROMETHEUS, RULES, exposed_metric_names, metric_names, metric_objects, selectors

ROOT = Path(__file__).resolve().parents[2]
RULE_TESTS = PROMETHEUS / "rules" / "vitawin.test.yml"
RUNBOOK = ROOT / "deploy" / "README.md"

# What the issue asks to be alerted on -> the alerts that do it.
REQUIRED = {
    "consumer lag growing": {"VitawinConsumerLagGrowing"},
    "dead-letter rate": {"VitawinDeadLetters", "VitawinDeadLetterRateHigh"},
    "5xx rate": {"VitawinHttp5xxRate"},
    "email failures": {"VitawinEmailFailures"},
    "outbox backlog": {"VitawinOutboxBacklog"},
}


def promtool() -> str:
    found = shutil.which("promtool") or str(Path(sys.executable).parent / "promtool")
    assert os.access(found, os.X_OK), "promtool is missing: run `make promtool` (Debian's prometheus package)"
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([promtool(), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def alerts(rules) -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rules if "alert" in rule}


# --- promtool ------------------------------------------------------------------------------------

def test_promtool_accepts_the_rules():
    assert "SUCCESS" in run_promtool("check", "rules", str(RULES.relative_to(PROMETHEUS))).stdout


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-kubernetes.yml"])
def test_promtool_accepts_the_scrape_config_and_the_rules_it_loads(config):
    out = run_promtool("check", "config", config).stdout
    assert "1 rule files found" in out and "rules found" in out


def test_the_rules_unit_tests_pass():
    assert "SUCCESS" in run_promtool("test", "rules", str(RULE_TESTS.relative_to(PROMETHEUS))).stdout


def test_the_rules_unit_tests_fail_when_an_alert_is_broken(tmp_path):
    """The unit tests can fail: with the 5xx threshold raised past what they feed, they do."""
    broken = RULES.read_text(encoding="utf-8").replace('/ sum by (service) (rate(vitawin_http_requests_total[5m])) > 0.05',
                                                       '/ sum by (service) (rate(vitawin_http_requests_total[5m])) > 0.5')
    assert broken != RULES.read_text(encoding="utf-8")
    (tmp_path / RULES.name).write_text(broken, encoding="utf-8")
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = subprocess.run([promtool(), "test", "rules", RULE_TESTS.name], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "VitawinHttp5xxRate" in result.stdout + result.stderr


# --- what the rules say --------------------------------------------------------------------------

def test_every_situation_of_the_issue_has_its_alert(alerts):
    for situation, names in REQUIRED.items():
        assert names <= set(alerts), f"{situation}: {names - set(alerts)} missing"


def test_every_alert_has_a_severity_a_summary_and_a_runbook_that_exists(alerts):
    runbook = RUNBOOK.read_text(encoding="utf-8")
    # GitHub's anchors: the heading in lower case, spaces to dashes, other punctuation dropped
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+\s+(.+)$", runbook, re.M)}
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "deploy/README.md" and anchor in anchors, f"{name}: no runbook section {url}"


def test_every_alert_is_unit_tested(alerts):
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
              for case in test.get("alert_rule_test", [])}
    assert set(alerts) <= tested, f"alerts without a promtool test: {set(alerts) - tested}"


def test_the_rules_read_only_metrics_the_code_exposes(rules):
    known = exposed_metric_names() | {rule["record"] for rule in rules if "record" in rule} | {"up"}
    for rule in rules:
        used = metric_names(rule["expr"])
        assert used, rule
        assert used <= known, f"{rule.get('alert') or rule.get('record')}: unknown metrics {used - known}"


def test_the_metric_scan_sees_the_metrics_the_alerts_need():
    names = exposed_metric_names()
    assert {"vitawin_consumer_lag", "vitawin_events_dead_lettered_total", "vitawin_events_handled_total",
            "vitawin_http_requests_total", "vitawin_http_request_duration_seconds_bucket",
            "vitawin_emails_total", "vitawin_outbox_backlog"} <= names
    assert "vitawin_no_such_metric" not in names


def test_label_filters_use_labels_the_metrics_have(rules):
    """A typo in a label (statut=~"5..") selects nothing and the alert never fires."""
    labels = {}
    for metric in metric_objects():
        for family in metric.describe():
            for name in (family.name, f"{family.name}_total", f"{family.name}_bucket"):
                labels[name] = set(metric._labelnames) | {"le"}
    for rule in rules:
        for selector in selectors(rule["expr"]):
            if selector.name in labels:
                used = {m.name for m in selector.matchers.matchers} - {"__name__"}
                assert used <= labels[selector.name] | {"job", "instance"}, (rule.get("alert"), used)


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-kubernetes.yml"])
def test_the_jobs_are_those_the_rules_and_dashboard_name(config):
    scrape = yaml.safe_load((PROMETHEUS / config).read_text(encoding="utf-8"))
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    assert {"vitawin-api", "vitawin-worker"} <= jobs
    assert scrape["rule_files"] == ["rules/vitawin.rules.yml"]
