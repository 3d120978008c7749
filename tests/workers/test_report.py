from workers.report import DbInfo, ScanReport, at_or_above, normalize

BASE = "sha256:" + "1" * 64
APP = "sha256:" + "2" * 64

TRIVY = {
    "Metadata": {
        "Size": 405_000_000,
        "OS": {"Family": "debian", "Name": "12.5"},
        "DiffIDs": [BASE, APP],
        "Layers": [{"DiffID": BASE, "Size": 100}, {"DiffID": APP, "Size": 200}],
        "ImageConfig": {
            "created": "2026-10-01T00:00:00Z",
            "history": [
                {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
                {"created_by": "/bin/sh -c #(nop)  ENV X=1", "empty_layer": True},
                {"created_by": "/bin/sh -c apt-get install -y mariadb-server"},
                {"created_by": '/bin/sh -c #(nop)  CMD ["mariadbd"]', "empty_layer": True},
            ],
        },
    },
    "Results": [
        {
            "Target": "x (debian 12.5)",
            "Vulnerabilities": [
                {
                    "VulnerabilityID": "CVE-1",
                    "PkgName": "libssl3",
                    "InstalledVersion": "3.0.11",
                    "FixedVersion": "3.0.13",
                    "Status": "fixed",
                    "Severity": "CRITICAL",
                    "SeveritySource": "debian",
                    "Layer": {"DiffID": BASE},
                    "CVSS": {"nvd": {"V3Score": 9.8, "V3Vector": "CVSS:3.1/AV:N"}},
                    "Title": "openssl: bad",
                },
                {
                    "VulnerabilityID": "CVE-2",
                    "PkgName": "mariadb-server",
                    "InstalledVersion": "1:10.11",
                    "Status": "affected",
                    "Severity": "HIGH",
                    "Layer": {"DiffID": APP},
                    "Description": "first line\nsecond",
                },
                {
                    "VulnerabilityID": "CVE-3",
                    "PkgName": "mariadb-server",
                    "InstalledVersion": "1:10.11",
                    "FixedVersion": "1:10.12",
                    "Status": "fixed",
                    "Severity": "HIGH",
                    "Layer": {"DiffID": APP},
                    "CVSS": {"redhat": {"V3Score": 7.5}},
                },
                {
                    "VulnerabilityID": "CVE-3",
                    "PkgName": "mariadb-client",
                    "InstalledVersion": "1:10.11",
                    "FixedVersion": "1:10.12",
                    "Status": "fixed",
                    "Severity": "HIGH",
                    "Layer": {"DiffID": APP},
                },
                {
                    "VulnerabilityID": "CVE-4",
                    "PkgName": "zlib1g",
                    "InstalledVersion": "1",
                    "Status": "will_not_fix",
                    "Severity": "WEIRD",
                    "Layer": {"DiffID": BASE},
                },
            ],
        },
        {"Target": "other", "Class": "lang-pkgs"},
    ],
}


def report() -> ScanReport:
    return normalize(
        TRIVY, reference="docker.io/library/mariadb:latest", digest="sha256:d", db=DbInfo(2, "2026-11-30T00:00:00Z")
    )


def test_counts_every_entry_as_trivy_does():
    r = report()
    assert r.counts == {"critical": 1, "high": 3, "medium": 0, "low": 0, "unknown": 1}
    assert r.fixable == {"critical": 1, "high": 2, "medium": 0, "low": 0, "unknown": 0}
    assert r.total == 5


def test_worst_first_fixable_before_unfixable_then_cvss():
    ids = [(v.id, v.package) for v in report().vulnerabilities]
    assert ids == [
        ("CVE-1", "libssl3"),
        ("CVE-3", "mariadb-server"),
        ("CVE-3", "mariadb-client"),
        ("CVE-2", "mariadb-server"),
        ("CVE-4", "zlib1g"),
    ]


def test_fields_kept():
    first, *_ = report().vulnerabilities
    assert (first.installed, first.fixed, first.status, first.cvss_score, first.cvss_vector) == (
        "3.0.11",
        "3.0.13",
        "fixed",
        9.8,
        "CVSS:3.1/AV:N",
    )
    unfixed = next(v for v in report().vulnerabilities if v.id == "CVE-2")
    assert unfixed.fixed is None and unfixed.title == "first line" and unfixed.cvss_score is None
    assert next(v for v in report().vulnerabilities if v.id == "CVE-3").cvss_score == 7.5


def test_layers_pair_diff_ids_with_non_empty_history():
    base, app = report().layers
    assert base.created_by == "ADD file:abc in /" and base.size_bytes == 100
    assert app.created_by == "RUN apt-get install -y mariadb-server"
    assert base.counts["critical"] == 1 and base.counts["unknown"] == 1
    assert app.counts["high"] == 3


def test_image_facts():
    image = report().image
    assert (image.os, image.size_bytes, image.created) == ("debian 12.5", 405_000_000, "2026-10-01T00:00:00Z")


def test_json_contract_round_trips():
    data = report().to_dict()
    assert set(data) >= {"image", "db", "counts", "fixable", "layers", "vulnerabilities"}
    assert set(data["image"]) >= {"reference", "digest", "os", "size_bytes", "created"}
    assert set(data["layers"][0]) >= {"diff_id", "created_by", "counts"}
    assert set(data["vulnerabilities"][0]) >= {
        "id",
        "package",
        "installed",
        "fixed",
        "status",
        "severity",
        "cvss_score",
        "title",
        "layer",
    }
    assert data["vulnerabilities"][3]["fixed"] is None
    assert ScanReport.from_dict(data).to_dict() == data


def test_no_os_no_results():
    r = normalize({"Metadata": {"DiffIDs": [BASE]}}, reference="x", digest=None, db=DbInfo(None, None))
    assert r.image.os is None and r.total == 0 and r.layers[0].created_by is None


def test_history_mismatch_leaves_instructions_unknown():
    meta = dict(TRIVY["Metadata"], ImageConfig={"history": [{"created_by": "only one"}]})
    r = normalize({"Metadata": meta}, reference="x", digest=None, db=DbInfo(None, None))
    assert [layer.created_by for layer in r.layers] == [None, None]


def test_at_or_above():
    assert at_or_above("high") == {"critical", "high"}
    assert at_or_above("unknown") == {"critical", "high", "medium", "low", "unknown"}
