"""deploy/kubernetes/: the manifests against the Kubernetes schemas, offline (kubernetes-validate bundles
them), the Helm values against the official Airflow chart's keys, and both against what halo-c1 reads."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from halo_c1.c1.settings import ServiceSettings
from halo_c1.halo.settings import HaloSettings
from tests.fake_c1.creds import make_credentials

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT / "deploy" / "kubernetes"
VALUES = DEPLOY / "values.yaml"
SECRET_TEMPLATE = DEPLOY / "secret.template.yaml"
CHART_KEYS_SCHEMA = Path(__file__).with_name("airflow_chart_values.schema.json")
# The oldest Kubernetes the walk-through claims (docs/kubernetes.md) and the newest the validator bundles.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
# What docs/kubernetes.md tells people to export before `envsubst < secret.template.yaml`.
TEMPLATE_VARIABLES = {
    "HALO_HOST",
    "HALO_TENANT",
    "HALO_CLIENT_ID",
    "HALO_CLIENT_SECRET",
    "C1_CLIENT_ID",
    "C1_CLIENT_SECRET",
}
GIB = 1024**3


def _render_secret() -> dict[str, Any]:
    """The Secret as `envsubst` renders it with plausible values (a real C1 key pair, made for the test)."""
    creds = make_credentials(host="acme.conductor.one")
    values = {
        "HALO_HOST": "https://acme.haloitsm.com",
        "HALO_TENANT": "acme",
        "HALO_CLIENT_ID": "0f6c2b1e-5d7a-4c1e-9b8e-2a4f7d3c9e10",
        "HALO_CLIENT_SECRET": "d3b07384-d9a0-4c9b-8f7e-1a2b3c4d5e6f-halo",
        "C1_CLIENT_ID": creds.client_id,
        "C1_CLIENT_SECRET": creds.client_secret,
    }
    return yaml.safe_load(Template(SECRET_TEMPLATE.read_text()).substitute(values))


def _manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object of deploy/kubernetes/ (the Helm values are not one), templates rendered,
    keyed `<file>#<n>`."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path == VALUES:
            continue
        text = path.read_text()
        if path == SECRET_TEMPLATE:
            text = yaml.safe_dump(_render_secret())
        for index, doc in enumerate(yaml.safe_load_all(text)):
            docs[f"{path.name}#{index}"] = doc
    return docs


def _quantity_bytes(text: str) -> float:
    """A Kubernetes memory or storage quantity (`3Gi`, `1536Mi`, `4G`) in bytes."""
    units = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "K": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "": 1,
    }
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]i?|)", str(text)).groups()
    return float(number) * units[unit]


def _scale_benchmark() -> tuple[float, float]:
    """From bench/README.md "Scale": the largest stage peak RSS (GiB) and the c1z's decoded size (bytes)."""
    text = (PROJECT / "bench" / "README.md").read_text()
    section = text[text.index("## Scale") :]
    table = section[section.index("peak RSS (VmHWM)") :].split("\n\n")[0]
    peaks = [float(value) for value in re.findall(r"\|\s*\**([\d.]+) GiB\**[^|]*\|\s*$", table, re.M)]
    decoded = int(re.search(r"([\d,]+) bytes decoded", section).group(1).replace(",", ""))
    assert len(peaks) >= 5, f"expected a peak RSS per stage in bench/README.md's scale table, found {peaks}"
    return max(peaks), decoded


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(version: str) -> None:
    manifests = _manifests()
    assert {doc["kind"] for doc in manifests.values()} == {
        "Namespace",
        "Secret",
        "Deployment",
        "Service",
        "NetworkPolicy",
    }
    for name, doc in manifests.items():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"deploy/kubernetes/{name} is not a valid {doc.get('kind')} for Kubernetes {version}: {error}"
            )


def test_the_validator_rejects_a_misspelt_field() -> None:
    """The check above has teeth: strict validation refuses a field Kubernetes does not define."""
    secret = _render_secret()
    secret["stringdata"] = secret.pop("stringData")
    with pytest.raises(kubernetes_validate.ValidationError, match="stringdata"):
        kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)


def test_every_object_lives_in_the_namespace() -> None:
    namespace = yaml.safe_load((DEPLOY / "namespace.yaml").read_text())["metadata"]["name"]
    for name, doc in _manifests().items():
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, f"{name} is not in namespace {namespace}"


def test_the_request_budget_is_shared_through_the_namespaces_redis() -> None:
    """Task pods run on many hosts: the HaloITSM connection's `rate_limit_store` names the Redis Service
    of rate-limit-redis.yaml (host and port), so every pod draws from one budget."""
    from airflow.models.connection import Connection

    data = _render_secret()["stringData"]
    halo = Connection.from_json(data["AIRFLOW_CONN_HALOITSM_DEFAULT"], conn_id="haloitsm_default")
    store = urlsplit(halo.extra_dejson["rate_limit_store"])
    services = [doc for doc in _manifests().values() if doc["kind"] == "Service"]
    ports = {(s["metadata"]["name"], p["port"]) for s in services for p in s["spec"]["ports"]}
    assert store.scheme == "redis" and (store.hostname, store.port) in ports, (
        f"rate_limit_store {store.geturl()} is not a Service of deploy/kubernetes/: {sorted(ports)}"
    )
    selectors = [s["spec"]["selector"] for s in services if s["metadata"]["name"] == store.hostname]
    deployments = [doc for doc in _manifests().values() if doc["kind"] == "Deployment"]
    assert any(
        d["spec"]["template"]["metadata"]["labels"].items() >= selectors[0].items() for d in deployments
    )


def test_secret_uses_only_the_documented_variables() -> None:
    used = {
        match[1] or match[2]
        for match in Template.pattern.findall(SECRET_TEMPLATE.read_text())
        if match[1] or match[2]
    }
    assert used == TEMPLATE_VARIABLES, (
        f"secret.template.yaml uses {sorted(used)}; docs/kubernetes.md exports {sorted(TEMPLATE_VARIABLES)}"
    )
    page = (PROJECT / "docs" / "kubernetes.md").read_text()
    missing = sorted(name for name in TEMPLATE_VARIABLES if name not in page)
    assert not missing, f"docs/kubernetes.md does not say how to set {missing}"


def test_secret_connections_are_ones_halo_c1_accepts() -> None:
    """The rendered AIRFLOW_CONN_* values parse as Airflow connections and pass halo-c1's own settings checks
    (unknown extra keys, URL and credential formats), exactly as the DAGs will read them."""
    from airflow.models.connection import Connection

    data = _render_secret()["stringData"]
    assert set(data) == {"AIRFLOW_CONN_HALOITSM_DEFAULT", "AIRFLOW_CONN_CONDUCTORONE_DEFAULT"}
    halo = Connection.from_json(data["AIRFLOW_CONN_HALOITSM_DEFAULT"], conn_id="haloitsm_default")
    settings = HaloSettings.from_connection_fields(halo.host, halo.login, halo.password, halo.extra_dejson)
    assert settings.base_url.startswith("https://acme.haloitsm.com") and settings.tenant == "acme"
    c1 = Connection.from_json(data["AIRFLOW_CONN_CONDUCTORONE_DEFAULT"], conn_id="conductorone_default")
    service = ServiceSettings.from_connection_fields(
        login=c1.login, password=c1.password, extra=c1.extra_dejson, env={}
    )
    assert service.api_host == "acme.conductor.one" and service.provisioning is False


def test_helm_values_use_only_keys_the_chart_defines() -> None:
    values = yaml.safe_load(VALUES.read_text())
    schema = json.loads(CHART_KEYS_SCHEMA.read_text())
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(values), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "deploy/kubernetes/values.yaml: " + "; ".join(
        f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}" for e in errors
    )


def test_the_chart_keys_check_has_teeth() -> None:
    values = yaml.safe_load(VALUES.read_text())
    values["triggerer"]["enabeld"] = True
    errors = list(jsonschema.Draft7Validator(json.loads(CHART_KEYS_SCHEMA.read_text())).iter_errors(values))
    assert any("enabeld" in error.message for error in errors)


def test_helm_values_against_the_charts_own_schema() -> None:
    """The whole chart schema, where one is at hand (`helm pull apache-airflow/airflow --untar` gives
    airflow/values.schema.json). It cannot be fetched here: no package registry ships the chart."""
    path = os.environ.get("HALO_C1_AIRFLOW_CHART_SCHEMA")
    if not path:
        pytest.skip("set HALO_C1_AIRFLOW_CHART_SCHEMA to the chart's values.schema.json for the full check")
    values = yaml.safe_load(VALUES.read_text())
    errors = list(jsonschema.Draft7Validator(json.loads(Path(path).read_text())).iter_errors(values))
    assert not errors, "; ".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_helm_values_wire_halo_c1() -> None:
    """What the DAGs need from the deployment: an executor that runs tasks anywhere, the triggerer, the
    pool, the lake and delivery variables, and both connections from the Secret."""
    values = yaml.safe_load(VALUES.read_text())
    assert values["executor"] in {"KubernetesExecutor", "CeleryExecutor"}
    assert values["triggerer"]["enabled"] is True, "c1_connector defers to the triggerer"
    secret = _render_secret()
    mapped = {(item["secretName"], item["secretKey"]): item["envName"] for item in values["secret"]}
    expected = {(secret["metadata"]["name"], key): key for key in secret["stringData"]}
    assert mapped == expected, "every key of the Secret becomes the environment variable of its name"
    env = {item["name"]: item["value"] for item in values["env"]}
    for variable in ("AIRFLOW_VAR_HALO_C1_LAKE_URL", "AIRFLOW_VAR_HALO_C1_DELIVERY_URL"):
        assert env.get(variable), f"{variable} is not set"
    for conn_variable in ("AIRFLOW_VAR_HALO_C1_LAKE_CONN_ID", "AIRFLOW_VAR_HALO_C1_DELIVERY_CONN_ID"):
        conn_id = env.get(conn_variable)
        assert not conn_id or f"AIRFLOW_CONN_{conn_id.upper()}" in env or conn_id.upper() in str(mapped), (
            f"{conn_variable}={conn_id} names a connection the deployment does not define"
        )
    command = shlex.split(values["migrateDatabaseJob"]["args"][-1])
    assert command[:3] == ["airflow", "db", "migrate"]
    pool = command[command.index("pools") :]
    assert pool[:4] == ["pools", "set", "halo_api", "1"], (
        f"the halo_api pool (1 slot) is not created: {command}"
    )


def test_task_pods_are_sized_for_the_largest_measured_tenant() -> None:
    """Worker memory covers the scale benchmark's largest stage peak with headroom for the task runner;
    its temporary disk holds the c1z's SQLite build a few times over (bench/README.md "Scale")."""
    peak_gib, decoded = _scale_benchmark()
    resources = yaml.safe_load(VALUES.read_text())["workers"]["resources"]
    assert _quantity_bytes(resources["requests"]["memory"]) >= peak_gib * GIB
    assert _quantity_bytes(resources["limits"]["memory"]) >= 1.25 * peak_gib * GIB
    assert _quantity_bytes(resources["requests"]["ephemeral-storage"]) >= 3 * decoded
    assert _quantity_bytes(resources["limits"]["ephemeral-storage"]) >= _quantity_bytes(
        resources["requests"]["ephemeral-storage"]
    )
