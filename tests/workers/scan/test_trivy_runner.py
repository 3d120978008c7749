import json

import pytest

from workers.errors import ScanError
from workers.scan import trivy


def test_command_is_an_argument_list_with_the_target_last():
    args = trivy.image_command(
        "trivy", "127.0.0.1:5000/x@sha256:" + "a" * 64, platform="linux/arm64", timeout=30, env={}
    )
    assert args[:2] == ["trivy", "image"] and args[-1].startswith("127.0.0.1:5000/x@")
    assert "--platform" in args and "--timeout" in args and "30s" in args
    assert "--cache-backend" not in args, "the layer cache reaches Trivy by its environment (layercache)"


def test_trivy_environment_variables_win_over_our_defaults():
    env = {"TRIVY_TIMEOUT": "1m", "TRIVY_SCANNERS": "vuln,secret", "TRIVY_SKIP_JAVA_DB_UPDATE": "true"}
    args = trivy.image_command("trivy", "x", timeout=30, env=env, skip_java_db=True)
    assert "--timeout" not in args and "--scanners" not in args and "--skip-java-db-update" not in args


def test_db_updates_are_skipped_only_when_a_db_is_there():
    assert "--skip-db-update" not in trivy.image_command("trivy", "x", env={})
    assert "--skip-java-db-update" not in trivy.image_command("trivy", "x", env={})
    both = trivy.image_command("trivy", "x", env={}, skip_db=True, skip_java_db=True)
    assert "--skip-db-update" in both and "--skip-java-db-update" in both


def test_a_trivy_server_makes_the_run_its_client_with_no_local_db_flag():
    args = trivy.image_command("trivy", "x", env={}, skip_db=True, server="http://127.0.0.1:4954")
    assert args[args.index("--server") + 1] == "http://127.0.0.1:4954" and "--skip-db-update" not in args
    assert "--token" not in args, "the token stays in TRIVY_TOKEN"


def test_java_db_info_reads_its_own_metadata(tmp_path):
    (tmp_path / "java-db").mkdir()
    (tmp_path / "java-db" / "metadata.json").write_text(json.dumps({"Version": 1, "UpdatedAt": "2026-11-30T00:00:00Z"}))
    assert trivy.java_db_info({"TRIVY_CACHE_DIR": str(tmp_path)}).version == 1
    assert trivy.db_info({"TRIVY_CACHE_DIR": str(tmp_path)}) is None


def test_a_target_that_looks_like_a_flag_is_refused():
    with pytest.raises(ScanError):
        trivy.image_command("trivy", "--config=/etc/passwd", env={})


def test_cache_dir_resolution(tmp_path):
    assert trivy.cache_dir({"TRIVY_CACHE_DIR": "/x"}).as_posix() == "/x"
    assert trivy.cache_dir({"XDG_CACHE_HOME": "/c"}).as_posix() == "/c/trivy"
    assert trivy.cache_dir({"HOME": "/h"}).as_posix() == "/h/.cache/trivy"


def test_db_info_reads_metadata(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "metadata.json").write_text(json.dumps({"Version": 2, "UpdatedAt": "2026-11-30T00:00:00Z"}))
    info = trivy.db_info({"TRIVY_CACHE_DIR": str(tmp_path)})
    assert (info.version, info.updated_at) == (2, "2026-11-30T00:00:00Z")
    assert trivy.db_info({"TRIVY_CACHE_DIR": str(tmp_path / "none")}) is None


@pytest.mark.parametrize(
    "stderr, kind",
    [
        (
            "FATAL Fatal error run error: init error: DB error: database error: --skip-db-update cannot be specified on the first run",
            "no_db",
        ),
        ("FATAL DB error: failed to download vulnerability DB: OCI artifact error", "no_db"),
        ("FATAL scan error: context deadline exceeded", "timeout"),
        ("FATAL unable to find the specified image: MANIFEST_UNKNOWN: manifest unknown", "not_found"),
        ("FATAL GET http://r/v2/x/manifests/1: UNAUTHORIZED: authentication required", "access_denied"),
        ("FATAL TOOMANYREQUESTS: You have reached your pull rate limit", "rate_limited"),
        ('FATAL Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused', "unreachable"),
        (
            "FATAL Fatal error run error: init error: Java DB error: '--skip-java-db-update' cannot be specified "
            "on the first run",
            "no_java_db",
        ),
        ("ERROR Java DB update error: failed to download Java DB: OCI repository error", "no_java_db"),
        ("panic: runtime error: invalid memory address\ngoroutine 1 [running]:\n/go/src/x.go:12", "trivy_failed"),
    ],
)
def test_failures_become_sentences(stderr, kind):
    error = trivy.classify_failure(stderr, "mariadb:latest", 600)
    assert error.kind == kind
    assert "goroutine" not in error.message and "/go/src" not in error.message
    assert error.message.endswith(".")


def test_missing_binary_is_a_sentence():
    with pytest.raises(ScanError) as err:
        trivy.run_json(["/nonexistent/trivy", "image", "x"], timeout=5, what="x")
    assert err.value.kind == "trivy_missing" and "TRIVY_BIN" in err.value.message


def test_a_trivy_server_that_is_down_is_its_own_sentence():
    stderr = (
        "FATAL Fatal error run error: image scan error: scan error: scan failed: failed analysis: unable to get "
        "missing layers: backoff: permanent error (last error: twirp error internal: failed to do request: Post "
        '"http://127.0.0.1:1/twirp/trivy.cache.v1.Cache/MissingBlobs": dial tcp 127.0.0.1:1: connect: connection refused)'
    )
    error = trivy.classify_failure(stderr, "mariadb", 600, server="http://127.0.0.1:1")
    assert error.kind == "trivy_server_down" and error.transient
    assert error.message.startswith("The Trivy server at http://127.0.0.1:1 did not answer, so mariadb")
    assert trivy.classify_failure(stderr, "mariadb", 600).kind == "unreachable"  # no server: the registry's


def test_a_missing_java_db_is_found_at_the_end_of_trivys_long_error_line():
    stderr = (
        "2026-12-05T02:19:58Z\tFATAL\tFatal error\trun error: image scan error: scan error: scan failed: failed "
        "analysis: analyze error: pipeline error: failed to analyze layer (sha256:36b70368eaf1fcc827e7e9f90eea42a754c9"
        "501827619314bbc09c90fbd81070): post analysis error: post analysis error: Unable to initialize the Java DB: "
        "Java DB update failed: '--skip-java-db-update' cannot be specified on the first run"
    )
    assert trivy.classify_failure(stderr, "app:1", 600).kind == "no_java_db"


def test_a_progress_line_naming_the_java_db_does_not_hide_the_real_failure():
    stderr = "INFO [javadb] Downloading Java DB...\nFATAL unable to find the specified image: MANIFEST_UNKNOWN"
    assert trivy.classify_failure(stderr, "app:1", 600).kind == "not_found"


def test_a_missing_java_db_names_the_command_that_fetches_it():
    error = trivy.classify_failure("FATAL Java DB error: cannot be specified on the first run", "app:1", 600)
    assert "app:1 contains Java archives" in error.message and "python -m bot db update" in error.message


def test_a_layer_cache_that_does_not_answer_is_told_apart_from_the_registry():
    stderr = (
        "redis: pool.go:762: redis: connection pool: failed to dial after 5 attempts: connection refused\n"
        "FATAL Fatal error run error: image scan error: scan error: scan failed: failed analysis: analyze error: "
        "pipeline error: failed to store layer: sha256:dc52 in cache: unable to store blob information in Redis cache "
        "(sha256:dc52): dial tcp 127.0.0.1:1: connect: connection refused"
    )
    error = trivy.classify_failure(stderr, "clean:1", 600)
    assert error.kind == "layer_cache" and error.transient and "TRIVY_CACHE_BACKEND" in error.message
