import pytest

from workers.builds.secrets import MASK, mask_secrets, scrub, secret_values

DOCKERFILE = """FROM mariadb:latest
ENV MYSQL_ROOT_PASSWORD=hunter2-root
ENV MYSQL_DATABASE=shop
ARG API_TOKEN="abc def"
ENV DB_PASSWORD mypass123
RUN echo build --build-arg GITHUB_TOKEN=ghp_123456 done
EXPOSE 3306
"""


def test_values_of_secret_names_are_masked():
    masked = mask_secrets(DOCKERFILE)
    for secret in ("hunter2-root", "abc def", "mypass123", "ghp_123456"):
        assert secret not in masked
    assert f"MYSQL_ROOT_PASSWORD={MASK}" in masked and f"ENV DB_PASSWORD {MASK}" in masked
    assert "MYSQL_DATABASE=shop" in masked and "EXPOSE 3306" in masked


def test_echoed_values_are_scrubbed_too():
    values = secret_values(DOCKERFILE)
    log = "Step 2/7 : ENV MYSQL_ROOT_PASSWORD=hunter2-root\n ---> echo hunter2-root and mypass123"
    out = scrub(log, values)
    assert "hunter2-root" not in out and "mypass123" not in out


@pytest.mark.parametrize("text", ["", "FROM x", "ENV PATH=/usr/bin"])
def test_nothing_secret_nothing_changed(text):
    assert mask_secrets(text) == text


@pytest.mark.parametrize(
    "line",
    [
        "AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        '{"AccessKeyId" : "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
        "'Token': 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' key AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_attack_aws_keys_and_credential_documents_are_masked(line):
    masked = mask_secrets(line)
    assert "AIOSFODNN7EXAMPLE" not in masked and "EXAMPLEKEY" not in masked
