import json

from redis import Redis

from workers.config import Settings
from workers.scan.engine import Scanner

SERVER = "http://127.0.0.1:4954"


def scanner(tmp_path, with_db: bool) -> Scanner:
    if with_db:
        (tmp_path / "db").mkdir()
        (tmp_path / "db" / "metadata.json").write_text(json.dumps({"Version": 2, "UpdatedAt": "2026-12-01T00:00:00Z"}))
    env = {"TRIVY_CACHE_DIR": str(tmp_path), "TRIVY_SERVER": SERVER}
    return Scanner(Settings.from_env(env), Redis(), env=env)  # redis-py connects lazily: no server needed


def test_registry_scans_go_to_the_trivy_server_and_skip_no_local_update_there(tmp_path):
    assert scanner(tmp_path, with_db=True)._dbs() == {"skip_db": True, "skip_java_db": False, "server": SERVER}


def test_a_build_is_scanned_locally_when_the_worker_has_a_db_so_its_layers_stay_out_of_the_servers_cache(tmp_path):
    assert scanner(tmp_path, with_db=True)._dbs(local_first=True)["server"] is None


def test_a_worker_without_a_db_scans_builds_through_the_server_too(tmp_path):
    assert scanner(tmp_path, with_db=False)._dbs(local_first=True)["server"] == SERVER
