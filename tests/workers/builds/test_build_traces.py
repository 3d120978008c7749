"""What keeps a build's traces short-lived: every stage labelled, secrets scrubbed from nested data,
the Dockerfile handed over through an entry read once."""

from __future__ import annotations

from workers.builds import stash
from workers.builds.build import labelled
from workers.builds.secrets import MASK, scrub_all


def test_every_stage_gets_the_build_label_right_after_its_from():
    text = "FROM a AS build\nRUN make\nFROM \\\n  b\nCOPY --from=build /x /x"
    assert labelled(text, "id1.original").splitlines() == [
        "FROM a AS build",
        'LABEL chainscan.build="id1.original"',
        "RUN make",
        "FROM \\",
        "  b",
        'LABEL chainscan.build="id1.original"',
        "COPY --from=build /x /x",
    ]


def test_secrets_are_scrubbed_from_every_string_of_nested_data():
    data = {"layers": [{"created_by": "ENV API_TOKEN=abcd1234"}, {"n": 3}], "note": "abcd1234 echoed"}
    assert scrub_all(data, ["abcd1234"]) == {
        "layers": [{"created_by": f"ENV API_TOKEN={MASK}"}, {"n": 3}],
        "note": f"{MASK} echoed",
    }


def test_a_stashed_dockerfile_is_read_once_and_expires(redis_client):
    ref = stash.put(redis_client, "FROM a\n")
    assert 0 < redis_client.ttl(stash.stash_key(ref)) <= stash.STASH_TTL
    assert stash.peek(redis_client, ref) == "FROM a\n"
    assert stash.take(redis_client, ref) == "FROM a\n"
    assert stash.take(redis_client, ref) is None
