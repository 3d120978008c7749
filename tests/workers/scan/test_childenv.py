from workers.scan.childenv import trivy_env

WORKER_ENV = {
    "PATH": "/usr/bin",
    "HOME": "/home/chainscan",
    "HTTPS_PROXY": "http://proxy:3128",
    "SSL_CERT_FILE": "/etc/ssl/ca.pem",
    "DOCKER_HOST": "tcp://builder:2376",
    "TRIVY_CACHE_DIR": "/cache/trivy",
    "TRIVY_TOKEN": "server-token",
    "SLACK_BOT_TOKEN": "xoxb-secret",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "SLACK_CLIENT_SECRET": "client-secret",
    "REGISTRY_CREDENTIALS": '{"ghcr.io": {"username": "u", "password": "p"}}',
    "REDIS_URL": "redis://:password@redis:6379/0",
    "AWS_SECRET_ACCESS_KEY": "aws",
}


def test_trivy_gets_none_of_the_workers_secrets():
    env = trivy_env(WORKER_ENV)
    for secret in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_SECRET", "REGISTRY_CREDENTIALS"):
        assert secret not in env
    assert "REDIS_URL" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert not any("secret" in value for value in env.values())


def test_trivy_keeps_what_it_needs_to_run_and_reach_the_network():
    env = trivy_env(WORKER_ENV)
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/chainscan"
    assert env["HTTPS_PROXY"] == "http://proxy:3128" and env["SSL_CERT_FILE"] == "/etc/ssl/ca.pem"
    assert env["DOCKER_HOST"] == "tcp://builder:2376"


def test_trivys_own_settings_pass_through():
    env = trivy_env(WORKER_ENV)
    assert env["TRIVY_CACHE_DIR"] == "/cache/trivy" and env["TRIVY_TOKEN"] == "server-token"


def test_the_credentials_of_this_scan_are_added_and_win():
    env = trivy_env(WORKER_ENV, {"TRIVY_USERNAME": "u", "TRIVY_PASSWORD": "p", "TRIVY_CACHE_DIR": "/other"})
    assert env["TRIVY_USERNAME"] == "u" and env["TRIVY_PASSWORD"] == "p" and env["TRIVY_CACHE_DIR"] == "/other"


def test_an_empty_environment_gives_only_the_extra_variables():
    assert trivy_env({}, {"TRIVY_CACHE_BACKEND": "memory"}) == {"TRIVY_CACHE_BACKEND": "memory"}
