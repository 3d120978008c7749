"""Where a process's metrics are read: the registry it serves, and prometheus_client's own HTTP server.

One process (the scheduler, a worker of pool size 1) serves its own counters. Where one role forks several
processes (the worker pool, gunicorn's workers) every process writes its counters to files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds them up (prometheus_client's multiprocess mode).
:func:`prepare_multiprocess` must run before ``prometheus_client`` is first imported, since the library picks
its storage then: ``bot/__main__.py`` calls it first thing for the ``serve`` and ``worker`` roles.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator, MutableMapping

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
FORKING_ROLES = ("serve", "worker")


def prepare_multiprocess(role: str | None, env: MutableMapping[str, str] = os.environ) -> str | None:
    """For a forking role, make sure ``PROMETHEUS_MULTIPROC_DIR`` names a directory; returns it (else None).

    Unset: a new empty directory, removed when this process exits (its children inherit the variable). Set
    (a container's emptyDir, say): used as it is; it must be empty at start, as prometheus_client asks."""
    if role not in FORKING_ROLES:
        return None
    path = env.get(MULTIPROC_VARIABLE)
    if path:
        os.makedirs(path, exist_ok=True)
        return path
    path = tempfile.mkdtemp(prefix="chainscan-metrics-")
    env[MULTIPROC_VARIABLE] = path
    owner = os.getpid()
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
    return path


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_VARIABLE))


def process_registry(*extra):
    """A registry with this process's metrics (all of this host's processes in multiprocess mode) and ``extra``
    collectors (the fleet's gauges on the web process)."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return registry


class _Forward:
    """Everything another registry holds (the default one: this process's counters and its process metrics)."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self) -> Iterator:
        yield from self.registry.collect()

    def describe(self) -> list:
        return []


def serve_metrics(host: str, port: int, *extra):
    """prometheus_client's HTTP server on ``host:port`` in a daemon thread; returns the server (to shut down)."""
    from prometheus_client import start_http_server

    server, _ = start_http_server(port, addr=host, registry=process_registry(*extra))
    return server
