from datetime import UTC, datetime

from workers.telemetry.fleet import Fleet, SeenWorker, families, parse_time
from workers.telemetry.health import problems

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp()


def fleet(**fields) -> Fleet:
    return Fleet(redis_up=True, **fields)


def test_a_redis_that_does_not_answer_is_the_one_problem_said():
    assert problems(Fleet(redis_up=False), NOW, db_max_age_hours=72) == [
        "Redis is not answering: check REDIS_URL and that Redis is up."
    ]


def test_a_db_nobody_has_used_yet_is_no_reason_to_refuse_work():
    assert problems(fleet(), NOW, db_max_age_hours=72) == []


def test_a_db_older_than_the_limit_is_a_sentence_with_its_age_and_what_to_do():
    (problem,) = problems(fleet(db_updated_at=parse_time("2026-12-01T12:00:00Z")), NOW, db_max_age_hours=72)
    assert problem.startswith("The Trivy DB is 96 hours old (DB_MAX_AGE_HOURS is 72)")
    assert problems(fleet(db_updated_at=parse_time("2026-12-03T12:00:00Z")), NOW, db_max_age_hours=72) == []


def idle(host: str, silent_for: float) -> SeenWorker:
    return SeenWorker(host, busy=False, last_heartbeat=NOW - silent_for)


def test_a_worker_host_is_healthy_only_while_one_of_its_workers_is_alive():
    alive = fleet(workers=(idle("worker-1", 5), idle("worker-2", 20)))
    assert problems(alive, NOW, db_max_age_hours=72, worker_host="worker-2") == []
    (problem,) = problems(alive, NOW, db_max_age_hours=72, worker_host="worker-9")
    assert "No worker of host worker-9" in problem


def test_an_idle_worker_silent_for_a_minute_is_gone_but_a_busy_one_is_trusted_to_its_job():
    workers = (idle("a", 59), idle("b", 61), SeenWorker("c", busy=True, last_heartbeat=NOW - 600))
    assert fleet(workers=workers).alive_hosts(NOW) == ["a", "c"]
    assert SeenWorker("d", busy=False, last_heartbeat=None).alive(NOW) is False


def test_the_fleet_gauges_carry_each_queue_and_the_db_age():
    found = {
        m.name: m
        for m in families(
            fleet(
                queued={"chainscan": 3, "chainscan-digest": 0},
                failed={"chainscan": 1},
                workers=(idle("a", 1), idle("b", 1), idle("gone", 300)),
                db_updated_at=parse_time("2026-12-05T11:00:00Z"),
            ),
            NOW,
        )
    }
    depth = {s.labels["queue"]: s.value for s in found["chainscan_queue_depth"].samples}
    assert depth == {"chainscan": 3, "chainscan-digest": 0}
    assert found["chainscan_workers_alive"].samples[0].value == 2
    assert found["chainscan_trivy_db_age_seconds"].samples[0].value == 3600
    assert found["chainscan_redis_up"].samples[0].value == 1


def test_without_redis_a_scrape_says_so_instead_of_failing():
    found = families(Fleet(redis_up=False), NOW)
    assert [m.name for m in found] == ["chainscan_redis_up"] and found[0].samples[0].value == 0
