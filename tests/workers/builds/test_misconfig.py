"""Trivy's Dockerfile checks read back from its JSON, worst first, secrets masked. Pure."""

from workers.builds.misconfig import parse

DOCKERFILE = "FROM mariadb\nENV MYSQL_ROOT_PASSWORD=hunter2-secret\n"


def test_failed_checks_worst_first_with_secret_values_masked():
    output = {
        "Results": [
            {
                "Misconfigurations": [
                    {
                        "ID": "DS002",
                        "Severity": "HIGH",
                        "Title": "root user",
                        "Message": "Specify a USER",
                        "Status": "FAIL",
                        "CauseMetadata": {"StartLine": 1},
                    },
                    {
                        "ID": "DS031",
                        "Severity": "CRITICAL",
                        "Title": "secret in ENV",
                        "Message": "MYSQL_ROOT_PASSWORD=hunter2-secret",
                        "Status": "FAIL",
                        "CauseMetadata": {"StartLine": 2},
                    },
                    {"ID": "DS001", "Severity": "LOW", "Title": "ok", "Message": "", "Status": "PASS"},
                ]
            }
        ]
    }
    found = parse(output, DOCKERFILE)
    assert [m.id for m in found] == ["DS031", "DS002"]
    assert "hunter2-secret" not in found[0].message and found[0].line == 2


def test_no_results_is_no_misconfiguration():
    assert parse({}, DOCKERFILE) == []
