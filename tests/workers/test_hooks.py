"""Registry notifications verified and parsed, a provider at a time: each scheme, and every refusal."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from workers.hooks import HookRefusal, HookSecrets, Provider, Push, check

SECRETS = HookSecrets(distribution="d-secret", harbor="h-secret", github="g-secret")
NOW = 1_780_000_000.0
DIGEST = "sha256:" + "a" * 64


def distribution(action="push", tag="1.2", when="2026-05-28T20:26:40Z") -> bytes:
    event = {
        "id": "e1",
        "timestamp": when,
        "action": action,
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "repository": "team/app",
            "digest": DIGEST,
            "tag": tag,
        },
        "request": {"host": "registry.example.com"},
    }
    return json.dumps({"events": [event]}).encode()


def harbor(kind="PUSH_ARTIFACT", occur_at=NOW - 10) -> bytes:
    resources = [{"digest": DIGEST, "tag": "1.2", "resource_url": "harbor.example.com/team/app:1.2"}]
    return json.dumps(
        {
            "type": kind,
            "occur_at": occur_at,
            "event_data": {"repository": {"repo_full_name": "team/app"}, "resources": resources},
        }
    ).encode()


def github(action="published") -> bytes:
    version = {"name": DIGEST, "container_metadata": {"tag": {"name": "1.2", "digest": DIGEST}}}
    package = {
        "namespace": "Octo-Org",
        "name": "app",
        "package_version": version,
        "registry": {"url": "https://ghcr.io/octo-org"},
    }
    return json.dumps({"action": action, "registry_package": package}).encode()


def signed(body: bytes, secret="g-secret", delivery="d-1") -> dict:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "registry_package", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature}


def test_a_distribution_push_is_verified_by_its_bearer_secret():
    delivery = check({"Authorization": "Bearer d-secret"}, distribution(), SECRETS, NOW, 3600)
    assert delivery.provider is Provider.DISTRIBUTION
    assert delivery.pushes == (Push("registry.example.com/team/app", "1.2", DIGEST),)
    assert delivery.pushes[0].reference == "registry.example.com/team/app:1.2"
    assert delivery.id.startswith("distribution:") and len(delivery.id) > 40  # a digest of the body


def test_a_distribution_pull_is_verified_and_queues_nothing():
    assert check({"Authorization": "Bearer d-secret"}, distribution("pull"), SECRETS, NOW, 3600).pushes == ()


def test_a_harbor_push_is_verified_by_its_auth_header():
    delivery = check({"Authorization": "h-secret"}, harbor(), SECRETS, NOW, 3600)
    assert delivery.provider is Provider.HARBOR and delivery.pushes == (
        Push("harbor.example.com/team/app", "1.2", DIGEST),
    )


def test_a_github_registry_package_is_verified_by_its_hmac_and_named_by_its_delivery():
    body = github()
    delivery = check(signed(body), body, SECRETS, NOW, 3600)
    assert delivery.provider is Provider.GITHUB and delivery.id == "github:d-1"
    assert delivery.pushes == (Push("ghcr.io/octo-org/app", "1.2", DIGEST),)


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"Authorization": "Bearer wrong"}, distribution()),
        ({}, distribution()),
        ({"Authorization": "d-secret"}, distribution()),  # the bearer scheme is part of it
        ({"Authorization": "Bearer h-secret"}, harbor()),
        (signed(github(), secret="wrong"), github()),
        ({**signed(github()), "X-Hub-Signature-256": "sha256=00"}, github()),
        (signed(github()), github("updated") + b" "),  # the body changed after signing
    ],
)
def test_an_unverified_notification_is_refused_with_401(headers, body):
    verdict = check(headers, body, SECRETS, NOW, 3600)
    assert verdict is HookRefusal.UNVERIFIED and verdict.status == 401


def test_a_provider_without_a_secret_trusts_nothing():
    verdict = check({"Authorization": "Bearer "}, distribution(), HookSecrets(), NOW, 3600)
    assert verdict is HookRefusal.NOT_CONFIGURED and verdict.status == 401
    assert check({"Authorization": "Bearer "}, distribution(), HookSecrets(github="g"), NOW, 3600).status == 401
    assert check(signed(github()), github(), HookSecrets(distribution="d"), NOW, 3600) is HookRefusal.NOT_CONFIGURED


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"events": "x"}',
        b'{"events": [{"action": "push"}]}',
        b'{"events": [{"action": "push", "target": {"repository": "a b"}, "request": {"host": "h"}}]}',
    ],
)
def test_a_verified_but_malformed_distribution_body_is_refused_with_400(body):
    verdict = check({"Authorization": "Bearer d-secret"}, body, SECRETS, NOW, 3600)
    assert verdict in (HookRefusal.MALFORMED, HookRefusal.UNVERIFIED) and verdict.status in (400, 401)
    if body.startswith(b'{"events'):
        assert verdict is HookRefusal.MALFORMED and verdict.status == 400


def test_a_malformed_harbor_or_github_body_is_refused_with_400():
    assert (
        check({"Authorization": "h-secret"}, b'{"type": "PUSH_ARTIFACT"}', SECRETS, NOW, 3600) is HookRefusal.MALFORMED
    )
    body = b'{"action": "published", "registry_package": {}}'
    assert check(signed(body), body, SECRETS, NOW, 3600) is HookRefusal.MALFORMED


def test_an_old_notification_is_refused_by_its_own_timestamp():
    assert check({"Authorization": "h-secret"}, harbor(occur_at=NOW - 7200), SECRETS, NOW, 3600) is HookRefusal.STALE
    old = distribution(when="2026-05-28T18:00:00Z")
    assert check({"Authorization": "Bearer d-secret"}, old, SECRETS, NOW, 3600) is HookRefusal.STALE


def test_the_same_pushes_in_one_delivery_count_once():
    data = json.loads(distribution())
    data["events"] *= 3
    body = json.dumps(data).encode()
    assert len(check({"Authorization": "Bearer d-secret"}, body, SECRETS, NOW, 3600).pushes) == 1
