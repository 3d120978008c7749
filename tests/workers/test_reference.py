import pytest

from workers.reference import InvalidReference, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mariadb", "docker.io/library/mariadb:latest"),
        ("mariadb:11.4", "docker.io/library/mariadb:11.4"),
        ("library/mariadb", "docker.io/library/mariadb:latest"),
        ("docker.io/mariadb", "docker.io/library/mariadb:latest"),
        ("index.docker.io/library/nginx:1.27", "docker.io/library/nginx:1.27"),
        ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
        ("ghcr.io/org/team/app:v1.2.3", "ghcr.io/org/team/app:v1.2.3"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/app:1", "localhost:5000/app:1"),
        ("127.0.0.1:5000/library/mariadb", "127.0.0.1:5000/library/mariadb:latest"),
        ("registry.example.com:8443/a/b", "registry.example.com:8443/a/b:latest"),
        (f"mariadb@{DIGEST}", f"docker.io/library/mariadb@{DIGEST}"),
        (f"mariadb:11.4@{DIGEST}", f"docker.io/library/mariadb:11.4@{DIGEST}"),
        ("cgr.dev/chainguard/mariadb:latest-dev", "cgr.dev/chainguard/mariadb:latest-dev"),
        ("my_org/some__name-x.y", "docker.io/my_org/some__name-x.y:latest"),
        ("a" * 200, "docker.io/library/" + "a" * 200 + ":latest"),
    ],
)
def test_normalizes_like_docker(text, expected):
    assert str(parse_reference(text)) == expected


def test_parts_and_familiar_form():
    ref = parse_reference("mariadb:11.4")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("docker.io", "library/mariadb", "11.4", None)
    assert ref.familiar == "mariadb:11.4"
    assert ref.short_name == "mariadb"
    assert parse_reference("127.0.0.1:5000/x/y").familiar == "127.0.0.1:5000/x/y:latest"


def test_digest_alone_has_no_tag():
    ref = parse_reference(f"127.0.0.1:5000/x@{DIGEST.upper().replace('SHA256', 'sha256')}")
    assert ref.tag is None and ref.digest == DIGEST


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "No image name"),
        ("   ", "No image name"),
        ("maria db", "no spaces"),
        ("mariadb\t", "no spaces"),
        ("MariaDB", "lower case"),
        ("Foo/bar:1", "lower case"),
        ("-rm", "cannot start with `-`"),
        ("--config=/etc/passwd", "cannot start with `-`"),
        ("mariadb;rm", "cannot contain `;`"),
        ("mariadb$(id)", "cannot contain"),
        ("mariadb`id`", "cannot contain"),
        ("x|y", "cannot contain"),
        ("a/" + "b" * 260, "longer than 255"),
        ("x" * 1000, "too long"),
        ("mariadé", "ASCII"),
        ("mariadb:", "not a valid tag"),
        ("mariadb:-x", "not a valid tag"),
        ("mariadb:" + "1" * 129, "not a valid tag"),
        ("mariadb@sha256:1234", "not a valid digest"),
        ("mariadb@md5:" + "a" * 32 + "/x", "not a valid digest"),
        ("a//b", "not a valid repository"),
        ("a/-b", "not a valid repository"),
        ("a..b", "not a valid repository"),
        ("host:99x/app", "not a valid registry"),
        ("docker.io/", "names no repository"),
    ],
)
def test_refuses_bad_input_with_a_sentence(text, says):
    with pytest.raises(InvalidReference) as err:
        parse_reference(text)
    assert says in str(err.value)
    assert str(err.value).endswith((".", ")")) or "`" in str(err.value)


def test_platform_matching():
    from workers.scan.resolve import platform_matches

    assert platform_matches("linux/arm64", "linux/arm64/v8")
    assert platform_matches("linux/arm64/v8", "linux/arm64")
    assert platform_matches("linux/amd64", "linux/amd64")
    assert not platform_matches("linux/arm/v6", "linux/arm/v7")
    assert not platform_matches("linux/amd64", "linux/arm64")


def test_a_backtick_is_named_not_echoed_as_an_unbalanced_code_span():
    with pytest.raises(InvalidReference) as err:
        parse_reference("mariadb`id`;")
    assert str(err.value) == "Image references cannot contain `;` or a backtick."
