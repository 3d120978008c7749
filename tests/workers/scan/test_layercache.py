import pytest

from workers.config import ConfigError, Settings
from workers.scan import layercache
from workers.scan.layercache import LayerCache, LayerCacheKind


def test_the_default_layer_cache_is_the_projects_redis_for_seven_days():
    settings = Settings.from_env({"REDIS_URL": "redis://:pw@10.0.0.5:6379/0"})
    cache = layercache.choose(
        settings.layer_cache, settings.layer_cache_url, settings.redis_url, settings.layer_cache_ttl
    )
    assert cache == LayerCache(LayerCacheKind.REDIS, "redis://:pw@10.0.0.5:6379/0", 7 * 24 * 3600)
    assert cache.child_env({}) == {"TRIVY_CACHE_BACKEND": "redis://:pw@10.0.0.5:6379/0", "TRIVY_CACHE_TTL": "604800s"}


def test_another_redis_and_another_kind_can_be_chosen():
    env = {"REDIS_URL": "redis://a/0", "TRIVY_LAYER_CACHE_URL": "redis://b:6380/3", "TRIVY_LAYER_CACHE_TTL": "3600"}
    settings = Settings.from_env(env)
    cache = layercache.choose(
        settings.layer_cache, settings.layer_cache_url, settings.redis_url, settings.layer_cache_ttl
    )
    assert cache.child_env({}) == {"TRIVY_CACHE_BACKEND": "redis://b:6380/3", "TRIVY_CACHE_TTL": "3600s"}
    assert layercache.choose("fs", None, "redis://a/0", 60).child_env({}) == {"TRIVY_CACHE_BACKEND": "fs"}
    assert layercache.choose("memory", None, "redis://a/0", 60).child_env({}) == {"TRIVY_CACHE_BACKEND": "memory"}


def test_trivys_own_cache_backend_variable_wins():
    cache = layercache.choose("redis", None, "redis://a/0", 60)
    assert cache.child_env({"TRIVY_CACHE_BACKEND": "fs"}) == {}
    assert cache.child_env({"TRIVY_CACHE_TTL": "1h"}) == {"TRIVY_CACHE_BACKEND": "redis://a/0"}


def test_the_cache_url_is_never_printed_with_the_settings():
    settings = Settings.from_env({"TRIVY_LAYER_CACHE_URL": "redis://:hunter2@cache:6379/1"})
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(
        layercache.choose("redis", settings.layer_cache_url, None, 1)
    )


def test_bad_layer_cache_settings_name_their_variable_and_hide_the_value():
    with pytest.raises(ConfigError, match="TRIVY_LAYER_CACHE must be redis, fs or memory"):
        Settings.from_env({"TRIVY_LAYER_CACHE": "disk"})
    with pytest.raises(ConfigError, match="TRIVY_LAYER_CACHE_URL") as err:
        Settings.from_env({"TRIVY_LAYER_CACHE_URL": "http://:secret@x"})
    assert "secret" not in str(err.value)
    with pytest.raises(ConfigError, match="TRIVY_SERVER"):
        Settings.from_env({"TRIVY_SERVER": "127.0.0.1:4954"})


def test_without_any_redis_url_the_cache_falls_back_to_memory():
    assert layercache.choose("redis", None, None, 60) is layercache.MEMORY


def test_the_embedded_servers_url_is_rebuilt_from_the_client_with_its_password_quoted():
    assert layercache.connection_url({"host": "127.0.0.1", "port": 7001, "db": 2}) == "redis://127.0.0.1:7001/2"
    assert (
        layercache.connection_url({"host": "h", "port": 1, "db": 0, "password": "p@ss/w"})
        == "redis://:p%40ss%2Fw@h:1/0"
    )
    assert layercache.connection_url({"path": "/run/redis.sock", "db": 1}) == "unix:///run/redis.sock?db=1"
