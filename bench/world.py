"""The offline world the benchmarks scan: the test helpers' Trivy DB, registry and images."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.helpers.images import build_and_push_all
from tests.helpers.registry import ensure_registry
from tests.helpers.trivydb import build_trivy_db


def prepare(redis_url: str) -> dict[str, str]:
    """Build the DB and images; return the environment the engine needs to use them."""
    cache_dir = Path(tempfile.mkdtemp(prefix="chainscan-bench-trivy-"))
    build_trivy_db(cache_dir)
    registry = ensure_registry()
    build_and_push_all(registry)
    env = {
        "REDIS_URL": redis_url,
        "TRIVY_CACHE_DIR": str(cache_dir),
        "TRIVY_SKIP_DB_UPDATE": "true",
        "DOCKERHUB_MIRROR": registry,
        "CHAINGUARD_REGISTRY": f"{registry}/chainguard",
        "JOB_RETRIES": "0",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return {**env, "REGISTRY": registry}


def main() -> None:
    """``eval "$(python3 -m bench.world)"``: build the offline world and print the shell exports that use it."""
    import shlex

    env = prepare("")
    env.pop("REDIS_URL")
    env.pop("REGISTRY")
    env.pop("JOB_RETRIES")
    for name, value in env.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
