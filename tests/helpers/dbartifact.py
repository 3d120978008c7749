"""The test DBs as OCI artifacts, pushed with plain registry API calls, so Trivy's own download
(``--download-db-only`` with ``TRIVY_DB_REPOSITORY``, ``--download-java-db-only`` with
``TRIVY_JAVA_DB_REPOSITORY``) can fetch them offline.

    push_db_artifacts("127.0.0.1:5000", "scale")
    # -> ("127.0.0.1:5000/scale/trivy-db:2", "127.0.0.1:5000/scale/trivy-java-db:1")
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tempfile
from pathlib import Path

from tests.helpers import trivydb
from tests.helpers.images import OCI_MANIFEST, _Blob, _Registry

DB_LAYER = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
JAVA_DB_LAYER = "application/vnd.aquasec.trivy.javadb.layer.v1.tar+gzip"
TRIVY_CONFIG = "application/vnd.aquasec.trivy.config.v1+json"


def _tar_gz(directory: Path) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(directory.iterdir()):
            info = tar.gettarinfo(str(path), arcname=path.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = (
                trivydb.DEFAULT_UPDATED_AT.timestamp(),
                0,
                0,
                "",
                "",
            )
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return gzip.compress(raw.getvalue(), mtime=0)


def _push(registry: str, repository: str, tag: str, layer: bytes, media_type: str, title: str) -> str:
    client = _Registry(registry)
    config = _Blob.of(b"{}", TRIVY_CONFIG)
    blob = _Blob.of(layer, media_type)
    client.push_blob(repository, config)
    client.push_blob(repository, blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": TRIVY_CONFIG, "size": len(config.data), "digest": config.digest},
        "layers": [
            {
                "mediaType": media_type,
                "size": len(blob.data),
                "digest": blob.digest,
                "annotations": {"org.opencontainers.image.title": title},
            }
        ],
    }
    client.push_manifest(repository, tag, _Blob.of(json.dumps(manifest).encode(), OCI_MANIFEST))
    return f"{registry}/{repository}:{tag}"


def push_db_artifacts(registry: str, namespace: str, **db_options) -> tuple[str, str]:
    """Write the test DB (``build_trivy_db(**db_options)``) and an empty Java DB, push both as Trivy's OCI
    artifacts under ``namespace``; return the two repositories to put in TRIVY_DB_REPOSITORY and
    TRIVY_JAVA_DB_REPOSITORY."""
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch)
        trivydb.build_trivy_db(cache, **db_options)
        trivydb.build_java_db(cache)
        db = _push(registry, f"{namespace}/trivy-db", "2", _tar_gz(cache / "db"), DB_LAYER, "db.tar.gz")
        java = _push(
            registry, f"{namespace}/trivy-java-db", "1", _tar_gz(cache / "java-db"), JAVA_DB_LAYER, "javadb.tar.gz"
        )
    return db, java
