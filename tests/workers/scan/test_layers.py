"""Which layers need their blob read before an image may share Trivy's layer cache (pure)."""

from __future__ import annotations

from workers.base.registry import RemoteImage
from workers.scan.layers import Verdict, inconsistency_note, plan

GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
TAR = "application/vnd.oci.image.layer.v1.tar"


def image(*layers: tuple[str, str, str]) -> RemoteImage:
    return RemoteImage("sha256:i", "sha256:m", [d for _, d, _ in layers], {},
                       [{"digest": g, "mediaType": t, "size": 1} for g, _, t in layers])  # fmt: skip


def test_a_layer_not_seen_before_is_read():
    decided = plan(image(("sha256:a", "sha256:A", GZ)), {})
    assert decided.verdict is None and [p.digest for p in decided.to_read] == ["sha256:a"]


def test_a_layer_verified_before_is_not_read_again():
    assert plan(image(("sha256:a", "sha256:A", GZ)), {"sha256:a": "sha256:A"}).verdict is Verdict.CONSISTENT


def test_a_known_blob_claimed_with_another_diff_id_is_inconsistent():
    decided = plan(image(("sha256:a", "sha256:VICTIM", GZ)), {"sha256:a": "sha256:A"})
    assert decided.verdict is Verdict.INCONSISTENT and decided.mismatched == ("sha256:a",)


def test_an_uncompressed_layer_must_be_its_own_diff_id():
    assert plan(image(("sha256:a", "sha256:a", TAR)), {}).verdict is Verdict.CONSISTENT
    assert plan(image(("sha256:a", "sha256:b", TAR)), {}).verdict is Verdict.INCONSISTENT


def test_a_config_that_names_more_or_fewer_layers_than_the_manifest_is_inconsistent():
    lying = RemoteImage("sha256:i", "sha256:m", ["sha256:A", "sha256:B"], {}, [{"digest": "sha256:a", "mediaType": GZ}])
    assert plan(lying, {}).verdict is Verdict.INCONSISTENT


def test_a_zstd_layer_is_read_like_a_gzip_one():
    zstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    assert [p.digest for p in plan(image(("sha256:a", "sha256:A", zstd)), {}).to_read] == ["sha256:a"]


def test_a_layer_nothing_here_can_decompress_is_unverified_not_inconsistent():
    foreign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    assert plan(image(("sha256:a", "sha256:A", foreign)), {}).verdict is Verdict.UNVERIFIED


def test_the_note_names_the_first_layer_and_how_many_more():
    note = inconsistency_note(["sha256:" + "a" * 64, "sha256:" + "b" * 64])
    assert "sha256:aaaaaaaaaaaa and 1 more" in note and "without the shared layer cache" in note
