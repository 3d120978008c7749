"""Package inventories: what Trivy found in an image, kept per digest, judged again on a new DB without the image.

- :mod:`workers.inventory.model`: pure: what is kept of a scan, and how many inventories share one Trivy run.
- :mod:`workers.inventory.store`: the inventories in Redis, compressed, with their TTL.
- :mod:`workers.inventory.reevaluate`: running ``trivy sbom`` over them and turning its answer into reports.
"""
