"""The worker's Redis connection rides out an outage of about five minutes, then gives up; the worker starts warm."""

from __future__ import annotations

import subprocess
import sys

from workers.worker import BACKOFF_BASE, BACKOFF_CAP, OUTAGE_RIDE_OUT, ChainscanWorker, outage_retries, patient_redis


def test_the_backoff_steps_add_up_to_the_ride_out():
    steps = outage_retries()
    waits = [min(BACKOFF_CAP, BACKOFF_BASE * 2**i) for i in range(steps)]
    assert sum(waits) >= OUTAGE_RIDE_OUT > sum(waits[:-1])


def test_the_worker_cleans_its_registries_every_fifteen_seconds(redis_url):
    worker = ChainscanWorker(["q"], connection=patient_redis(redis_url))
    assert worker.maintenance_interval == 15 and worker.dequeue_timeout == 15


def test_a_worker_starts_with_its_preloaded_heap_frozen_and_the_chart_library_loaded():
    """``python -m bot worker`` preloads, then freezes: what it loaded is left out of every later collection."""
    probe = (
        "import gc, sys; from bot.cli.processes import preload; preload();"
        "print(gc.get_freeze_count(), 'matplotlib.figure' in sys.modules, 'bot.jobs.digest_thread' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    frozen, chart, digest = done.stdout.split()
    assert int(frozen) > 50_000 and chart == digest == "True"
