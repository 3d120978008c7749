"""REGISTRY_ALLOWLIST and the private-address rule, over references as users type them."""

from __future__ import annotations

import pytest

from workers.allowlist import RegistryPolicy, RegistryRefused, parse_entry
from workers.config import Settings
from workers.reference import parse_reference


def policy(allowlist: str = "", **settings) -> RegistryPolicy:
    env = {"REGISTRY_ALLOWLIST": allowlist, **settings}
    return Settings.from_env(env).registry_policy


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1:2375/x",
        "169.254.169.254/latest",
        "localhost:5000/app",
        "10.0.0.8/app",
        "192.168.1.1:443/app",
        "[::1]:5000/app",
        "0.0.0.0:5000/app",
        "foo.localhost/app",
    ],
)
def test_a_local_or_private_address_is_refused_when_no_allowlist_is_set(text):
    with pytest.raises(RegistryRefused, match="local or private address"):
        policy().check(parse_reference(text))


@pytest.mark.parametrize("text", ["mariadb", "ghcr.io/acme/app:1", "quay.io/org/x@sha256:" + "a" * 64])
def test_any_public_host_is_admitted_when_no_allowlist_is_set(text):
    ref = parse_reference(text)
    assert policy().check(ref) is ref


def test_an_allowlist_admits_only_its_hosts_and_path_prefixes():
    rules = policy("ghcr.io/acme, registry.internal:5000,docker.io")
    assert rules.refusal(parse_reference("ghcr.io/acme/app")) is None
    assert rules.refusal(parse_reference("ghcr.io/acme")) is None
    assert rules.refusal(parse_reference("registry.internal:5000/team/app")) is None
    assert rules.refusal(parse_reference("mariadb")) is None
    assert "REGISTRY_ALLOWLIST does not list `ghcr.io`" in rules.refusal(parse_reference("ghcr.io/acmeevil/app"))
    assert "does not list `registry.internal:5001`" in rules.refusal(parse_reference("registry.internal:5001/app"))
    assert "does not list" in rules.refusal(parse_reference("quay.io/org/x"))


def test_a_listed_private_address_is_admitted_on_every_port_when_no_port_is_listed():
    rules = policy("127.0.0.1")
    assert rules.refusal(parse_reference("127.0.0.1:5000/app")) is None
    assert rules.refusal(parse_reference("127.0.0.1:41234/app")) is None
    assert "local or private" in policy("127.0.0.1:5000").refusal(parse_reference("127.0.0.1:2375/x"))


def test_docker_hub_references_are_judged_by_the_mirror_that_serves_them():
    rules = policy("ghcr.io", DOCKERHUB_MIRROR="127.0.0.1:5000")
    assert rules.refusal(parse_reference("mariadb")) is None
    assert "does not list `docker.io`" in policy("ghcr.io").refusal(parse_reference("mariadb"))


def test_the_registries_the_operator_configured_are_always_admitted():
    rules = policy("ghcr.io", CHAINGUARD_REGISTRY="127.0.0.1:5000/chainguard", CHAINGUARD_ORG_REGISTRY="cgr.dev/acme")
    assert rules.refusal(parse_reference("127.0.0.1:5000/chainguard/mariadb")) is None
    assert rules.refusal(parse_reference("cgr.dev/acme/python")) is None


def test_the_refusal_is_the_same_sentence_whether_or_not_a_port_is_open():
    rules = policy()
    assert rules.refusal(parse_reference("127.0.0.1:6379/x")).replace("6379", "P") == rules.refusal(
        parse_reference("127.0.0.1:1/x")
    ).replace(":1`", ":P`")


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/token", "http://127.0.0.1:2375/token", "file:///etc/passwd", "gopher://x/"],
)
def test_a_token_realm_on_a_private_address_or_odd_scheme_is_refused(url):
    assert policy().url_refusal(url)


def test_a_token_realm_must_be_listed_when_an_allowlist_is_set():
    rules = policy("ghcr.io,auth.docker.io")
    assert rules.url_refusal("https://ghcr.io/token?scope=x") is None
    assert rules.url_refusal("https://auth.docker.io/token") is None
    assert "token service" in rules.url_refusal("https://evil.example/token")


def test_a_public_name_that_resolves_to_a_private_address_is_refused():
    rules = policy()
    assert "local or private" in rules.address_refusal("registry.example.com", ["10.1.2.3"])
    assert rules.address_refusal("registry.example.com", ["93.184.216.34"]) is None
    assert policy("registry.example.com").address_refusal("registry.example.com", ["10.1.2.3"]) is None


def test_entries_are_read_like_hosts_people_write():
    assert parse_entry("https://GHCR.io/acme/") == parse_entry("ghcr.io/acme")
    assert parse_entry("[::1]:5000").port == "5000"
    assert parse_entry("registry-1.docker.io").host == "docker.io"
