"""A new DB judges every kept inventory again (#22): what ``Scanner.reevaluate`` and the scans after it answer is
what a fresh ``trivy image`` with the new DB finds, finding for finding, on every test image — Debian, Wolfi, no
OS, both platforms of the multi-platform one, a jar, and the polyglot image's wheel, node module, gem, jar, two
.NET services, and a PHP application's Composer packages —
with fewer Trivy runs than images and no layer read from the registry.

The world: a registry of this module's own that logs every request (so blob reads are counted), every test image
pushed to it, DB A (the test DB with language advisories) and DB B (A plus advisories that hit OS and language
packages), and TRIVY_BIN pointing at a recorder that notes each Trivy subcommand before running the real binary."""

from __future__ import annotations

import copy
import os
import shutil
import stat
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from redis import Redis

from tests.conftest import TEST_REDIS_URL
from tests.helpers import trivydb
from tests.helpers.fixtures import free_port, process_environ, trivy_scan_json
from tests.helpers.images import build_and_push_all, push_extra
from tests.helpers.registry import Registry, start_registry
from workers.config import Settings, default_trivy_binary
from workers.inventory.model import PKG_ID
from workers.inventory.reevaluate import SBOM_MEMORY_LIMIT, Wanted, start
from workers.inventory.store import InventoryStore, inventory_key
from workers.reference import parse_reference
from workers.report import DbInfo, Finding, ScanReport, normalize
from workers.scan.engine import Scanner
from workers.scan.store import cache_key

pytestmark = pytest.mark.integration

ARM = "linux/arm64/v8"
OS_NEWS = ("CVE-2026-90001", "CVE-2026-90002")  # glibc on Debian 12, openssl on Wolfi
LANGUAGE_NEWS = (
    "CVE-2026-91001", "CVE-2026-91002", "CVE-2026-91003", "CVE-2026-91004", "CVE-2026-91005", "CVE-2026-91006"
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """One image a platform: the tag the bot is asked for, and the digest Trivy reads."""

    reference: str
    pinned: str  # registry/repository@digest: what the Scanner hands Trivy
    digest: str  # of the manifest, or of the index
    platform: str
    is_index: bool


@dataclass
class World:
    registry: Registry
    db_a: Path
    db_b: Path
    recorder: Path
    targets: list[Target]

    def environment(self, db: Path) -> dict[str, str]:
        return {
            "REDIS_URL": TEST_REDIS_URL,
            "TRIVY_CACHE_DIR": str(db),
            "TRIVY_SKIP_DB_UPDATE": "true",
            "TRIVY_BIN": str(self.recorder),
            "TRIVY_LAYER_CACHE": "memory",  # the fresh scans it is compared with read every layer too
            "REGISTRY_ALLOWLIST": "127.0.0.1",
            "SCAN_TIMEOUT": "300",
            "JOB_RETRIES": "0",
        }

    def runs(self) -> Counter:
        """Trivy runs so far, by subcommand (image, convert, sbom)."""
        log = self.recorder.with_suffix(".log")
        return Counter(log.read_text().split()) if log.exists() else Counter()

    def fresh(self, target: Target) -> ScanReport:
        """A fresh ``trivy image`` of the digest with DB B, as the Scanner would name it, normalized."""
        output = trivy_scan_json(self.db_b, target.pinned, platform=target.platform if target.is_index else None)
        return normalize(output, reference=target.reference, digest=None, db=DbInfo(None, None))


def _recorder(directory: Path) -> Path:
    """A TRIVY_BIN that notes its subcommand in ``trivy.log`` and runs the real Trivy."""
    path = directory / "trivy"
    real = shutil.which(default_trivy_binary())
    path.write_text(f'#!/bin/sh\necho "$1" >> "{directory / "trivy.log"}"\nexec "{real}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _databases(root: Path) -> tuple[Path, Path]:
    """DB A (the test DB with language advisories) and DB B (A a week later, with new OS and language ones)."""
    first = trivydb.language_advisories("first")
    db_a, db_b = root / "db-a", root / "db-b"
    trivydb.build_trivy_db(
        db_a,
        vulnerabilities={**trivydb.VULNERABILITIES, **{v.id: v for _, v in first}},
        language=[*trivydb.MAVEN_ADVISORIES, *(a for a, _ in first)],
    )
    glibc = trivydb.new_critical(OS_NEWS[0], "glibc")
    advisory, vulnerability = trivydb.new_critical(OS_NEWS[1], "openssl", platform=trivydb.WOLFI)
    wolfi = (replace(advisory, fixed_version="3.3.2-r0"), vulnerability)  # Wolfi ignores an advisory with no fix
    trivydb.build_updated_trivy_db(
        db_b, [glibc, wolfi, *first, *trivydb.language_advisories("later")], language=trivydb.MAVEN_ADVISORIES
    )
    for db in (db_a, db_b):
        trivydb.build_java_db(db)
    return db_a, db_b


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("reevaluation")
    registry = start_registry(free_port(), root=root / "registry", access_log=True)
    infos = {**build_and_push_all(registry.address), **push_extra(registry.address)}
    targets = [Target(i.reference, i.pinned, i.digest, "linux/amd64", i.is_index) for i in infos.values()]
    multi = infos["library/multi:1"]
    targets.append(Target(multi.reference, multi.pinned, multi.digest, ARM, True))
    db_a, db_b = _databases(root)
    yield World(registry, db_a, db_b, _recorder(root), targets)
    registry.stop()


def _scanners(world: World, db: Path, mp: pytest.MonkeyPatch, redis: Redis) -> dict[str, Scanner]:
    """A Scanner a platform, its settings read after TRIVY_CACHE_DIR names ``db`` (Trivy reads it from there)."""
    environment = world.environment(db)
    for name, value in environment.items():
        mp.setenv(name, value)
    return {
        platform: Scanner(Settings.from_env({**os.environ, "SCAN_PLATFORM": platform}), redis)
        for platform in {t.platform for t in world.targets}
    }


def _after_update(world: World, mp: pytest.MonkeyPatch, redis: Redis, targets: list[Target]) -> Scanner:
    """``targets`` scanned with DB A (their inventories kept), then an amd64 Scanner on DB B."""
    scanner = _scanners(world, world.db_a, mp, redis)["linux/amd64"]
    for target in targets:
        scanner.scan(target.reference)
    return _scanners(world, world.db_b, mp, redis)["linux/amd64"]


def _key(finding: Finding) -> tuple:
    f = finding
    return (f.id, f.package, f.installed, f.fixed, f.status, f.severity, f.layer, f.purl, f.package_id, f.source,
            f.target, f.cvss_score, f.cvss_vector, f.title, f.url, tuple(f.aliases))  # fmt: skip


def _same(report: ScanReport, fresh: ScanReport) -> None:
    """Finding for finding, counts and per-layer counts: ``report`` is what a fresh scan with the new DB says."""
    assert Counter(map(_key, report.vulnerabilities)) == Counter(map(_key, fresh.vulnerabilities))
    assert report.counts == fresh.counts and report.fixable == fresh.fixable
    image, fresh_image = report.image, fresh.image
    assert (image.os, image.size_bytes, image.created, image.labels, report.base) == (
        fresh_image.os, fresh_image.size_bytes, fresh_image.created, fresh_image.labels, fresh.base
    )  # fmt: skip
    assert [(layer.diff_id, layer.counts) for layer in report.layers] == [
        (layer.diff_id, layer.counts) for layer in fresh.layers
    ]


@dataclass
class Reevaluated:
    """What happened after the switch to DB B, observed from outside the code under test."""

    judged: dict[Target, ScanReport] = field(default_factory=dict)  # Scanner.reevaluate's reports
    scanned: dict[Target, ScanReport] = field(default_factory=dict)  # Scanner.scan's answers after it
    without_inventory: int = 0
    runs_judging: Counter = field(default_factory=Counter)  # Trivy runs during reevaluate, by subcommand
    runs_scanning: Counter = field(default_factory=Counter)  # Trivy runs during the scans after it
    counted_runs: int = 0  # what the code itself counted (ReportStore.trivy_runs) during both
    blob_gets: int = 0  # registry blob GETs during both
    manifest_gets_judging: int = 0
    manifest_gets_scanning: int = 0
    purls: dict[Target, set[str]] = field(default_factory=dict)  # each stored inventory's packages


class Watch:
    """Counts of Trivy runs and registry requests since it was made."""

    def __init__(self, world: World, scanner: Scanner) -> None:
        self.world, self.scanner = world, scanner
        self.runs, self.counted = world.runs(), scanner.store.trivy_runs()
        self.blobs, self.manifests = (
            world.registry.count("GET", "/blobs/"),
            world.registry.count("GET", "/manifests/"),
        )

    def trivy(self) -> Counter:
        return self.world.runs() - self.runs

    def manifest_gets(self) -> int:
        return self.world.registry.count("GET", "/manifests/") - self.manifests

    def blob_gets(self) -> int:
        return self.world.registry.count("GET", "/blobs/") - self.blobs


@pytest.fixture(scope="module")
def reevaluated(world: World) -> Reevaluated:
    """Every target scanned with DB A (inventories kept), then with DB B: reevaluate all, and scan each again."""
    redis = Redis.from_url(TEST_REDIS_URL)
    redis.flushdb()
    seen = Reevaluated()
    with pytest.MonkeyPatch.context() as mp:
        scanners = _scanners(world, world.db_a, mp, redis)
        for target in world.targets:  # a second tag of a digest is answered from the first one's report
            scanners[target.platform].scan(target.reference)
        for target in world.targets:
            inventory = scanners[target.platform].inventories.get(target.digest, target.platform)
            seen.purls[target] = {c.get("purl") for c in inventory.cyclonedx.get("components") or []} - {None}
        scanners = _scanners(world, world.db_b, mp, redis)
        judging = Watch(world, scanners["linux/amd64"])
        for platform, scanner in scanners.items():
            judged = scanner.reevaluate([parse_reference(t.reference) for t in world.targets if t.platform == platform])
            seen.without_inventory += len(judged.without_inventory)
            seen.judged.update(
                {t: judged.reports[(t.digest, platform)] for t in world.targets if t.platform == platform}
            )
        seen.runs_judging, seen.manifest_gets_judging = judging.trivy(), judging.manifest_gets()
        scanning = Watch(world, scanners["linux/amd64"])
        seen.scanned = {t: scanners[t.platform].scan(t.reference) for t in world.targets}
        seen.runs_scanning, seen.manifest_gets_scanning = scanning.trivy(), scanning.manifest_gets()
        seen.blob_gets = judging.blob_gets()
        seen.counted_runs = judging.scanner.store.trivy_runs() - judging.counted
    redis.flushdb()
    redis.close()
    return seen


def test_every_image_judged_again_is_what_a_fresh_scan_with_the_new_db_finds(world, reevaluated):
    assert len(reevaluated.judged) == len(world.targets) and reevaluated.without_inventory == 0
    for target in world.targets:
        fresh = world.fresh(target)
        _same(reevaluated.judged[target], fresh)
        _same(reevaluated.scanned[target], fresh)


def test_the_new_advisories_reach_os_and_language_packages(world, reevaluated):
    found = {(t.reference.split("/", 1)[1], t.platform): {f.id for f in r.vulnerabilities}
             for t, r in reevaluated.judged.items()}  # fmt: skip
    assert set(LANGUAGE_NEWS) <= found[("library/polyglot:1", "linux/amd64")]
    assert OS_NEWS[0] in found[("library/polyglot:1", "linux/amd64")]
    assert "CVE-2026-91004" in found[("library/javaapp:1", "linux/amd64")], "the jar's new maven advisory"
    assert OS_NEWS[1] in found[("chainguard/mariadb:latest", "linux/amd64")]
    assert (
        OS_NEWS[0] in found[("library/multi:1", ARM)] and OS_NEWS[0] in found[("library/mariadb:latest", "linux/amd64")]
    )
    assert found[("library/noos:1", "linux/amd64")] == set()


def test_each_file_of_one_language_type_keeps_its_own_target(reevaluated):
    polyglot = next(r for t, r in reevaluated.judged.items() if t.reference.endswith("/library/polyglot:1"))
    dotnet = {f.id: f.target for f in polyglot.vulnerabilities if f.purl.startswith("pkg:nuget/")}
    assert dotnet == {
        "CVE-2026-91005": "srv/orders/orders.deps.json",
        "CVE-2024-43485": "srv/billing/billing.deps.json",
    }


def test_composer_packages_are_kept_and_judged(reevaluated):
    polyglot = next(t for t in reevaluated.judged if t.reference.endswith("/library/polyglot:1"))
    assert "pkg:composer/guzzlehttp/guzzle@7.4.0" in reevaluated.purls[polyglot]
    composer = {
        f.id: f.target for f in reevaluated.judged[polyglot].vulnerabilities if f.purl.startswith("pkg:composer/")
    }
    target = "srv/shop/vendor/composer/installed.json"
    assert composer == {"CVE-2022-31090": target, "CVE-2026-91006": target}, "the old advisory and the new one"


def test_scans_after_the_reevaluation_are_served_from_it_without_running_trivy(reevaluated):
    assert all(report.cached for report in reevaluated.scanned.values())
    assert reevaluated.runs_scanning == Counter(), "no trivy image, no trivy sbom"
    assert reevaluated.manifest_gets_scanning == 0, "the tag's answer was noted by the reevaluation"


def test_the_reevaluation_batches_and_reads_no_layer(world, reevaluated):
    runs = reevaluated.runs_judging
    digests = {(t.digest, t.platform) for t in world.targets}
    assert set(runs) == {"sbom"}, runs
    assert runs["sbom"] < len(digests), f"{runs['sbom']} Trivy runs for {len(digests)} inventories"
    assert reevaluated.counted_runs == runs["sbom"], "ReportStore counts what ran"
    assert reevaluated.blob_gets == 0, "no layer, no config read from the registry"
    assert reevaluated.manifest_gets_judging == len(world.targets), "one manifest GET a tag and platform"


def _named(world: World, *names: str) -> list[Target]:
    return [next(t for t in world.targets if t.reference.endswith(f"/{name}")) for name in names]


def test_a_scan_after_a_db_change_judges_the_inventory_instead_of_reading_the_image(world, redis_client):
    targets = _named(world, "library/mariadb:latest", "library/javaapp:1", "library/polyglot:1")
    with pytest.MonkeyPatch.context() as mp:
        scanner = _after_update(world, mp, redis_client, targets)
        watch = Watch(world, scanner)
        reports = {t: scanner.scan(t.reference) for t in targets}
        assert watch.trivy() == Counter(sbom=3) and watch.blob_gets() == 0
    for target, report in reports.items():
        _same(report, world.fresh(target))


def test_a_digest_without_an_inventory_is_simply_scanned(world, redis_client):
    forgotten, never, kept = _named(world, "library/app:1", "library/app:2", "library/app:3")
    with pytest.MonkeyPatch.context() as mp:
        scanner = _scanners(world, world.db_a, mp, redis_client)["linux/amd64"]
        for target in (forgotten, kept):
            scanner.scan(target.reference)
        redis_client.delete(inventory_key(forgotten.digest, forgotten.platform))  # as when its TTL ran out
        scanner = _scanners(world, world.db_b, mp, redis_client)["linux/amd64"]
        judged = scanner.reevaluate([parse_reference(t.reference) for t in (forgotten, never, kept)])
        assert set(judged.reports) == {(kept.digest, kept.platform)}
        assert sorted(w.digest for w in judged.without_inventory) == sorted((forgotten.digest, never.digest))
        watch = Watch(world, scanner)
        reports = {t: scanner.scan(t.reference) for t in (forgotten, never)}
        assert watch.trivy()["image"] == 2 and watch.trivy()["sbom"] == 0
    for target, report in reports.items():
        assert not report.cached
        _same(report, world.fresh(target))


def _forget_pkg_id(store: InventoryStore, target: Target, package: str) -> None:
    """The stored inventory of ``target`` without ``package``'s PkgID: Trivy names such a package by name and version,
    so the same package of two batch mates becomes one."""
    inventory = store.get(target.digest, target.platform)
    cyclonedx = copy.deepcopy(inventory.cyclonedx)
    for component in cyclonedx["components"]:
        if component.get("name") == package:
            component["properties"] = [p for p in component.get("properties") or [] if p["name"] != PKG_ID]
    store.put(replace(inventory, cyclonedx=cyclonedx))


def test_a_batch_whose_mates_packages_trivy_merges_is_judged_one_by_one(world, redis_client, caplog):
    first, second = _named(world, "library/app:1", "library/app:2")
    fresh = {target: world.fresh(target) for target in (first, second)}
    vulnerable = {f.package for report in fresh.values() for f in report.vulnerabilities}
    with pytest.MonkeyPatch.context() as mp:
        scanner = _scanners(world, world.db_a, mp, redis_client)["linux/amd64"]
        for target in (first, second):
            scanner.scan(target.reference)
        components = scanner.inventories.get(first.digest, first.platform).cyclonedx["components"]
        clean = sorted(c["name"] for c in components if c["type"] == "library" and c["name"] not in vulnerable)[0]
        for target in (first, second):
            _forget_pkg_id(scanner.inventories, target, clean)
        scanner = _scanners(world, world.db_b, mp, redis_client)["linux/amd64"]
        watch = Watch(world, scanner)
        judged = scanner.reevaluate([parse_reference(t.reference) for t in (first, second)])
    assert judged.runs == 3 and watch.trivy() == Counter(sbom=3), "one batch, then one run each"
    assert "judging them one by one" in caplog.text
    for target in (first, second):
        _same(judged.reports[(target.digest, target.platform)], fresh[target])


def test_last_weeks_digest_is_judged_while_tags_resolve_and_a_moved_tag_adds_no_history(world, redis_client):
    """``likely`` (a digest's snapshots) says where each tag pointed last week; a tag that moved since (app:3 "was"
    app:1's digest) has its old digest judged for nothing, and only the digest it points at joins the history."""
    old, moved = _named(world, "library/app:1", "library/app:3")
    with pytest.MonkeyPatch.context() as mp:
        scanner = _scanners(world, world.db_a, mp, redis_client)["linux/amd64"]
        for target in (old, moved):
            scanner.scan(target.reference)
        repository = parse_reference(moved.reference).name
        before = len(scanner.store.history(repository))
        scanner = _scanners(world, world.db_b, mp, redis_client)["linux/amd64"]
        watch = Watch(world, scanner)
        judged = scanner.reevaluate([moved.reference], likely={moved.reference: old.digest})
        assert set(judged.reports) == {(old.digest, old.platform), (moved.digest, moved.platform)}
        assert watch.trivy() == Counter(sbom=2) and watch.manifest_gets() == 1 and watch.blob_gets() == 0
        added = scanner.store.history(repository)[: len(scanner.store.history(repository)) - before]
        assert [entry["digest"] for entry in added] == [moved.digest], "the old digest is not history"
        report = scanner.scan(moved.reference)
    assert report.cached and report.image.digest == moved.digest
    _same(report, world.fresh(moved))


def test_a_reevaluation_left_unread_leaves_no_trivy_running_and_no_file(world, redis_client):
    """The digest starts the first runs before it resolves its tags; if it fails in between, leaving the
    re-evaluation kills its runs and removes their files (nothing is stored, the scans judge again). Each run
    starts with Go's collector off up to SBOM_MEMORY_LIMIT."""
    targets = _named(world, "library/mariadb:latest", "chainguard/mariadb:latest")
    with pytest.MonkeyPatch.context() as mp:
        scanner = _after_update(world, mp, redis_client, targets)
        version = scanner._db_version()
        wanted = [Wanted(t.digest, t.platform, t.reference) for t in targets]
        with start(wanted, scanner._judging(version), scanner.inventories) as pending:
            runs = list(pending.running.values())
            assert len(runs) == 2, "Debian and Wolfi: two batches, both started"
            assert all(run.process.process.poll() is None for run in runs), "still starting up"
            environments = [process_environ(run.process.process.pid) for run in runs]
            assert all(e["GOGC"] == "off" and e["GOMEMLIMIT"] == SBOM_MEMORY_LIMIT for e in environments)
        assert all(run.process.process.returncode is not None for run in runs), "killed, not left running"
        assert not any(Path(run.directory.name).exists() for run in runs)
        assert not any(redis_client.exists(cache_key(t.digest, t.platform, version)) for t in targets)


def _reads(redis: Redis) -> int:
    stats = redis.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("get", "mget", "exists"))


def test_the_scans_of_the_job_that_judged_ask_redis_nothing_more(world, redis_client):
    """A digest scans each image right after ``reevaluate`` resolved it and read or judged its report: those scans
    are answered from what it read (one MGET), with no Redis read; another job's Scanner reads Redis as usual."""
    targets = _named(world, "library/app:1", "library/mariadb:latest", "chainguard/mariadb:latest")
    with pytest.MonkeyPatch.context() as mp:
        scanner = _after_update(world, mp, redis_client, targets)
        scanner.reevaluate([parse_reference(t.reference) for t in targets])
        before = _reads(redis_client)
        reports = {t: scanner.scan(t.reference) for t in targets}
        assert _reads(redis_client) == before
        another = _scanners(world, world.db_b, mp, redis_client)["linux/amd64"]
        assert another.scan(targets[0].reference).cached and _reads(redis_client) > before
    for target, report in reports.items():
        assert report.cached and report.image.reference == target.reference
        _same(report, world.fresh(target))


def test_without_likely_digests_the_tags_last_scanned_digest_is_judged_while_it_resolves(world, redis_client):
    """An alert pass, or a digest's Chainguard alternatives, name no digest of last week: the repository's history
    does (its newest scan of that tag). Here app:3's history says it pointed at app:1's digest: that digest is
    judged early, for nothing, and the digest app:3 resolves to is judged after; neither reads the image."""
    old, moved = _named(world, "library/app:1", "library/app:3")
    with pytest.MonkeyPatch.context() as mp:
        scanner = _scanners(world, world.db_a, mp, redis_client)["linux/amd64"]
        before = scanner.scan(old.reference)
        scanner.scan(moved.reference)
        before.image.reference = moved.reference
        scanner.store.add_history(before, parse_reference(moved.reference).name)  # app:3 was app:1's digest
        scanner = _scanners(world, world.db_b, mp, redis_client)["linux/amd64"]
        watch = Watch(world, scanner)
        judged = scanner.reevaluate([moved.reference])
    assert set(judged.reports) == {(old.digest, old.platform), (moved.digest, moved.platform)}
    assert judged.runs == 2 and watch.trivy() == Counter(sbom=2) and watch.blob_gets() == 0
