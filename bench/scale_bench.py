"""Fleet-scale figures: Trivy's layer cache in Redis and ``trivy server``, each against a baseline in the same run.

(d) a new digest sharing its base layers with an image already scanned, through the queue (layer cache in Redis),
    vs the raw ``trivy image`` with the memory cache on the same digest: ratio of medians (target <= 0.15). The
    base is a real Debian 12 with mariadb-server (debootstrap, about 500 MB, built once per machine), as an
    application rebuilt on a distro base is; (d') gives the same ratio on the test world's big:1 (178 MB).
(e) throughput on distinct digests of one base (big:1's five layers plus a small top layer each), with 1, 2 and 4
    workers, with and without ``trivy server``: scans a minute, and the peak memory (RSS) of a worker process,
    of one Trivy run and of the server, sampled from /proc every 20 ms.

Runs in about two minutes on 2 cores: ``python3 -m bench.scale_bench`` (BENCH_REDIS_URL, default DB 14).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from redis import Redis
from rq import Queue

from bench.scan_bench import alternated, forget_reports, through_queue
from bench.world import prepare
from tests.helpers.fixtures import free_port
from tests.helpers.images import IMAGES, push_on_base
from workers.config import Settings
from workers.scan.queue import enqueue_scan, wait_for

ROUNDS = 6
DIGESTS = 12
POOLS = (1, 2, 4)


class PeakRss:
    """Samples /proc every 20 ms: the largest RSS seen of a python worker, of a trivy image run, of trivy server."""

    def __init__(self, session: int, server_pid: int | None = None) -> None:
        self.session, self.server_pid = session, server_pid
        self.worker = self.trivy = self.server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    self._sample(entry)

    def _sample(self, entry: Path) -> None:
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            return
        fields = stat[stat.rindex(")") + 2 :].split()
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0) * 1024
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if self.server_pid and int(entry.name) == self.server_pid:
            self.server = max(self.server, rss)
        elif int(fields[3]) == self.session:  # the pool's session: its workers and their trivy runs
            if name == "trivy":
                self.trivy = max(self.trivy, rss)
            elif name.startswith("python"):
                self.worker = max(self.worker, rss)


@contextmanager
def worker_pool(size: int, env: dict[str, str]):
    pool = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", "--size", str(size)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(2 + size * 0.5)  # let the pool's workers register
        yield pool
    finally:
        pool.terminate()
        try:
            pool.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(pool.pid, signal.SIGKILL)


@contextmanager
def trivy_server(settings: Settings, cache_url: str):
    """``trivy server`` with the bench DB, its layer cache in the same Redis as the workers' would be."""
    port = free_port()
    env = {**os.environ, "TRIVY_CACHE_BACKEND": cache_url}
    server = subprocess.Popen(
        [settings.trivy_bin, "server", "--listen", f"127.0.0.1:{port}", "--skip-db-update"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(15)


def throughput(redis: Redis, pool_size: int, env: dict[str, str], tags: list[str], server_pid=None):
    settings = Settings.from_env(env)
    queue = Queue(settings.queue_name, connection=redis)
    forget_reports(redis)
    with worker_pool(pool_size, env) as pool, PeakRss(pool.pid, server_pid) as peak:
        through_queue(queue, settings, "big:1")  # the base is analysed once, before the clock starts
        started = time.perf_counter()
        jobs = [enqueue_scan(queue, settings, f"bigapp:{tag}") for tag in tags]
        outcomes = [wait_for(job, timeout=600) for job in jobs]
        elapsed = time.perf_counter() - started
    failed = [o.error.message for o in outcomes if o.error]
    if failed:
        raise SystemExit(f"throughput scans failed: {failed[0]}")
    return len(tags) * 60 / elapsed, peak


DEBIAN_BASE = "localhost/chainscan-bench-debian-mariadb:12"


def debian_app_tags(registry: str, tags: list[str]) -> str:
    """Push a real Debian 12 + mariadb-server base and one small application layer per tag on top of it (distinct
    digests, shared base layer). Returns the repository (``REGISTRY/bench/dbapp``)."""
    import docker

    from tests.helpers.fresh_debian import ensure_debootstrap_image

    client = docker.from_env()
    ensure_debootstrap_image(client, DEBIAN_BASE, "mariadb-server,ca-certificates")
    base, repository = f"{registry}/bench/debian-mariadb:12", f"{registry}/bench/dbapp"
    client.images.get(DEBIAN_BASE).tag(base)
    client.images.push(base)
    for tag in tags:
        dockerfile = f"FROM {base}\nRUN echo release {tag} > /srv/release-{tag}\n".encode()
        subprocess.run(
            ["docker", "build", "-q", "-t", f"{repository}:{tag}", "-"],
            input=dockerfile,
            check=True,
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        client.images.push(repository, tag=tag)
    return repository


def shared_base_ratio(queue: Queue, settings: Settings, base: str, targets: list[tuple[str, str]]) -> tuple:
    """Medians of (through the queue, raw trivy with the memory cache) over ``targets`` ((reference, registry
    target) pairs), after ``base`` was scanned once so its layers are in the cache; which goes first alternates."""
    through_queue(queue, settings, base)
    shared, raw = alternated(queue, settings, targets)
    return statistics.median(shared), statistics.median(raw)


def main() -> None:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    world = prepare(redis_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    ratio_tags = [f"r{i}" for i in range(ROUNDS)]
    load_tags = [f"t{i:02d}" for i in range(DIGESTS)]
    push_on_base(IMAGES["library/big"], world["REGISTRY"], "library/bigapp", ratio_tags + load_tags)
    settings = Settings.from_env()
    env = os.environ.copy()
    try:
        queue = Queue(settings.queue_name, connection=redis)
        dbapp = debian_app_tags(world["REGISTRY"], ratio_tags)
        with worker_pool(1, env):
            real = shared_base_ratio(
                queue,
                settings,
                f"{world['REGISTRY']}/bench/debian-mariadb:12",
                [(f"{dbapp}:{tag}", f"{dbapp}:{tag}") for tag in ratio_tags],
            )
            world_ratio = shared_base_ratio(
                queue,
                settings,
                "big:1",
                [(f"bigapp:{tag}", f"{world['REGISTRY']}/library/bigapp:{tag}") for tag in ratio_tags],
            )
        local = {size: throughput(redis, size, env, load_tags) for size in POOLS}
        remote = {}
        for size in POOLS:
            with trivy_server(settings, redis_url) as (server, url):
                remote[size] = throughput(redis, size, {**env, "TRIVY_SERVER": url}, load_tags, server.pid)
    finally:
        redis.flushdb()

    print(f"fleet scale, {ROUNDS} new digests on a base already scanned, medians")
    for label, (shared, raw) in (
        ("(d)  Debian 12 + mariadb-server (~500 MB)", real),
        ("(d') test world big:1 (178 MB, 644 pkgs) ", world_ratio),
    ):
        print(f"  {label}  raw `trivy image`, memory cache {raw * 1000:6.0f} ms")
        print(
            f"  {' ' * len(label)}  through the queue, layer cache  {shared * 1000:6.0f} ms   "
            f"ratio {shared / raw:.3f}  (target <= 0.15)"
        )
    print(f"  (e) {DIGESTS} distinct digests of one base, scans a minute; peak RSS (MB)")
    print("      workers   local  server   worker  trivy (local)  trivy (client)  trivy server")
    for size in POOLS:
        (rate, peak), (srate, speak) = local[size], remote[size]
        print(
            f"      {size:>7} {rate:7.0f} {srate:7.0f} {max(peak.worker, speak.worker) / 2**20:8.0f}"
            f" {peak.trivy / 2**20:14.0f} {speak.trivy / 2**20:15.0f} {speak.server / 2**20:13.0f}"
        )


if __name__ == "__main__":
    main()
