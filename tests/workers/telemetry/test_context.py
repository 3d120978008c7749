from workers.telemetry.context import RequestContext, Source, bound, current, current_source, from_job, job_meta


def test_a_job_runs_in_the_request_its_meta_names():
    context = from_job({"request_id": "abc123", "source": "rescan", "thread": "t"}, "bot.jobs.scan_thread.open_thread")
    assert context == RequestContext("abc123", Source.RESCAN)


def test_a_digest_or_alert_job_without_meta_is_counted_as_what_it_is():
    assert from_job({}, "bot.jobs.digest_thread.send_digest").source is Source.DIGEST
    assert from_job(None, "bot.jobs.digest_thread.alert_job").source is Source.ALERT
    assert from_job({"source": "bogus"}, "workers.jobs.scan_image").source is Source.OTHER


def test_a_job_without_a_request_id_gets_a_new_one_each_time():
    first, second = from_job({}, "x"), from_job({}, "x")
    assert first.request_id and first.request_id != second.request_id


def test_jobs_enqueued_inside_a_request_carry_its_id_and_may_name_their_source():
    with bound(RequestContext("req-1", Source.SLASH_COMMAND)):
        assert job_meta() == {"request_id": "req-1", "source": "slash_command"}
        assert job_meta(Source.RESCAN) == {"request_id": "req-1", "source": "rescan"}
        assert current_source() is Source.SLASH_COMMAND
    assert current() is None and current_source() is Source.OTHER


def test_outside_any_request_a_job_starts_a_request_of_its_own():
    meta = job_meta(Source.CLI)
    assert meta["source"] == "cli" and len(meta["request_id"]) == 16
