"""The worker's Redis connection rides out an outage of about five minutes, then gives up."""

from __future__ import annotations

from workers.worker import BACKOFF_BASE, BACKOFF_CAP, OUTAGE_RIDE_OUT, ChainscanWorker, outage_retries, patient_redis


def test_the_backoff_steps_add_up_to_the_ride_out():
    steps = outage_retries()
    waits = [min(BACKOFF_CAP, BACKOFF_BASE * 2**i) for i in range(steps)]
    assert sum(waits) >= OUTAGE_RIDE_OUT > sum(waits[:-1])


def test_the_worker_cleans_its_registries_every_fifteen_seconds(redis_url):
    worker = ChainscanWorker(["q"], connection=patient_redis(redis_url))
    assert worker.maintenance_interval == 15 and worker.dequeue_timeout == 15
