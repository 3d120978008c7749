"""The scan engine: an image reference in, a report that agrees with Trivy out.

``resolve`` (digests via the Docker engine) → ``store`` (cache, lock, history in Redis) →
``trivy`` (the real binary) → ``engine`` (the pipeline) → ``queue`` (RQ enqueue and wait).
"""
