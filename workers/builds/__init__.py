"""Dockerfile builds: checks before queueing (pure), the Chainguard rewrite (pure), the build on
dockerd, Trivy's Dockerfile checks, and secret masking."""
