"""docker-compose.yml and deploy/docker/Dockerfile describe a stack that can run, checked without a
Docker engine: the services that must be there are there, they agree on the broker and the
database, each command names a module that exists, every setting the code needs is given, and the
Kafka topics are those of the contract.

Topics: the broker's automatic topic creation is off, so that the partitions are the contract's
(`x-partitions` in contracts/asyncapi.yaml). Each worker creates the missing topics at start with
vitawin_common.kafka.ensure_topics, before it produces or consumes; the tests below check that the
workers call it and that it creates every channel with its partitions."""
from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from vitawin_common.config import Settings
from vitawin_common.contracts import Contracts

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
SERVICES = ("actors", "requests", "matching", "notify", "accounts", "webhooks")
API_PORTS = {"actors": 8081, "requests": 8082, "matching": 8083, "notify": 8084, "accounts": 8085, "webhooks": 8086,
             "gateway": 8080}
WORKER_PORTS = {"actors": 9181, "requests": 9182, "matching": 9183, "notify": 9184, "accounts": 9185, "webhooks": 9186}
APP_SERVICES = [f"{s}-{kind}" for s in SERVICES for kind in ("api", "worker")] + ["gateway"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(part) for part in cmd]


def dockerfile_env() -> dict[str, str]:
    """ENV KEY=VALUE pairs of the Dockerfile (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = {}
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line):
                result[key] = value
    return result


def image(service: dict) -> str:
    return service.get("image", "")


# --- what is there ---------------------------------------------------------------------------

def test_the_file_parses(compose):
    assert isinstance(compose, dict) and isinstance(compose.get("services"), dict)


def test_the_stack_has_kafka_mongodb_a_mail_catcher_the_gateway_and_an_api_and_worker_per_service(services):
    assert image(services["kafka"]) == "apache/kafka:3.9.0"
    assert image(services["mongo"]) == "mongo:7"
    assert image(services["mailpit"]).startswith("axllent/mailpit")
    for name in APP_SERVICES:
        assert name in services, f"{name} missing"
        build = services[name].get("build")
        assert build and build["dockerfile"] == "deploy/docker/Dockerfile" and build["context"] == "."


def test_kafka_runs_in_kraft_mode_with_consistent_listeners(services):
    env = environment(services["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    listeners = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", env["KAFKA_LISTENERS"]))
    advertised = dict(re.findall(r"(\w+)://([^,]+)", env["KAFKA_ADVERTISED_LISTENERS"]))
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners and controller not in advertised
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:{listeners[controller]}"
    protocols = dict(pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols)
    assert advertised == {"PLAINTEXT": "kafka:9092"}, "clients on the compose network reach kafka:9092"
    assert listeners["PLAINTEXT"] == "9092"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1", "single node"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "KRaft needs a base64 UUID"


def test_mongodb_is_a_single_node_replica_set_initiated_by_its_healthcheck(services):
    mongo = services["mongo"]
    cmd = command(mongo)
    assert cmd[cmd.index("--replSet") + 1] == "rs0"
    check = " ".join(map(str, mongo["healthcheck"]["test"]))
    assert "rs.initiate" in check and "rs0" in check and "mongo:27017" in check
    for name in APP_SERVICES:
        if name != "gateway":
            assert services[name]["depends_on"]["mongo"]["condition"] == "service_healthy", name
            assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy", name


def test_only_the_gateway_the_mail_ui_and_prometheus_are_published_and_only_on_loopback(services):
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert set(published) == {"gateway", "mailpit", "prometheus"}
    assert published["gateway"] == ["127.0.0.1:8080:8080"]
    assert published["prometheus"] == ["127.0.0.1:9090:9090"]
    for ports in published.values():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), port


def test_every_service_api_and_worker_scales_with_no_fixed_name_or_host_port(services):
    for name in SERVICES:
        for kind in ("api", "worker"):
            service = services[f"{name}-{kind}"]
            assert "container_name" not in service and "ports" not in service, f"{name}-{kind} cannot --scale"
            assert "scale" not in service and "replicas" not in (service.get("deploy") or {})


def test_every_api_runs_under_gunicorn_and_every_worker_as_its_module(services):
    for name in SERVICES:
        assert command(services[f"{name}-api"])[0] == "gunicorn"
        assert command(services[f"{name}-worker"]) == ["python", "-m", f"vitawin_{name}.worker"]


# --- Prometheus ------------------------------------------------------------------------------

def test_prometheus_loads_the_projects_scrape_config_and_alert_rules(services):
    prometheus = services["prometheus"]
    assert image(prometheus).startswith("prom/prometheus:v2.")
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command(prometheus)
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    for rules in config["rule_files"]:
        assert (ROOT / "deploy" / "prometheus" / rules).is_file(), rules


def test_prometheus_scrapes_every_replica_of_every_api_and_worker_on_its_port(services):
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    scraped = {}
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            assert sd["type"] == "A", "an A query answers every replica of a compose service"
            for dns_name in sd["names"]:
                scraped[dns_name] = (job["job_name"], sd["port"])
    for name in APP_SERVICES:
        env = environment(services[name])
        port = int(env["BIND"].rsplit(":", 1)[1]) if "BIND" in env else int(env["METRICS_PORT"])
        kind = "worker" if name.endswith("-worker") else "api"
        assert scraped.get(name) == (f"vitawin-{kind}", port), f"{name} is not scraped on {port}"
        if kind == "worker":
            assert env["METRICS_HOST"] == "0.0.0.0", "reachable by Prometheus"


# --- settings --------------------------------------------------------------------------------

def test_every_app_service_agrees_on_the_broker_and_the_database(services):
    bootstrap = {environment(services[name]).get("KAFKA_BOOTSTRAP_SERVERS") for name in APP_SERVICES}
    uris = {environment(services[name]).get("MONGODB_URI") for name in APP_SERVICES}
    assert bootstrap == {"kafka:9092"}
    assert uris == {"mongodb://mongo:27017/?replicaSet=rs0"}


def test_each_service_has_its_database_ports_and_metrics_settings(services):
    for name in SERVICES:
        api, worker = environment(services[f"{name}-api"]), environment(services[f"{name}-worker"])
        assert api["MONGODB_DATABASE"] == worker["MONGODB_DATABASE"] == f"vitawin_{name}"
        assert api["BIND"] == f"0.0.0.0:{API_PORTS[name]}"
        assert api.get("PROMETHEUS_MULTIPROC_DIR"), "gunicorn workers share metrics through files"
        assert worker["METRICS_PORT"] == str(WORKER_PORTS[name])
        assert "PROMETHEUS_MULTIPROC_DIR" not in worker, "a worker is one process"
    gateway = environment(services["gateway"])
    assert gateway["BIND"] == "0.0.0.0:8080" and gateway.get("PROMETHEUS_MULTIPROC_DIR")
    for variable, service in (("ACTORS_URL", "actors"), ("REQUESTS_URL", "requests"),
                              ("MATCHING_URL", "matching"), ("NOTIFY_URL", "notify"), ("ACCOUNTS_URL", "accounts"),
                              ("WEBHOOKS_URL", "webhooks")):
        assert gateway[variable] == f"http://{service}-api:{API_PORTS[service]}"
    for kind in ("api", "worker"):
        notify = environment(services[f"notify-{kind}"])
        assert notify["SMTP_HOST"] == "mailpit" and notify["SMTP_PORT"] == "1025"
    accounts = environment(services["accounts-api"])  # it emails the sign-in links
    assert accounts["SMTP_HOST"] == "mailpit" and accounts["SMTP_PORT"] == "1025"


def test_only_the_accounts_api_holds_the_token_signing_key(services):
    holders = sorted(name for name, service in services.items() if "auth_private_key" in (service.get("secrets") or [])
                     or "AUTH_PRIVATE_KEY_FILE" in environment(service))
    assert holders == ["accounts-api"]


ENV_READ = re.compile(
    r"""(?:\bos\.environ\s*(?:\.get\s*\(|\[)|\bos\.getenv\s*\(|\benv\s*(?:\.get\s*\(|\[))\s*
        ["'](?P<name>[A-Z][A-Z0-9_]*)["']\s*(?P<next>[,)\]])""", re.VERBOSE)


def env_reads(folder: Path) -> dict[str, bool]:
    """Names of environment variables read by the Python source under `folder` -> whether every
    read of it has a default. `env.get(...)` counts only in files that alias os.environ (a WSGI
    `environ` is not the process environment)."""
    reads: dict[str, bool] = {}
    for path in folder.rglob("*.py"):
        if "build" in path.parts or ".egg-info" in str(path):
            continue
        text = path.read_text(encoding="utf-8")
        aliases_environ = re.search(r"\benv\s*=\s*os\.environ\b", text) is not None
        for match in ENV_READ.finditer(text):
            if re.match(r"env\b", match.group(0)) and not aliases_environ:
                continue
            has_default = match.group("next") == ","
            reads[match.group("name")] = reads.get(match.group("name"), True) and has_default
    return reads


def test_the_environment_scan_sees_reads_with_and_without_default(tmp_path):
    (tmp_path / "a.py").write_text('import os\nA = os.environ["NEEDED"]\nB = os.environ.get("OPTIONAL", "x")\n'
                                   'C = os.getenv("MAYBE")\ndef f(env=os.environ):\n    return env.get("ALIASED")\n')
    (tmp_path / "b.py").write_text('env = {}\nD = env.get("NOT_THE_ENVIRONMENT")\nE = os.environ.get("OPTIONAL")\n'
                                   'def app(environ, start):\n    return environ["PATH_INFO"]\n')
    assert env_reads(tmp_path) == {"NEEDED": False, "OPTIONAL": False, "MAYBE": False, "ALIASED": False}


def test_every_variable_the_code_reads_without_default_is_set(services):
    image_env = dockerfile_env()

    def given(name: str, compose_services) -> bool:
        return name in image_env or any(name in environment(services[s]) for s in compose_services)

    # Only the gateway reads the upstream URLs and only the gunicorn ones PROMETHEUS_MULTIPROC_DIR,
    # so common's reads are checked against the app services as a whole.
    missing = [f"common: {name}" for name, has_default in env_reads(ROOT / "common").items()
               if not has_default and not given(name, APP_SERVICES)]
    for name in (*SERVICES, "gateway"):
        source = ROOT / "services" / name
        assert source.is_dir(), f"services/{name} is missing"
        targets = ["gateway"] if name == "gateway" else [f"{name}-api", f"{name}-worker"]
        missing += [f"{name}: {var}" for var, has_default in env_reads(source).items()
                    if not has_default and not given(var, targets)]
    assert not missing, f"read by the code without default, set nowhere: {missing}"


def test_the_image_installs_every_service_the_stack_runs():
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    install = next(line for line in text.splitlines() if "pip install -c" in line)
    installed = set(re.findall(r"\./services/([a-z]+)", install))
    assert installed == {*SERVICES, "gateway"} == {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}


def test_the_image_points_the_code_at_the_contracts_and_territory_it_copies():
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = [line.split() for line in text.splitlines() if line.startswith("FROM")]
    assert stages[-1][1] == "python:3.11-slim", "the image that runs is Python 3.11"
    for folder in ("common/", "contracts/", "territories/", "services/", "web/"):
        assert re.search(rf"^COPY\s+{folder}\s", text, re.M), f"{folder} not copied"
    # the front-end libraries come from the lock file through npm ci, in a stage of their own
    assert re.search(r"^RUN npm ci\b", text, re.M) and "web/package-lock.json" in text
    assert dockerfile_env()["WEB_VENDOR_DIR"] == "/app/web/node_modules"
    assert "requirements.lock" in text and "-c " in text, "installs with the lock as constraints"
    env = dockerfile_env()
    assert env["CONTRACTS_DIR"] == "/app/contracts"
    assert (ROOT / env["TERRITORY_FILE"].replace("/app/", "", 1)).is_file()


# --- commands name modules that exist ---------------------------------------------------------

def _module_of(service: dict) -> tuple[str, str]:
    """(module, attribute) run by a compose service: gunicorn 'module:factory()' or python -m."""
    cmd = command(service)
    if cmd[0] == "gunicorn":
        assert cmd[cmd.index("-c") + 1] == "python:vitawin_common.gunicorn_conf"
        module, factory = cmd[-1].split(":")
        assert factory.endswith("()"), "a factory call: one app per gunicorn worker"
        return module, factory[:-2]
    assert cmd[:2] == ["python", "-m"], cmd
    return cmd[2], "main"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_command_names_a_module_that_exists(services, name):
    module, attribute = _module_of(services[name])
    expected_package = "vitawin_" + name.rsplit("-", 1)[0]
    assert module.split(".")[0] == expected_package
    assert module.endswith(".worker") if name.endswith("-worker") else module.endswith((".api", ".app"))
    assert importlib.util.find_spec(expected_package) is not None, f"{expected_package} is not installed"
    assert importlib.util.find_spec(module) is not None, f"{module} does not exist"
    assert callable(getattr(importlib.import_module(module), attribute, None)), f"{module}.{attribute}"
    # gunicorn_conf reads BIND: the port of the command is the one the healthcheck asks.
    check = " ".join(services[name]["healthcheck"]["test"])
    port = environment(services[name]).get("BIND", "").rsplit(":", 1)[-1] or environment(services[name])["METRICS_PORT"]
    assert f"127.0.0.1:{port}/healthz" in check


# --- Kafka topics -----------------------------------------------------------------------------

def test_automatic_topic_creation_is_off_so_the_contract_sets_partitions(services):
    assert environment(services["kafka"])["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"


@pytest.mark.parametrize("name", SERVICES)
def test_every_worker_creates_the_topics_at_start(name):
    source = ROOT / "services" / name / f"vitawin_{name}" / "worker.py"
    assert source.is_file(), f"{source} missing"
    assert re.search(r"\bensure_topics\s*\(", source.read_text(encoding="utf-8")), \
        f"{name} worker does not create the topics, and the broker will not"


def test_ensure_topics_creates_every_channel_of_the_contract_with_its_partitions(monkeypatch):
    from vitawin_common import kafka

    created: list = []

    class FakeAdmin:
        def __init__(self, **kwargs):
            assert kwargs["bootstrap_servers"] == "kafka:9092"

        def list_topics(self):
            return ["__consumer_offsets"]

        def create_topics(self, topics):
            created.extend(topics)

        def close(self):
            pass

    monkeypatch.setattr(kafka, "KafkaAdminClient", FakeAdmin)
    settings = Settings("matching", kafka_bootstrap_servers="kafka:9092", contracts_dir=ROOT / "contracts")
    kafka.ensure_topics(settings)
    channels = Contracts(ROOT / "contracts").channels().values()
    assert {(t.name, t.num_partitions, t.replication_factor) for t in created} == \
        {(c.address, c.partitions, 1) for c in channels}, "single node: replication factor 1"
