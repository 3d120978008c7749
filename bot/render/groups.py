"""Old path of :mod:`workers.groups`, re-exported for one release: the grouping moved to workers/ so the digest's
pure composer groups exactly as the scan thread does (workers/ never imports bot/). Import it from there."""

from workers.groups import FindingGroup, group_findings, package_label, packages_count

__all__ = ["FindingGroup", "group_findings", "package_label", "packages_count"]
