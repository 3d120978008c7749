"""Keeping a Redis lock alive while a long step runs (a Trivy scan, a DB download).

The lock lives a short TTL and a helper thread renews it every third of that, so a worker killed mid-step frees
it within the TTL and a waiting one takes over, however long the step itself takes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.lock import Lock

log = logging.getLogger(__name__)


@contextmanager
def kept_alive(lock: Lock, ttl: float) -> Iterator[None]:
    """Renew ``lock`` every ttl/3 seconds from a helper thread until the block ends. A Redis that does not
    answer is logged and tried again each second (the step goes on; the lock may lapse meanwhile)."""
    done = threading.Event()

    def renew() -> None:
        wait = ttl / 3
        while not done.wait(wait):
            try:
                lock.reacquire()
                wait = ttl / 3
            except LockError:
                return
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.warning("could not renew the lock %s (%s); trying again", lock.name, exc)
                wait = 1.0

    keeper = threading.Thread(target=renew, name="lock-keeper", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join()
