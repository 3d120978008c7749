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
    assert args[args.index("--cache-backend") + 1] == "memory"


def test_trivy_environment_variables_win_over_our_defaults():
    env = {"TRIVY_CACHE_BACKEND": "fs", "TRIVY_TIMEOUT": "1m", "TRIVY_SCANNERS": "vuln,secret"}
    args = trivy.image_command("trivy", "x", timeout=30, env=env)
    assert "--cache-backend" not in args and "--timeout" not in args and "--scanners" not in args


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
