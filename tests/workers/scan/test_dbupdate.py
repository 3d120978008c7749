from workers.report import DbInfo
from workers.scan import dbupdate
from workers.scan.dbupdate import DbKind, UpdateOutcome, UpdateResult


def test_each_db_is_downloaded_by_trivys_own_flag_with_no_repository_on_the_command_line():
    assert dbupdate.download_command("trivy", DbKind.VULNERABILITY)[:3] == ["trivy", "image", "--download-db-only"]
    java = dbupdate.download_command("trivy", DbKind.JAVA)
    assert "--download-java-db-only" in java and not any("repository" in arg for arg in java)


def test_a_download_that_finished_after_this_process_asked_is_kept():
    assert dbupdate.fresh_since({"finished_at": 105.0}, asked_at=100.0)
    assert not dbupdate.fresh_since({"finished_at": 95.0}, asked_at=100.0)
    assert not dbupdate.fresh_since(None, asked_at=100.0)


def test_the_outcome_is_json_for_scripts():
    outcome = UpdateOutcome(UpdateResult.FRESH, DbInfo(version=2, updated_at="2025-07-01T06:00:00Z"), None, None)
    data = outcome.to_dict()
    assert data["result"] == "fresh" and data["db"]["version"] == 2 and data["java_db"] is None
    assert set(data) == {"result", "db", "java_db", "java_error"}
