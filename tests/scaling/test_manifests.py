"""deploy/: every Kubernetes manifest parses and hangs together (no cluster needed).

Checks what a typo would silently break on a cluster: selectors that match no pods,
Service ports that lead nowhere, probes on undeclared ports, an autoscaler aimed at
the wrong Deployment, Locust workers looking for a master Service that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from loadtests.catalog import SCENARIOS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
EXPECTED_KINDS = {
    "target.yaml": ["Deployment", "Service", "HorizontalPodAutoscaler"],
    "locust.yaml": ["Deployment", "Service", "Deployment"],
}
API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}


def _load(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def _all_docs() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in _load(path)]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _all_docs() if doc["kind"] == kind]


def _named(kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in _of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} named {name}, found {len(found)}"
    return found[0]


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return deployment["spec"]["template"]["spec"]["containers"]


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _ports(container: dict[str, Any]) -> list[dict[str, Any]]:
    return container.get("ports", [])


def _port_refers(ref: int | str, container_ports: list[dict[str, Any]]) -> bool:
    """A probe or Service targetPort: a declared port's number or name."""
    if isinstance(ref, int):
        return any(p["containerPort"] == ref for p in container_ports)
    return any(p.get("name") == ref for p in container_ports)


def _resolve_port(ref: int | str, container_ports: list[dict[str, Any]]) -> int:
    for p in container_ports:
        if ref in (p["containerPort"], p.get("name")):
            return int(p["containerPort"])
    raise AssertionError(f"port {ref!r} is not declared")


def _flag(command: list[str], name: str) -> str:
    """The value of ``--name=value`` or ``--name value`` in a container command."""
    for i, arg in enumerate(command):
        if arg == name:
            return command[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} missing from {command}")


def _probes(container: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        if kind in container:
            yield kind, container[kind]


# --- every file ---------------------------------------------------------------------------


def test_manifests_exist() -> None:
    assert [p.name for p in MANIFESTS] == sorted(EXPECTED_KINDS)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_kinds_api_versions_and_names(path: Path) -> None:
    docs = _load(path)
    assert [d["kind"] for d in docs] == EXPECTED_KINDS[path.name]
    for doc in docs:
        assert doc["apiVersion"] == API_VERSIONS[doc["kind"]], doc["metadata"]
        name = doc["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63


def test_names_are_unique_per_kind() -> None:
    keys = [(d["kind"], d["metadata"]["name"]) for d in _all_docs()]
    assert len(keys) == len(set(keys)), keys


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in MANIFESTS]
    images = {c["image"].split(":")[0] for d in _of_kind("Deployment") for c in _containers(d)}
    assert images == {img["name"] for img in kustomization["images"]}


# --- Deployments and pods -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["flask-bench-target", "locust-master", "locust-worker"])
def test_deployment_selector_matches_its_pod_labels(name: str) -> None:
    deployment = _named("Deployment", name)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert _selects(selector, _pod_labels(deployment))
    # no other Deployment's pods fall under this selector (they would fight over pods)
    others = [d for d in _of_kind("Deployment") if d["metadata"]["name"] != name]
    assert not [d["metadata"]["name"] for d in others if _selects(selector, _pod_labels(d))]


def test_every_probe_points_at_a_declared_port() -> None:
    checked = 0
    for deployment in _of_kind("Deployment"):
        for container in _containers(deployment):
            for kind, probe in _probes(container):
                action = probe.get("httpGet") or probe.get("tcpSocket")
                if action is None:
                    assert "exec" in probe or "grpc" in probe, (container["name"], kind)
                    continue
                assert _port_refers(action["port"], _ports(container)), (
                    f"{deployment['metadata']['name']}/{container['name']} {kind}: "
                    f"port {action['port']!r} is not a containerPort"
                )
                checked += 1
    assert checked >= 4


def test_every_container_has_resources_and_runs_unprivileged() -> None:
    for deployment in _of_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_container_port_names_are_valid_and_unique() -> None:
    for deployment in _of_kind("Deployment"):
        names = [p["name"] for c in _containers(deployment) for p in _ports(c)]
        assert len(names) == len(set(names))
        assert all(re.fullmatch(r"[a-z0-9-]{1,15}", n) for n in names)


# --- Services -----------------------------------------------------------------------------


def _selected_deployment(service: dict[str, Any]) -> dict[str, Any]:
    selector = service["spec"]["selector"]
    matches = [d for d in _of_kind("Deployment") if _selects(selector, _pod_labels(d))]
    assert len(matches) == 1, (
        f"Service {service['metadata']['name']} selects {len(matches)} Deployments' pods"
    )
    return matches[0]


@pytest.mark.parametrize(
    ("service", "deployment"),
    [("flask-bench-target", "flask-bench-target"), ("locust-master", "locust-master")],
)
def test_service_selects_its_deployment_and_targets_container_ports(
    service: str, deployment: str
) -> None:
    svc = _named("Service", service)
    assert _selected_deployment(svc)["metadata"]["name"] == deployment
    container_ports = [p for c in _containers(_named("Deployment", deployment)) for p in _ports(c)]
    for port in svc["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        assert _port_refers(target, container_ports), f"{service}: targetPort {target!r}"
    names = [p["name"] for p in svc["spec"]["ports"]]
    assert len(names) == len(set(names))


def test_every_service_selects_exactly_one_deployment() -> None:
    for service in _of_kind("Service"):
        _selected_deployment(service)


# --- the target ---------------------------------------------------------------------------


def test_target_serves_a_reference_app_on_its_declared_port() -> None:
    target = _named("Deployment", "flask-bench-target")
    container = next(c for c in _containers(target) if c["name"] == "target")
    command = container["command"]
    assert command[0] == "gunicorn"
    bind_port = int(_flag(command, "--bind").rsplit(":", 1)[1])
    assert bind_port == _resolve_port("http", _ports(container))
    app = command[-1]
    module = re.fullmatch(r"(targets\.\w+):create_app\(\)", app)
    assert module, app
    assert (REPO / (module.group(1).replace(".", "/") + ".py")).is_file()
    for kind, probe in _probes(container):
        assert probe["httpGet"]["path"] == "/healthz", kind


def test_target_finds_its_upstream_sidecar() -> None:
    target = _named("Deployment", "flask-bench-target")
    containers = {c["name"]: c for c in _containers(target)}
    env = {e["name"]: e for e in containers["target"]["env"]}
    upstream_port = int(_flag(containers["upstream"]["command"], "--port"))
    assert env["FLASK_UPSTREAM_URL"]["value"] == f"http://127.0.0.1:{upstream_port}"
    assert _port_refers(upstream_port, _ports(containers["upstream"]))
    # every replica signs sessions with one key
    assert env["FLASK_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"]


def test_hpa_scales_the_target_deployment_on_cpu() -> None:
    hpa = _named("HorizontalPodAutoscaler", "flask-bench-target")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
    deployment = _named("Deployment", ref["name"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    metrics = [m["resource"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
    assert any(
        m["name"] == "cpu"
        and m["target"]["type"] == "Utilization"
        and 0 < m["target"]["averageUtilization"] <= 100
        for m in metrics
    )
    # CPU utilization is relative to requests: every container of the pod needs one
    for container in _containers(deployment):
        assert "cpu" in container["resources"]["requests"], container["name"]


# --- Locust -------------------------------------------------------------------------------


def _locust_command(name: str) -> list[str]:
    (container,) = _containers(_named("Deployment", name))
    command = container["command"]
    assert command[0] == "locust"
    return command


@pytest.mark.parametrize("name", ["locust-master", "locust-worker"])
def test_locust_runs_the_browse_scenario_with_the_recorder(name: str) -> None:
    command = _locust_command(name)
    scenario = SCENARIOS["browse"]
    locustfile = _flag(command, "-f")
    assert locustfile == f"loadtests/{scenario.locustfile}"
    assert (REPO / locustfile).is_file()
    assert [c for c in command if c in scenario.user_classes] == list(scenario.user_classes)
    # the recorder is part of the image: loadtests/ is copied whole
    assert "COPY loadtests/ loadtests/" in (DEPLOY / "Dockerfile").read_text()
    (container,) = _containers(_named("Deployment", name))
    assert container["workingDir"] == "/app"


def test_locust_workers_find_the_master_service() -> None:
    master_cmd = _locust_command("locust-master")
    worker_cmd = _locust_command("locust-worker")
    assert "--master" in master_cmd and "--worker" in worker_cmd
    service = _named("Service", _flag(worker_cmd, "--master-host"))
    assert _selected_deployment(service)["metadata"]["name"] == "locust-master"
    (master,) = _containers(_named("Deployment", "locust-master"))
    bind_port = int(_flag(master_cmd, "--master-bind-port"))
    assert _flag(master_cmd, "--master-bind-host") == "0.0.0.0"
    worker_port = int(_flag(worker_cmd, "--master-port"))
    by_port = {p["port"]: p for p in service["spec"]["ports"]}
    assert worker_port in by_port
    assert _resolve_port(by_port[worker_port]["targetPort"], _ports(master)) == bind_port


def test_locust_web_ui_port_is_exposed() -> None:
    master_cmd = _locust_command("locust-master")
    (master,) = _containers(_named("Deployment", "locust-master"))
    web_port = int(_flag(master_cmd, "--web-port"))
    assert _resolve_port("web", _ports(master)) == web_port
    service = _named("Service", "locust-master")
    assert web_port in {p["port"] for p in service["spec"]["ports"]}
    assert {5557, 8089} <= {p["port"] for p in service["spec"]["ports"]}


def test_locust_master_targets_the_target_service() -> None:
    host = _flag(_locust_command("locust-master"), "--host")
    match = re.fullmatch(r"http://([a-z0-9-]+)(?::(\d+))?", host)
    assert match, host
    service = _named("Service", match.group(1))
    assert int(match.group(2) or 80) in {p["port"] for p in service["spec"]["ports"]}
    assert _flag(_locust_command("locust-master"), "--bench-out").startswith("/")


# --- image and README ---------------------------------------------------------------------


def test_dockerfile_copies_existing_folders() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (\S+)", text, re.MULTILINE)
    assert copied
    for src in copied:
        assert (REPO / src).exists(), src
    assert re.search(r"pip install \.", text)
    assert re.search(r"^USER \d+", text, re.MULTILINE)


def test_readme_explains_build_apply_and_two_machine_runs() -> None:
    text = (DEPLOY / "README.md").read_text()
    for needle in (
        "docker build -f deploy/Dockerfile",
        "kubectl apply",
        "target.yaml",
        "locust.yaml",
        "kubectl create secret generic flask-bench",
        "python bench.py worker --master",
        "--expect-workers",
    ):
        assert needle in text, needle
    secret = _named("Deployment", "flask-bench-target")
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in _containers(secret)
        for e in c.get("env", [])
        if "valueFrom" in e
    }
    assert refs == {"flask-bench"}
