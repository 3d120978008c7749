"""The feed parsers: the published formats are read; anything cut or malformed is refused whole."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.helpers.feeds import SAMPLE, epss_bytes, kev_bytes
from workers.feeds.parse import EpssScore, FeedError, KevEntry, parse_epss, parse_kev


def test_the_epss_csv_is_read_with_its_model_and_score_date():
    feed = parse_epss(epss_bytes())
    assert feed.model_version == "v2025.03.14"
    assert feed.date == "2026-12-04"
    assert feed.scores["CVE-2024-2961"] == EpssScore(0.93117, 0.99812)
    assert len(feed.scores) == len(SAMPLE["epss"]["scores"])


def test_an_uncompressed_epss_csv_is_read_as_well():
    assert parse_epss(epss_bytes(compressed=False)).scores == parse_epss(epss_bytes()).scores


def test_a_truncated_gzip_is_refused_whole():
    data = epss_bytes()
    with pytest.raises(FeedError, match="truncated or corrupt gzip"):
        parse_epss(data[: len(data) // 2])


def test_a_plain_csv_cut_mid_line_is_refused():
    text = epss_bytes(compressed=False)
    with pytest.raises(FeedError, match="truncated"):
        parse_epss(text[:-4])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cve,epss,percentile\nCVE-2024-1,0.1,0.2\n", "model_version"),
        ("#model_version:v1\ncve,epss,percentile\nCVE-2024-1234,0.1,0.2\n", "score_date"),
        ("#model_version:v1,score_date:2026-12-04\ncve,score\nCVE-2024-1234,0.1,0.2\n", "header"),
        ("#model_version:v1,score_date:2026-12-04\ncve,epss,percentile\nCVE-2024-1234,0.1\n", "Line 3"),
        ("#model_version:v1,score_date:2026-12-04\ncve,epss,percentile\nCVE-2024-1234,x,0.2\n", "number"),
        ("#model_version:v1,score_date:2026-12-04\ncve,epss,percentile\nCVE-2024-1234,1.5,0.2\n", "outside 0 to 1"),
        ("#model_version:v1,score_date:2026-12-04\ncve,epss,percentile\n\n", "no scores"),
        ("<html>Not here</html>\n", "does not start"),
    ],
)
def test_a_malformed_epss_file_says_what_is_wrong(text, problem):
    with pytest.raises(FeedError, match=problem):
        parse_epss(gzip.compress(text.encode()))


def test_the_kev_catalog_is_read_with_dates_and_ransomware_use():
    feed = parse_kev(kev_bytes())
    assert feed.date == "2026-12-04"
    assert feed.catalog_version == "2026.12.04"
    assert feed.entries["CVE-2023-4911"] == KevEntry("2023-11-21", "2023-12-12", True)
    assert feed.entries["CVE-2024-2961"].ransomware is False


def test_a_truncated_kev_file_is_refused():
    data = kev_bytes()
    with pytest.raises(FeedError, match="not valid JSON"):
        parse_kev(data[: len(data) // 2])


def test_a_kev_file_whose_count_disagrees_is_refused():
    doc = json.loads(kev_bytes())
    doc["vulnerabilities"].pop()
    with pytest.raises(FeedError, match="says it has 2 entries but holds 1"):
        parse_kev(json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"dateReleased": "2026-12-04"}, "no 'vulnerabilities' list"),
        ({"vulnerabilities": [{"cveID": "CVE-2024-1234", "dateAdded": "2024-01-01"}]}, "dateReleased"),
        ({"dateReleased": "2026-12-04", "vulnerabilities": [{"cveID": "nope", "dateAdded": "2024-01-01"}]}, "Entry 1"),
        ({"dateReleased": "2026-12-04", "vulnerabilities": [{"cveID": "CVE-2024-1234"}]}, "dateAdded"),
        ({"dateReleased": "2026-12-04", "vulnerabilities": []}, "no vulnerabilities"),
    ],
)
def test_a_malformed_kev_file_says_what_is_wrong(doc, problem):
    with pytest.raises(FeedError, match=problem):
        parse_kev(json.dumps(doc).encode())
