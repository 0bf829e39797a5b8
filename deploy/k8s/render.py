"""Writes the Kubernetes manifests of deploy/k8s from one table (APPS below), so that every service
gets the same shape: per service, an API Deployment (gunicorn) and a worker Deployment, their
Services, probes, resource requests and limits, PodDisruptionBudgets, a HorizontalPodAutoscaler
on CPU for the API and a KEDA ScaledObject on the Kafka lag of the worker's consumer groups,
configuration from ConfigMaps and Secrets.

    python deploy/k8s/render.py           # rewrites deploy/k8s/*.yaml
    python deploy/k8s/render.py --check   # exit 1 if a file differs from what the table says

Edit the table, not the YAML: tests/deploy/test_k8s.py fails when the files and the table differ,
and validates every object against the Kubernetes schemas (kubernetes-validate) and KEDA's
ScaledObject schema. The Secrets are not here (they hold keys): deploy/README.md says how to make
them. Apply with `kubectl apply -k deploy/k8s`."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
NAMESPACE = "vitawin"
IMAGE = "vitawin/app:latest"  # kustomization.yaml's `images` sets the released tag
KAFKA = "kafka-bootstrap.kafka.svc.cluster.local:9092"  # the cluster's Apache Kafka (KRaft)
HEADER = "# Written by deploy/k8s/render.py from its table: edit the table and run it again.\n"

# Key pairs, mounted as files where they are needed, with the variable that names the file.
KEY_FILES = {
    "vitawin-auth-public": ("AUTH_PUBLIC_KEY_FILE", "public.pem"),
    "vitawin-auth-private": ("AUTH_PRIVATE_KEY_FILE", "private.pem"),
    "vitawin-notify-link-public": ("NOTIFY_LINK_PUBLIC_KEY_FILE", "public.pem"),
    "vitawin-notify-link-private": ("NOTIFY_LINK_PRIVATE_KEY_FILE", "private.pem"),
}
# The Secrets the pods read (made by the operator, see deploy/README.md): name -> keys.
SECRETS = {
    "vitawin-mongodb": ("uri",),                      # a replica set URI with credentials
    "vitawin-auth-public": ("public.pem",),           # verifies access tokens: every service
    "vitawin-auth-private": ("private.pem",),         # signs access tokens: the accounts API only
    "vitawin-notify-link-public": ("public.pem",),    # checks the links of notify's emails
    "vitawin-notify-link-private": ("private.pem",),  # signs them: the notify worker only
    "vitawin-smtp": ("username", "password"),         # the SMTP relay's login (optional)
    "vitawin-webhooks": ("pseudonym-key",),           # webhooks: the key of partners' pseudonyms
}


@dataclass
class Resources:
    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str

    def spec(self) -> dict:
        return {"requests": {"cpu": self.cpu, "memory": self.memory},
                "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit}}


API_RESOURCES = Resources("100m", "256Mi", "1", "512Mi")
WORKER_RESOURCES = Resources("100m", "256Mi", "1", "512Mi")


@dataclass
class Consumer:
    group: str
    topics: tuple[str, ...]


@dataclass
class App:
    service: str
    api_port: int
    worker_port: int | None = None  # None: no worker (the gateway)
    config: dict = field(default_factory=dict)  # the service's ConfigMap
    api_secrets: tuple[str, ...] = ()  # file Secrets mounted in the API (besides the public key)
    worker_secrets: tuple[str, ...] = ()
    smtp: tuple[str, ...] = ()  # "api" and/or "worker": gets the SMTP login
    consumers: tuple[Consumer, ...] = ()  # the worker's groups (KEDA scales on their lag)
    worker_replicas: int = 2  # a worker that consumes nothing: fixed (one relays, one stands by)
    api_min: int = 2
    api_max: int = 6
    worker_memory: str | None = None  # a worker that holds more in memory (matching's index)
    env_secrets: dict = field(default_factory=dict)  # variable -> (Secret, key), API and worker

    @property
    def api(self) -> str:
        return "gateway" if self.service == "gateway" else f"{self.service}-api"

    @property
    def worker(self) -> str:
        return f"{self.service}-worker"

    @property
    def package(self) -> str:
        return f"vitawin_{self.service}"


def service_urls(*names: str) -> dict:
    ports = {app.service: app.api_port for app in APPS}
    return {f"{name.upper()}_URL": f"http://{name}-api:{ports[name]}" for name in names}


APPS: list[App] = [
    App("actors", 8081, 9181, {"MONGODB_DATABASE": "vitawin_actors"}),
    App("requests", 8082, 9182, {"MONGODB_DATABASE": "vitawin_requests"},
        consumers=(Consumer("requests", ("vitawin.actors", "vitawin.proposals")),)),
    App("matching", 8083, 9183, {"MONGODB_DATABASE": "vitawin_matching"},
        api_secrets=("vitawin-notify-link-public",),
        consumers=(Consumer("matching", ("vitawin.volunteers", "vitawin.requests", "vitawin.proposals")),),
        worker_memory="1Gi"),
    App("notify", 8084, 9184, {"MONGODB_DATABASE": "vitawin_notify", "MATCHING_URL": "http://matching-api:8083"},
        api_secrets=("vitawin-notify-link-public",), worker_secrets=("vitawin-notify-link-private",),
        smtp=("api", "worker"),
        consumers=(Consumer("notify", ("vitawin.proposals", "vitawin.requests", "vitawin.volunteers",
                                       "vitawin.contacts", "vitawin.actors", "vitawin.requesters")),
                   Consumer("notify-retry", ("vitawin.notify.retry",)))),
    App("accounts", 8085, 9185, {"MONGODB_DATABASE": "vitawin_accounts", "MAIL_FROM": "Vitawin <ne-pas-repondre@vitawin.fr>"},
        api_secrets=("vitawin-auth-private",), smtp=("api",),
        consumers=(Consumer("accounts", ("vitawin.contacts", "vitawin.actors")),)),
    App("webhooks", 8086, 9186, {"MONGODB_DATABASE": "vitawin_webhooks"},
        consumers=(Consumer("webhooks", ("vitawin.requests", "vitawin.volunteers", "vitawin.proposals",
                                         "vitawin.initiatives", "vitawin.actors", "public.requests.v1",
                                         "public.pledges.v1", "public.proposals.v1", "public.initiatives.v1")),),
        env_secrets={"WEBHOOKS_PSEUDONYM_KEY": ("vitawin-webhooks", "pseudonym-key")}),
    App("gateway", 8080, None, {
        "GATEWAY_CORS_ORIGINS": "https://vitawin.example.fr",
        # Per gunicorn process: point the counters at a shared store (Redis or MongoDB) with replicas
        "GATEWAY_RATELIMIT_STORAGE_URI": "memory://",
        "WEB_APP_DIR": "/app/web/app",
        "GATEWAY_TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "GATEWAY_TILE_ATTRIBUTION": "© les contributeurs d'OpenStreetMap",
        "ROME_FILE": "/app/contracts/reference/rome.json"}),
]
APPS[-1].config.update(service_urls("actors", "requests", "matching", "notify", "accounts", "webhooks"))

# Every pod: the broker, the public address (links of the emails), the SMTP relay, the logs.
COMMON_CONFIG = {
    "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
    "APP_URL": "https://vitawin.example.fr",
    "LOG_LEVEL": "INFO",
    "SMTP_HOST": "smtp-relay.mail.svc.cluster.local",
    "SMTP_PORT": "587",
    "SMTP_STARTTLS": "true",
    "SMTP_FROM": "Vitawin <ne-pas-repondre@vitawin.fr>",
}


# --- objects --------------------------------------------------------------------------------------

def meta(name: str, app: App, component: str, **extra) -> dict:
    return {"name": name, "namespace": NAMESPACE, "labels": labels(name, app, component), **extra}


def labels(name: str, app: App, component: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "vitawin",
            "app.kubernetes.io/component": component, "vitawin.fr/service": app.service}


def selector(name: str) -> dict:
    return {"matchLabels": {"app.kubernetes.io/name": name}}


def secret_volume(secret: str) -> tuple[dict, dict]:
    folder = secret.removeprefix("vitawin-")
    return ({"name": folder, "secret": {"secretName": secret, "defaultMode": 0o440}},
            {"name": folder, "mountPath": f"/run/secrets/{folder}", "readOnly": True})


def key_secrets(app: App, kind: str) -> list[str]:
    return ["vitawin-auth-public", *(app.api_secrets if kind == "api" else app.worker_secrets)]


def container_env(app: App, kind: str) -> list[dict]:
    env = []
    for secret in key_secrets(app, kind):
        variable, key = KEY_FILES[secret]
        env.append({"name": variable, "value": f"/run/secrets/{secret.removeprefix('vitawin-')}/{key}"})
    if app.service != "gateway":
        env.append({"name": "MONGODB_URI", "valueFrom": {"secretKeyRef": {"name": "vitawin-mongodb", "key": "uri"}}})
    for variable, (secret, key) in app.env_secrets.items():
        env.append({"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    if kind in app.smtp:
        for variable, key in (("SMTP_USERNAME", "username"), ("SMTP_PASSWORD", "password")):
            env.append({"name": variable, "valueFrom": {"secretKeyRef": {"name": "vitawin-smtp", "key": key,
                                                                         "optional": True}}})
    if kind == "api":
        env += [{"name": "BIND", "value": f"0.0.0.0:{app.api_port}"},
                {"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/tmp/prometheus-multiproc"},
                {"name": "WEB_CONCURRENCY", "value": "2"},
                {"name": "GUNICORN_THREADS", "value": "4"}]
    else:
        env += [{"name": "METRICS_HOST", "value": "0.0.0.0"},
                {"name": "METRICS_PORT", "value": str(app.worker_port)}]
    return env


def probe(path: str, port: str, period: int, failures: int) -> dict:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 3,
            "failureThreshold": failures}


def deployment(app: App, kind: str) -> dict:
    name = app.api if kind == "api" else app.worker
    port_name = "http" if kind == "api" else "metrics"
    port = app.api_port if kind == "api" else app.worker_port
    if kind == "api":
        entry = "vitawin_gateway.app:create_app()" if app.service == "gateway" else f"{app.package}.api:create_app()"
        command = ["gunicorn", "-c", "python:vitawin_common.gunicorn_conf", entry]
    else:
        command = ["python", "-m", f"{app.package}.worker"]
    secrets = key_secrets(app, kind)
    volumes = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    for secret in secrets:
        volume, mount = secret_volume(secret)
        volumes.append(volume)
        mounts.append(mount)
    resources = API_RESOURCES if kind == "api" else WORKER_RESOURCES
    if kind == "worker" and app.worker_memory:
        resources = Resources(resources.cpu, app.worker_memory, resources.cpu_limit,
                              f"{2 * int(app.worker_memory.removesuffix('Gi'))}Gi")
    config_maps = ["vitawin-common", f"vitawin-{app.service}"]
    spec: dict = {
        "revisionHistoryLimit": 5,
        "selector": selector(name),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": labels(name, app, kind)},
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                # a worker finishes the event in hand and commits on SIGTERM
                "terminationGracePeriodSeconds": 30,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                    "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                               "whenUnsatisfiable": "ScheduleAnyway",
                                               "labelSelector": selector(name)}],
                "containers": [{
                    "name": kind,
                    "image": IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "command": command,
                    "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
                    "envFrom": [{"configMapRef": {"name": cm}} for cm in config_maps],
                    "env": container_env(app, kind),
                    "resources": resources.spec(),
                    # the worker loads what it needs before it is ready (matching: its whole index)
                    "startupProbe": probe("/healthz", port_name, 5, 60 if kind == "worker" else 24),
                    "livenessProbe": probe("/healthz", port_name, 10, 3),
                    "readinessProbe": probe("/readyz", port_name, 5, 3),
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": mounts,
                }],
                "volumes": volumes,
            },
        },
    }
    if kind == "worker" and not app.consumers:
        spec = {"replicas": app.worker_replicas, **spec}  # nobody else sets it
    # Otherwise the HorizontalPodAutoscaler (API) or KEDA (worker) sets the replicas: a `replicas`
    # here would undo their choice at each apply.
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, app, kind), "spec": spec}


def service(app: App, kind: str, headless: bool) -> dict:
    name = app.api if kind == "api" else app.worker
    port_name = "http" if kind == "api" else "metrics"
    port = app.api_port if kind == "api" else app.worker_port
    spec = {"selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}]}
    if headless:  # DNS answers every ready pod: Prometheus scrapes each (deploy/prometheus)
        spec = {"clusterIP": "None", **spec}
    else:
        spec = {"type": "ClusterIP", **spec}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": meta(f"{name}-metrics" if headless else name, app, kind), "spec": spec}


def pdb(app: App, kind: str) -> dict:
    name = app.api if kind == "api" else app.worker
    # APIs keep one pod serving through a node drain; a worker may stop (its partitions move)
    budget = {"minAvailable": 1} if kind == "api" else {"maxUnavailable": 1}
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(name, app, kind),
            "spec": {**budget, "selector": selector(name)}}


def hpa(app: App) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(app.api, app, "api"),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app.api},
                     "minReplicas": app.api_min, "maxReplicas": app.api_max,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                                                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}}


def partitions(topic: str) -> int:
    """The partitions of `topic`, as its contract says (contracts/*asyncapi.yaml: internal and
    partners' topics)."""
    by_address = {}
    for contract in sorted((HERE.parents[1] / "contracts").glob("*asyncapi.yaml")):
        for channel in yaml.safe_load(contract.read_text(encoding="utf-8"))["channels"].values():
            by_address[channel["address"]] = int(channel["x-partitions"])
    return by_address[topic]


def scaled_object(app: App) -> dict:
    """KEDA scales the worker on the lag of its groups: one trigger per consumed topic (KEDA takes
    the largest wish), never past the partitions of the largest topic (a consumer more would idle),
    never under one (the outbox relay and the timers run in the worker)."""
    topics = [(consumer.group, topic) for consumer in app.consumers for topic in consumer.topics]
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": meta(app.worker, app, "worker"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app.worker},
                "pollingInterval": 30,
                "cooldownPeriod": 300,
                "minReplicaCount": 1,
                "maxReplicaCount": max(partitions(topic) for _, topic in topics),
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]}}}},
                "triggers": [{"type": "kafka", "name": f"{group}-{topic.replace('.', '-')}", "metadata": {
                    "bootstrapServers": KAFKA, "consumerGroup": group, "topic": topic,
                    "lagThreshold": "100", "activationLagThreshold": "0", "offsetResetPolicy": "earliest",
                    "allowIdleConsumers": "false"}} for group, topic in topics],
            }}


def config_maps() -> list[dict]:
    common = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "vitawin-common", "namespace": NAMESPACE,
                           "labels": {"app.kubernetes.io/part-of": "vitawin"}},
              "data": dict(COMMON_CONFIG)}
    return [common] + [{"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"vitawin-{app.service}", "namespace": NAMESPACE,
                                     "labels": {"app.kubernetes.io/part-of": "vitawin", "vitawin.fr/service": app.service}},
                        "data": dict(app.config)} for app in APPS]


def app_objects(app: App) -> list[dict]:
    objects = [deployment(app, "api"), service(app, "api", headless=False), service(app, "api", headless=True),
               pdb(app, "api"), hpa(app)]
    if app.worker_port is not None:
        objects += [deployment(app, "worker"), service(app, "worker", headless=True), pdb(app, "worker")]
        if app.consumers:
            objects.append(scaled_object(app))
    return objects


def files() -> dict[str, str]:
    """File name -> content of every manifest."""
    def dump(objects: list[dict]) -> str:
        return HEADER + "".join("---\n" + yaml.safe_dump(o, sort_keys=False, allow_unicode=True, width=120)
                                for o in objects)
    out = {"namespace.yaml": dump([{"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "vitawin"}}}]),
           "config.yaml": dump(config_maps())}
    for app in APPS:
        out[f"{app.service}.yaml"] = dump(app_objects(app))
    out["kustomization.yaml"] = HEADER + yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": NAMESPACE,
        "resources": list(out),
        "images": [{"name": IMAGE.split(":")[0], "newTag": IMAGE.split(":")[1]}]}, sort_keys=False)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the files are up to date")
    args = parser.parse_args()
    stale = [name for name, text in files().items()
             if not (HERE / name).is_file() or (HERE / name).read_text(encoding="utf-8") != text]
    if args.check:
        for name in stale:
            print(f"deploy/k8s/{name} differs from render.py's table", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files().items():
        (HERE / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files())} files in {HERE} ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
