"""Routing: the file's teams, the precedence of file, labels and watches, globs, and bad files named by line."""

from __future__ import annotations

import pytest

from workers.owners.routes import (
    OwnersFileError,
    OwnerSource,
    Routes,
    owner_labels,
    owner_of,
    parse_routes,
)

FILE = """\
teams:
  - name: payments
    channel: C0PAY
    group: S0PAYONCALL
    members: [U0ALICE]
    repositories:
      - "registry.example.com/payments/*"
      - "mariadb"
  - name: web
    channel: C0WEB
    repositories: ["registry.example.com/*"]
    sources: ["https://github.com/acme/web*"]
    vendors: ["Acme Web"]
  - name: data
    channel: C0DATA
    sources: ["https://github.com/acme/data"]
"""


@pytest.fixture
def routes() -> Routes:
    return parse_routes(FILE)


def test_a_repository_glob_names_the_team_its_channel_and_group(routes):
    owner = owner_of("registry.example.com/payments/api", None, routes)
    assert (owner.team, owner.channel, owner.group, owner.source) == (
        "payments",
        "C0PAY",
        "S0PAYONCALL",
        OwnerSource.REPOSITORY,
    )
    assert "registry.example.com/payments/*" in owner.why and "line 2" in owner.why


def test_the_first_matching_team_in_file_order_wins(routes):
    assert owner_of("registry.example.com/payments/api", None, routes).team == "payments"
    assert owner_of("registry.example.com/shop/api", None, routes).team == "web"


def test_a_docker_hub_glob_may_be_written_short_or_long(routes):
    assert owner_of("docker.io/library/mariadb", None, routes).team == "payments"
    long_form = parse_routes("teams:\n  - {name: x, channel: C0X, repositories: ['docker.io/library/redis']}\n")
    assert owner_of("docker.io/library/redis", None, long_form).team == "x"
    assert owner_of("docker.io/library/mariadbx", None, routes) is None


def test_a_glob_does_not_match_across_registries(routes):
    assert owner_of("evil.example.com/registry.example.com/payments/api", None, routes) is None


def test_the_file_wins_over_the_labels(routes):
    labels = {"chainscan.owner": "data", "org.opencontainers.image.vendor": "Acme Web"}
    assert owner_of("docker.io/library/mariadb", labels, routes).team == "payments"


def test_the_owner_label_wins_over_source_and_vendor(routes):
    labels = {
        "chainscan.owner": "data",
        "org.opencontainers.image.source": "https://github.com/acme/web-shop",
        "org.opencontainers.image.vendor": "Acme Web",
    }
    owner = owner_of("ghcr.io/acme/thing", labels, routes)
    assert (owner.team, owner.source) == ("data", OwnerSource.OWNER_LABEL)


def test_an_owner_label_naming_no_team_falls_through_to_the_other_labels(routes):
    labels = {"chainscan.owner": "nobody", "org.opencontainers.image.source": "https://github.com/acme/web-shop"}
    owner = owner_of("ghcr.io/acme/thing", labels, routes)
    assert (owner.team, owner.source) == ("web", OwnerSource.SOURCE_LABEL)


def test_the_source_label_wins_over_the_vendor_label(routes):
    labels = {
        "org.opencontainers.image.source": "https://github.com/acme/data",
        "org.opencontainers.image.vendor": "Acme Web",
    }
    assert owner_of("ghcr.io/acme/thing", labels, routes).team == "data"


def test_the_vendor_label_is_matched_exactly(routes):
    assert owner_of("ghcr.io/acme/thing", {"org.opencontainers.image.vendor": "Acme Web"}, routes).team == "web"
    assert owner_of("ghcr.io/acme/thing", {"org.opencontainers.image.vendor": "Acme Webs"}, routes) is None


def test_with_no_claim_the_watching_channel_owns_it(routes):
    owner = owner_of("ghcr.io/acme/thing", None, routes, ["C0ZED", "C0ALPHA"])
    assert (owner.team, owner.channel, owner.source) == (None, "C0ALPHA", OwnerSource.WATCH)


def test_with_no_claim_and_no_watch_nobody_owns_it(routes):
    assert owner_of("ghcr.io/acme/thing", None, Routes(), []) is None


def test_members_and_groups_say_which_teams_a_user_is_in(routes):
    assert [t.name for t in routes.teams_of("U0ALICE")] == ["payments"]
    assert [t.name for t in routes.teams_of("U0BOB", frozenset({"S0PAYONCALL"}))] == ["payments"]
    assert routes.teams_of("U0BOB") == []


def test_only_the_routing_labels_are_kept_and_overlong_values_are_cut():
    kept = owner_labels(
        {"chainscan.owner": "payments", "maintainer": "x", "org.opencontainers.image.source": "y" * 600}
    )
    assert set(kept) == {"chainscan.owner", "org.opencontainers.image.source"}
    assert len(kept["org.opencontainers.image.source"]) == 512
    assert owner_labels({"maintainer": "x"}) is None


def test_an_empty_file_routes_nothing():
    assert parse_routes("") == Routes()
    assert parse_routes("teams: []\n") == Routes()


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("teams:\n  - name: pay\n    channel: C0PAY\n    repositories: [a\n", 5, "not valid YAML"),
        ("owners: []\n", 1, "one key"),
        ("teams: {name: x}\n", 1, "must be a list"),
        ("teams:\n  - just-a-string\n", 2, "mapping"),
        ("teams:\n  - name: pay\n    channel: C0PAY\n    repos: [x]\n", 2, "unknown field `repos`"),
        ("teams:\n  - name: Pay Team\n    channel: C0PAY\n    repositories: [x]\n", 2, "team name"),
        ("teams:\n  - name: pay\n    channel: '#payments'\n    repositories: [x]\n", 3, "channel ID"),
        ("teams:\n  - name: pay\n    repositories: [x]\n", 2, "no `channel`"),
        ("teams:\n  - name: pay\n    channel: C0PAY\n    group: payments\n    repositories: [x]\n", 4, "user group ID"),
        ("teams:\n  - name: pay\n    channel: C0PAY\n    members: [alice]\n    repositories: [x]\n", 4, "user IDs"),
        ("teams:\n  - name: pay\n    channel: C0PAY\n    repositories: x\n", 4, "list of strings"),
        ("teams:\n  - name: pay\n    channel: C0PAY\n", 2, "owns nothing"),
        (
            "teams:\n  - {name: pay, channel: C0PAY, repositories: [x]}\n  - {name: pay, channel: C0P2, repositories: [y]}\n",
            3,
            "named twice",
        ),
    ],
)
def test_a_bad_file_is_one_sentence_naming_the_line(text, line, words):
    with pytest.raises(OwnersFileError) as caught:
        parse_routes(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"Line {line} of the routing file: ")
    assert words in str(caught.value)
