"""deploy/k8s: the manifests are those deploy/k8s/render.py writes from its table, every object is
valid for Kubernetes (kubernetes-validate: the API's JSON schemas shipped in the PyPI package,
strict: an unknown field is an error) and the ScaledObjects for KEDA (a schema written after
KEDA's CRD, tests/deploy/schemas), and they make a deployment that can run: per service an API and
a worker Deployment with probes, resources, a Service, PodDisruptionBudgets, an HPA on CPU for the
API and a KEDA rule on the lag of the groups the worker's code really consumes; every setting the
code needs from ConfigMaps, Secrets or the image; each private key only where the compose file
has it; Prometheus finds every pod."""
from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from test_compose import dockerfile_env, env_reads
from vitawin_common.contracts import load

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
SCALED_OBJECT_SCHEMA = json.loads((Path(__file__).with_name("schemas") / "scaledobject-keda-v1alpha1.json")
                                  .read_text(encoding="utf-8"))
sys.path.insert(0, str(K8S))
import render  # noqa: E402  deploy/k8s/render.py

# The groups each worker's code consumes with, and where it names their channels.
CODE_GROUPS = {
    "requests": [("vitawin_requests.worker", "GROUP_ID", "CONSUMED_CHANNELS")],
    "matching": [("vitawin_matching.bootstrap", "GROUP_ID", "CONSUMED_CHANNELS")],
    "notify": [("vitawin_notify.bootstrap", "GROUP_ID", "CHANNELS"),
               ("vitawin_notify.bootstrap", "RETRY_GROUP_ID", ("vitawin_notify.delivery", "RETRY_CHANNEL"))],
    "accounts": [("vitawin_accounts.bootstrap", "GROUP_ID", "CHANNELS")],
    # and the partners' public topics, read back (vitawin_webhooks.topics, partners.asyncapi.yaml)
    "webhooks": [("vitawin_webhooks.bootstrap", "GROUP_ID", "INTERNAL_CHANNELS")],
}


def manifests() -> dict[str, list[dict]]:
    return {path.name: [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
            for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"}


OBJECTS = [obj for docs in manifests().values() for obj in docs]


def objects(kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in OBJECTS if obj["kind"] == kind}


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def deployed_services() -> list[str]:
    """Every service of services/ that has an API (and the gateway)."""
    found = []
    for folder in sorted((ROOT / "services").iterdir()):
        package = folder / f"vitawin_{folder.name}"
        if (package / "api.py").is_file() or (package / "api" / "__init__.py").is_file() or (package / "app.py").is_file():
            found.append(folder.name)
    return found


def validate(obj: dict) -> None:
    if obj["kind"] == "ScaledObject":
        jsonschema.validate(obj, SCALED_OBJECT_SCHEMA, cls=jsonschema.Draft202012Validator)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


# --- the files ----------------------------------------------------------------------------------

def test_the_manifests_are_what_render_writes_from_its_table():
    stale = [name for name, text in render.files().items() if (K8S / name).read_text(encoding="utf-8") != text]
    assert not stale, f"run `python deploy/k8s/render.py`: {stale} differ from its table"


def test_the_kustomization_lists_every_manifest_and_sets_the_namespace():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(manifests())
    assert kustomization["namespace"] == "vitawin"
    assert all(obj["metadata"].get("namespace", "vitawin") == "vitawin" for obj in OBJECTS)


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_object_is_valid_for_kubernetes_or_keda(obj):
    validate(obj)


def test_the_validators_reject_a_broken_object():
    deployment = copy.deepcopy(objects("Deployment")["matching-api"])
    container(deployment)["resource"] = container(deployment).pop("resources")  # a typo
    with pytest.raises(kubernetes_validate.ValidationError, match="'resource' was unexpected"):
        validate(deployment)
    scaled = copy.deepcopy(objects("ScaledObject")["matching-worker"])
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 100  # KEDA's metadata is strings only
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    del scaled["spec"]["scaleTargetRef"]
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


# --- one shape per service ------------------------------------------------------------------------

def test_every_service_with_an_api_is_deployed():
    assert sorted(app.service for app in render.APPS) == deployed_services()


@pytest.mark.parametrize("app", render.APPS, ids=lambda a: a.service)
def test_each_service_has_its_deployments_services_budgets_and_autoscalers(app):
    deployments, services = objects("Deployment"), objects("Service")
    budgets, hpas, scaled = objects("PodDisruptionBudget"), objects("HorizontalPodAutoscaler"), objects("ScaledObject")
    kinds = ["api"] + (["worker"] if app.worker_port else [])
    for kind in kinds:
        name = app.api if kind == "api" else app.worker
        deployment = deployments[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"]
        metrics = services[f"{name}-metrics"]
        assert metrics["spec"]["clusterIP"] == "None", "headless: DNS names every pod for Prometheus"
        assert metrics["spec"]["selector"].items() <= labels.items()
    api = services[app.api]
    assert api["spec"]["selector"].items() <= deployments[app.api]["spec"]["template"]["metadata"]["labels"].items()
    assert api["spec"]["ports"][0]["port"] == app.api_port
    hpa = hpas[app.api]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": app.api}
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert "replicas" not in deployments[app.api]["spec"], "the HPA sets the API's replicas"
    if app.worker_port and app.consumers:
        rule = scaled[app.worker]["spec"]
        assert rule["scaleTargetRef"]["name"] == app.worker and rule["minReplicaCount"] >= 1
        assert {t["type"] for t in rule["triggers"]} == {"kafka"}
        assert "replicas" not in deployments[app.worker]["spec"], "KEDA sets the worker's replicas"
    elif app.worker_port:  # relays its outbox only: nothing to lag behind
        assert app.worker not in scaled and deployments[app.worker]["spec"]["replicas"] >= 2


@pytest.mark.parametrize("name", sorted(objects("Deployment")))
def test_each_container_has_probes_resources_and_runs_locked_down(name):
    deployment = objects("Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    box = container(deployment)
    ports = {port["name"]: port["containerPort"] for port in box["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert box[probe]["httpGet"]["port"] in ports, f"{name} {probe}"
    assert box["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert box["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(box["resources"][part]), f"{name} {part}"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert box["securityContext"]["readOnlyRootFilesystem"] and box["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in box["volumeMounts"]} >= {"/tmp"}, "gunicorn and the metrics files write to /tmp"


@pytest.mark.parametrize("name", sorted(objects("Deployment")))
def test_the_command_names_a_module_that_exists_and_listens_where_probed(name):
    box = container(objects("Deployment")[name])
    env = {item["name"]: item.get("value") for item in box["env"]}
    command = box["command"]
    if command[0] == "gunicorn":
        module, factory = command[-1].split(":")
        assert env["BIND"] == f"0.0.0.0:{box['ports'][0]['containerPort']}" and env["PROMETHEUS_MULTIPROC_DIR"]
        attribute = factory.removesuffix("()")
    else:
        assert command[:2] == ["python", "-m"]
        module, attribute = command[2], "main"
        assert env["METRICS_PORT"] == str(box["ports"][0]["containerPort"]) and env["METRICS_HOST"] == "0.0.0.0"
    assert importlib.util.find_spec(module) is not None, module
    assert callable(getattr(importlib.import_module(module), attribute))


# --- configuration ------------------------------------------------------------------------------

def settings(deployment: dict) -> set[str]:
    """Variables a container gets: its env, its ConfigMaps (they must exist), the image's ENV."""
    config_maps = objects("ConfigMap")
    box = container(deployment)
    names = {item["name"] for item in box.get("env", [])} | set(dockerfile_env())
    for source in box.get("envFrom", []):
        names |= set(config_maps[source["configMapRef"]["name"]]["data"])
    return names


@pytest.mark.parametrize("name", sorted(objects("Deployment")))
def test_every_variable_the_code_reads_without_default_is_set(name):
    deployment = objects("Deployment")[name]
    service = deployment["metadata"]["labels"]["vitawin.fr/service"]
    given = settings(deployment)
    needed = {var for var, has_default in env_reads(ROOT / "services" / service).items() if not has_default}
    # common's reads are needed by some processes only (PROMETHEUS_MULTIPROC_DIR by gunicorn's)
    missing = sorted(needed - given)
    assert not missing, f"{name}: read by the code without default, set nowhere: {missing}"


def test_common_settings_read_without_default_are_given_to_every_process_that_needs_them():
    needed = {var for var, has_default in env_reads(ROOT / "common").items() if not has_default}
    given = set().union(*(settings(d) for d in objects("Deployment").values()))
    assert not needed - given, needed - given


def test_secrets_are_the_documented_ones_and_files_are_where_the_variables_point():
    runbook = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    for name, deployment in objects("Deployment").items():
        box, pod = container(deployment), deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in box["volumeMounts"]}
        for item in box["env"]:
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in render.SECRETS[ref["name"]], (name, ref)
            if item["name"].endswith("_KEY_FILE"):
                folder, _, key = item["value"].rpartition("/")
                secret = mounts[folder]["secret"]["secretName"]
                assert key in render.SECRETS[secret], (name, item)
        for volume in volumes.values():
            if "secret" in volume:
                assert volume["secret"]["secretName"] in render.SECRETS
    for secret, keys in render.SECRETS.items():
        assert secret in runbook, f"deploy/README.md does not say how to make {secret}"


def test_each_private_key_is_held_by_the_one_process_that_signs():
    def holders(secret):
        return sorted(name for name, d in objects("Deployment").items()
                      if any(v.get("secret", {}).get("secretName") == secret for v in d["spec"]["template"]["spec"]["volumes"]))
    assert holders("vitawin-auth-private") == ["accounts-api"]
    assert holders("vitawin-notify-link-private") == ["notify-worker"]
    assert len(holders("vitawin-auth-public")) == len(objects("Deployment")), "every process verifies tokens"


# --- scaling on the lag -------------------------------------------------------------------------

def code_groups(service: str) -> dict[str, set[str]]:
    contracts = load(ROOT / "contracts")
    groups = {}
    for module, group_attr, channels_attr in CODE_GROUPS[service]:
        group = getattr(importlib.import_module(module), group_attr)
        if isinstance(channels_attr, tuple):
            channels = [getattr(importlib.import_module(channels_attr[0]), channels_attr[1])]
        else:
            channels = getattr(importlib.import_module(module), channels_attr)
        groups[group] = {contracts.topic(channel) for channel in channels}
    if service == "webhooks":
        from vitawin_webhooks import topics
        groups["webhooks"] |= {topic.address for topic in topics.load(ROOT / "contracts").public_topics()}
    return groups


@pytest.mark.parametrize("app", [a for a in render.APPS if a.consumers], ids=lambda a: a.service)
def test_keda_watches_the_groups_and_topics_the_workers_code_consumes(app):
    rule = objects("ScaledObject")[app.worker]["spec"]
    watched: dict[str, set[str]] = {}
    for trigger in rule["triggers"]:
        meta = trigger["metadata"]
        assert meta["bootstrapServers"] == objects("ConfigMap")["vitawin-common"]["data"]["KAFKA_BOOTSTRAP_SERVERS"]
        assert int(meta["lagThreshold"]) > 0 and meta["allowIdleConsumers"] == "false"
        watched.setdefault(meta["consumerGroup"], set()).add(meta["topic"])
    assert watched == code_groups(app.service)
    partitions = {c.address: c.partitions for c in load(ROOT / "contracts").channels().values()}
    partners = yaml.safe_load((ROOT / "contracts" / "partners.asyncapi.yaml").read_text(encoding="utf-8"))
    partitions |= {c["address"]: int(c["x-partitions"]) for c in partners["channels"].values()}
    assert rule["maxReplicaCount"] == max(partitions[t] for topics in watched.values() for t in topics), \
        "a worker more than the partitions would idle"


def test_every_worker_that_consumes_has_a_lag_rule():
    consuming = {service for service in CODE_GROUPS}
    assert {name.removesuffix("-worker") for name in objects("ScaledObject")} == consuming


# --- Prometheus finds every pod -------------------------------------------------------------------

def test_prometheus_on_kubernetes_scrapes_every_deployment_through_its_headless_service():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus-kubernetes.yml").read_text(encoding="utf-8"))
    scraped = {}
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                scraped[name] = (job["job_name"], sd["port"])
    services = objects("Service")
    for name, deployment in objects("Deployment").items():
        kind = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        port = container(deployment)["ports"][0]["containerPort"]
        dns = f"{name}-metrics.vitawin.svc.cluster.local"
        assert scraped.get(dns) == (f"vitawin-{kind}", port), f"{name} is not scraped"
        assert services[f"{name}-metrics"]["spec"]["ports"][0]["port"] == port
