"""Images with jars need Trivy's Java DB: with one (written by the test helpers, empty, in the trivy-java-db
schema) a jar is identified by its pom.properties and matched against the maven advisories; without one the
user reads its own sentence, not "check that it is a valid container image"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.helpers import trivydb
from tests.helpers.fixtures import free_port
from tests.helpers.images import push_extra
from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.scan.engine import Scanner

pytestmark = pytest.mark.integration

UPDATED = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)  # not the shared test DB's: cached reports stay apart


@pytest.fixture(scope="module")
def jar_image(registry):
    return push_extra(registry, "library/javaapp:1")["library/javaapp:1"]


@pytest.fixture
def java_cache(tmp_path):
    """A Trivy cache with the vulnerability DB (and its maven advisory), and no Java DB yet."""
    trivydb.build_trivy_db(tmp_path, updated_at=UPDATED, language=trivydb.MAVEN_ADVISORIES)
    return tmp_path


def test_a_jar_is_identified_with_an_empty_java_db_and_gets_its_maven_finding(
    engine_env, monkeypatch, redis_client, java_cache, jar_image
):
    trivydb.build_java_db(java_cache)
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(java_cache))
    report = Scanner(Settings.from_env(), redis_client).scan("javaapp:1", force=True)
    jar = [v for v in report.vulnerabilities if v.package == "org.example:demo"]
    assert [(v.id, v.installed, v.fixed, v.severity) for v in jar] == [("CVE-2024-99001", "1.2.0", "1.2.3", "critical")]
    jar_layer = jar_image.platform().layers[-1].diff_id
    assert jar[0].layer == jar_layer, "attributed to the layer that copied the jar"
    assert report.counts["critical"] >= 1


def test_without_a_java_db_a_jar_image_is_its_own_sentence(
    engine_env, monkeypatch, redis_client, java_cache, jar_image
):
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(java_cache))
    monkeypatch.setenv("TRIVY_JAVA_DB_REPOSITORY", f"127.0.0.1:{free_port()}/nowhere/trivy-java-db:1")
    with pytest.raises(ScanError) as error:
        Scanner(Settings.from_env(), redis_client).scan("javaapp:1", force=True)
    assert error.value.kind is ErrorKind.NO_JAVA_DB
    assert error.value.message.startswith("javaapp:1 contains Java archives"), error.value.message
    assert "TRIVY_JAVA_DB_REPOSITORY" in error.value.message


def test_an_image_without_jars_needs_no_java_db(engine_env, monkeypatch, redis_client, java_cache, test_images):
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(java_cache))
    monkeypatch.setenv("TRIVY_JAVA_DB_REPOSITORY", f"127.0.0.1:{free_port()}/nowhere/trivy-java-db:1")
    report = Scanner(Settings.from_env(), redis_client).scan("mariadb:latest", force=True)
    assert report.counts["critical"] > 0 and not (java_cache / "java-db").exists()
