"""A crafted image cannot poison the shared layer cache: the real Trivy, the shared cache in the real Redis, a
loopback registry that serves an image whose config claims a victim's DiffIDs over layers that hold nothing."""

from __future__ import annotations

import gzip
import hashlib

import pytest
import zstandard

from bot.render.blocks import pair_card
from bot.render.terminal import report_text
from tests.helpers.images import push_extra, push_lying_image, push_one_layer_image, tar_bytes
from tests.integration.test_engine import direct_trivy_counts, scan_through_queue
from workers.config import Settings
from workers.pair import combine
from workers.reference import parse_reference
from workers.scan import layers

pytestmark = pytest.mark.integration


def test_attack_a_poisoned_layer_cache_cannot_hide_a_victims_criticals(
    engine_env, redis_client, registry, trivy_cache_dir, test_images, disposable_registry
):
    poison = push_lying_image(registry, "library/mariadb:latest", disposable_registry.address)
    lied = scan_through_queue(redis_client, poison)
    assert lied.error is None, lied.error
    assert lied.report.inconsistent_layers, "the lying image was not found out"
    assert "This image is inconsistent" in report_text(lied.report)
    card = pair_card(combine(lied.report, None, None))
    assert "This image is inconsistent" in str(card.blocks)

    victim = scan_through_queue(redis_client, "mariadb")
    assert victim.error is None, victim.error
    expected = direct_trivy_counts(f"{registry}/library/mariadb:latest", trivy_cache_dir)
    assert expected["critical"] > 0
    assert {k: v for k, v in victim.report.counts.items() if v} == dict(expected)
    assert victim.report.inconsistent_layers is None


def test_a_verified_layer_is_read_once_however_many_images_share_it(engine_env, redis_client, registry):
    test_images = push_extra(registry, "library/app:1", "library/app:2")
    settings = Settings.from_env()
    first = layers.check(parse_reference(f"{registry}/library/app:1").with_digest(_digest(test_images, "app:1")),
                         settings, redis_client)  # fmt: skip
    second = layers.check(parse_reference(f"{registry}/library/app:2").with_digest(_digest(test_images, "app:2")),
                          settings, redis_client)  # fmt: skip
    assert first.verdict is layers.Verdict.CONSISTENT and second.verdict is layers.Verdict.CONSISTENT
    shared = {p.digest for p in first.verified} & {layer.digest for layer in _layers(test_images, "app:2")}
    assert shared, "app:2 is built on app:1's base"
    assert not shared & {p.digest for p in second.verified}, "a verified pair was downloaded again"
    assert second.verified, "app:2's own layers are verified"


def _digest(images, name: str) -> str:
    return images[f"library/{name}"].digest


def _layers(images, name: str):
    return images[f"library/{name}"].platform().layers


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_layer_is_judged_by_its_decompressed_content(engine_env, redis_client, registry, compression):
    tar = tar_bytes({"etc/os-release": b'ID=debian\nVERSION_ID="12"\n'})
    truth = "sha256:" + hashlib.sha256(tar).hexdigest()
    if compression == "zstd":
        layer, media_type = zstandard.ZstdCompressor().compress(tar), "application/vnd.oci.image.layer.v1.tar+zstd"
    else:
        layer, media_type = gzip.compress(tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    settings = Settings.from_env()
    honest = push_one_layer_image(registry, f"probe/{compression}", "honest", layer, media_type, truth)
    lying = push_one_layer_image(registry, f"probe/{compression}", "lying", layer, media_type, "sha256:" + "0" * 64)
    assert layers.check(parse_reference(honest), settings, redis_client).verdict is layers.Verdict.CONSISTENT
    found = layers.check(parse_reference(lying), settings, redis_client)
    assert found.verdict is layers.Verdict.INCONSISTENT and found.mismatched
