"""The base an image names itself in its OCI labels or annotations, and how a base was found. Pure.

Apart from :mod:`workers.base.attribution` (which builds on reports) so that :mod:`workers.report` can read the
labels of a Trivy report without importing the module that reads reports.
"""

from __future__ import annotations

import re
from enum import Enum

BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class BaseSource(str, Enum):
    ANNOTATION = "annotation"
    DOCKERFILE = "dockerfile"
    LAYERS = "layers"


def labelled_base(labels: dict | None) -> tuple[str, str | None] | None:
    """The base the image names itself (``base.name`` and, when well formed, ``base.digest``) in its labels or
    its manifest's annotations (the same keys), or None."""
    name = str((labels or {}).get(BASE_NAME_LABEL) or "").strip()
    if not name:
        return None
    digest = str((labels or {}).get(BASE_DIGEST_LABEL) or "").strip()
    return name, digest if DIGEST.match(digest) else None
