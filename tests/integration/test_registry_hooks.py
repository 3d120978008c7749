"""``POST /hooks/registry`` over real HTTP: each provider's scheme, refusals that queue nothing, replays, and a
flood of 1,000 pushes of two digests scanned by real workers with one Trivy run per digest; the watching
channel hears what a push brings, in the image's latest thread. A verified Harbor push and a verified GitHub
``registry_package`` push go the same way, from the request to the real Trivy scan to the channel."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from rq import Queue

from bot.threads import ThreadState, ThreadStore
from tests.integration.conftest import CHANNEL, run_workers, stored_report
from workers.config import Settings
from workers.digests.store import DigestStore
from workers.scan.store import ReportStore

pytestmark = pytest.mark.integration

SECRETS = {"REGISTRY_HOOK_SECRET": "d-secret", "HARBOR_HOOK_SECRET": "h-secret", "GITHUB_HOOK_SECRET": "g-secret"}
BEARER = {"Authorization": "Bearer d-secret", "Content-Type": "application/json"}


@pytest.fixture
def hook_env(monkeypatch):
    for name, value in {**SECRETS, "ALERT_MIN_SEVERITY": "high"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def hooks(hook_env, web):
    return web.replace("/slack/events", "/hooks/registry")


def envelope(repository: str, tag: str, digest: str, host: str = "127.0.0.1:5000") -> bytes:
    event = {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "action": "push",
        "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "repository": repository,
            "tag": tag,
            "digest": digest,
        },
        "request": {"host": host},
    }
    return json.dumps({"events": [event]}).encode()


def harbor_push(image) -> tuple[bytes, dict]:
    """Harbor's PUSH_ARTIFACT notification of ``image``, with the policy's auth header."""
    namespace, name = image.repository.split("/", 1)
    event = {
        "type": "PUSH_ARTIFACT",
        "occur_at": int(time.time()),
        "operator": "ci",
        "event_data": {
            "resources": [{"digest": image.digest, "tag": image.tag, "resource_url": image.reference}],
            "repository": {"name": name, "namespace": namespace, "repo_full_name": image.repository},
        },
    }
    return json.dumps(event).encode(), {"Authorization": "h-secret", "Content-Type": "application/json"}


def github_push(image) -> tuple[bytes, dict]:
    """GitHub's ``registry_package`` event for ``image`` published to a container registry at its host."""
    namespace, name = image.repository.split("/", 1)
    version = {"name": image.digest, "container_metadata": {"tag": {"name": image.tag, "digest": image.digest}}}
    package = {
        "namespace": namespace,
        "name": name,
        "package_type": "CONTAINER",
        "package_version": version,
        "registry": {"url": f"https://{image.registry}/{namespace}", "type": "CONTAINER"},
    }
    return github_signed({"action": "published", "registry_package": package}, str(uuid.uuid4()))


def github_signed(event: dict, delivery: str) -> tuple[bytes, dict]:
    body = json.dumps(event).encode()
    return body, {
        "X-GitHub-Event": "registry_package",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + hmac.new(b"g-secret", body, hashlib.sha256).hexdigest(),
    }


PUSHES = {"harbor": harbor_push, "github": github_push}


def queued(redis_client) -> int:
    return Queue(Settings.from_env().queue_name, connection=redis_client).count


def test_unverified_and_malformed_hooks_are_refused_and_queue_nothing(hooks, redis_client, test_images):
    DigestStore(redis_client).watch("T1", CHANNEL, ["127.0.0.1:5000/library/mariadb:11.4"], limit=10)
    body = envelope("library/mariadb", "11.4", test_images["library/mariadb:11.4"].digest)
    assert requests.post(hooks, data=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert requests.post(hooks, data=body).status_code == 401
    harbor = {"Authorization": "h-secret"}
    assert requests.post(hooks, data=b"{not json", headers=harbor).status_code == 400
    assert requests.post(hooks, data=b'{"events": [{"action": "push"}]}', headers=BEARER).status_code == 400
    github = {
        "X-GitHub-Event": "registry_package",
        "X-GitHub-Delivery": "x",
        "X-Hub-Signature-256": "sha256=" + "0" * 64,
    }
    assert requests.post(hooks, data=b"{}", headers=github).status_code == 401
    assert queued(redis_client) == 0


def test_a_replayed_delivery_is_refused(hooks, redis_client, test_images):
    DigestStore(redis_client).watch("T1", CHANNEL, ["127.0.0.1:5000/library/mariadb:11.4"], limit=10)
    body = envelope("library/mariadb", "11.4", test_images["library/mariadb:11.4"].digest)
    first = requests.post(hooks, data=body, headers=BEARER)
    assert first.status_code == 202 and first.json()["queued"] == 1
    assert requests.post(hooks, data=body, headers=BEARER).status_code == 409
    package = {"namespace": "o", "name": "a", "package_version": {"name": "sha256:" + "1" * 64}}
    github, signed = github_signed({"action": "published", "registry_package": package}, "delivery-1")
    answer = requests.post(hooks, data=github, headers=signed)
    assert answer.status_code == 202 and answer.json() == {
        "provider": "github",
        "queued": 0,
        "coalesced": 0,
        "ignored": 1,
    }
    assert requests.post(hooks, data=github, headers=signed).status_code == 409  # the same delivery id
    assert queued(redis_client) == 1  # the one scan (its notifier waits for it, deferred)


def test_a_harbor_push_of_an_unwatched_repository_is_not_scanned(hooks, redis_client, test_images):
    body, headers = harbor_push(test_images["library/python:3.12"])
    answer = requests.post(hooks, data=body, headers=headers)
    assert answer.status_code == 202 and answer.json()["ignored"] == 1 and queued(redis_client) == 0


@pytest.mark.parametrize("provider", PUSHES)
def test_a_verified_push_is_scanned_and_the_channel_hears_only_what_reaches_the_alert_severity(
    provider, hooks, slack, redis_client, test_images
):
    serious, clean = test_images["library/mariadb:11.4"], test_images["library/clean:1"]
    DigestStore(redis_client).watch("T1", CHANNEL, [serious.reference, clean.reference], limit=10)
    for n, image in enumerate((serious, clean)):
        thread = ThreadState(CHANNEL, f"170000000{n}.000100", "U1", image.reference)
        ThreadStore(redis_client).remember_latest(thread, image.reference)
        body, headers = PUSHES[provider](image)
        answer = requests.post(hooks, data=body, headers=headers, timeout=10)
        expected = {"provider": provider, "queued": 1, "coalesced": 0, "ignored": 0}
        assert (answer.status_code, answer.json()) == (202, expected)

    run_workers(redis_client)

    assert ReportStore(redis_client).trivy_runs() == 2  # both pushes were scanned
    assert not _has_serious(redis_client, clean)
    severities = [f.severity for f in stored_report(redis_client, "library/mariadb").vulnerabilities]
    at_or_above = sum(s in ("critical", "high") for s in severities)
    assert 0 < at_or_above < len(severities)  # mariadb has findings on both sides of ALERT_MIN_SEVERITY
    [post] = [c.params for c in slack.calls("chat.postMessage") if c.ok]  # the clean push is not told
    assert (post["channel"], post["thread_ts"]) == (CHANNEL, "1700000000.000100")  # in mariadb:11.4's thread
    head, *listed = post["text"].splitlines()
    assert head == (
        f"*A push of {serious.reference}* ({serious.digest[:19]}) brings {at_or_above} finding(s) at or above high:"
    )
    assert listed and all(line.split()[-1] in ("critical", "high") for line in listed if line.startswith("•"))


def test_a_flood_of_pushes_runs_trivy_once_per_digest_and_tells_the_watching_channel(
    hooks, slack, redis_client, test_images
):
    images = [test_images["library/mariadb:11.4"], test_images["library/python:3.12"]]
    DigestStore(redis_client).watch("T1", CHANNEL, [i.reference for i in images], limit=10)
    ThreadStore(redis_client).remember_latest(
        ThreadState(CHANNEL, "1700000000.000100", "U1", images[0].reference), images[0].reference
    )
    answers = []
    with requests.Session() as session:
        for n in range(1000):
            image = images[n % 2]
            body = envelope(image.repository, image.tag, image.digest)
            answers.append(session.post(hooks, data=body, headers=BEARER, timeout=10).json())
    assert sum(a["queued"] for a in answers) == 2 and sum(a["coalesced"] for a in answers) == 998

    run_workers(redis_client)

    assert ReportStore(redis_client).trivy_runs() == 2  # one per digest
    posts = [c for c in slack.calls("chat.postMessage") if c.ok]
    serious = {i.reference for i in images if _has_serious(redis_client, i)}
    assert images[0].reference in serious  # mariadb has high findings: the alert path is exercised
    assert {p.params["text"].split("*A push of ")[1].split("*")[0] for p in posts} == serious
    for post in posts:
        assert post.params["channel"] == CHANNEL and "at or above high" in post.params["text"]
        if images[0].reference in post.params["text"]:
            assert post.params["thread_ts"] == "1700000000.000100"  # in the image's latest thread


def _has_serious(redis_client, image) -> bool:
    store = ReportStore(redis_client)
    history = store.history(f"{image.registry}/{image.repository}")
    return any(item[2] in ("critical", "high") for entry in history for item in entry["findings"])
