"""Build a small Trivy vulnerability DB (schema 2) for offline tests.

`build_trivy_db(cache_dir)` writes ``CACHE_DIR/db/trivy.db`` (bbolt) and
``CACHE_DIR/db/metadata.json`` so that ``trivy image --skip-db-update --cache-dir CACHE_DIR``
runs with no network. The data is declarative: `VULNERABILITIES` (details, keyed by ID)
and `ADVISORIES` (which source package of which platform is affected, fixed in which
version). `tests.helpers.images.expected_vulnerabilities` matches them against the test
images to predict what Trivy reports.

Bucket layout written (as Trivy reads it):

    vulnerability/<ID>                      -> details JSON
    data-source/<platform>                  -> {"ID", "Name", "URL"}
    <platform>/<source package>/<ID>        -> {"FixedVersion"?, "Status"?, "Severity"?, "VendorIDs"?}

Platforms are ``debian 12``, ``wolfi`` and ``chainguard``. Language packages' advisories (`language=`) go in
``<ecosystem>::<source>/<package>/<ID>`` buckets: `MAVEN_ADVISORIES`, and the pip, npm and RubyGems ones of
``data/language-advisories.json`` (`language_advisories()`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.helpers.bbolt import write_bbolt

SCHEMA_VERSION = 2
DEFAULT_UPDATED_AT = datetime(2025, 3, 4, 6, 12, 31, tzinfo=UTC)

DEBIAN_12 = "debian 12"
WOLFI = "wolfi"
CHAINGUARD = "chainguard"

DATA_SOURCES: dict[str, dict[str, str]] = {
    DEBIAN_12: {
        "ID": "debian",
        "Name": "Debian Security Tracker",
        "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
    },
    WOLFI: {"ID": "wolfi", "Name": "Wolfi Secdb", "URL": "https://packages.wolfi.dev/os/security.json"},
    CHAINGUARD: {
        "ID": "chainguard",
        "Name": "Chainguard Security Data",
        "URL": "https://packages.cgr.dev/chainguard/security.json",
    },
}

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
STATUSES = (
    "unknown",
    "not_affected",
    "affected",
    "fixed",
    "under_investigation",
    "will_not_fix",
    "fix_deferred",
    "end_of_life",
)


@dataclass(frozen=True)
class Vulnerability:
    """The `vulnerability` bucket entry: details shared by every package it affects."""

    id: str
    title: str
    description: str
    nvd_score: float | None = None
    nvd_vector: str | None = None
    vendor_severity: dict[str, str] = field(default_factory=dict)  # source ID -> severity name
    cwe_ids: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    published: str | None = None
    last_modified: str | None = None

    def to_json(self) -> dict:
        doc: dict = {"Title": self.title, "Description": self.description}
        if "nvd" in self.vendor_severity:
            doc["Severity"] = self.vendor_severity["nvd"]
        if self.cwe_ids:
            doc["CweIDs"] = list(self.cwe_ids)
        if self.vendor_severity:
            doc["VendorSeverity"] = {k: SEVERITIES.index(v) for k, v in self.vendor_severity.items()}
        if self.nvd_vector:
            doc["CVSS"] = {"nvd": {"V3Vector": self.nvd_vector, "V3Score": self.nvd_score}}
        if self.references:
            doc["References"] = list(self.references)
        if self.published:
            doc["PublishedDate"] = self.published
        if self.last_modified:
            doc["LastModifiedDate"] = self.last_modified
        return doc


@dataclass(frozen=True)
class Advisory:
    """One platform/source-package/vulnerability entry.

    `severity` is a package-specific severity (Debian only); `status` is one of
    `STATUSES` and only written when there is no fixed version.
    """

    vuln_id: str
    platform: str
    source: str
    fixed_version: str | None = None
    status: str | None = None
    severity: str | None = None
    vendor_ids: tuple[str, ...] = ()

    def to_json(self) -> dict:
        doc: dict = {}
        if self.vendor_ids:
            doc["VendorIDs"] = list(self.vendor_ids)
        if self.fixed_version:
            doc["FixedVersion"] = self.fixed_version
        if self.status:
            doc["Status"] = STATUSES.index(self.status)
        if self.severity:
            doc["Severity"] = SEVERITIES.index(self.severity)
        return doc


@dataclass(frozen=True)
class LanguageAdvisory:
    """A language package's advisory, in the bucket ``<ecosystem>::<source>`` (e.g. maven), keyed by the
    normalised package name (maven: ``group:artifact``), as Trivy reads it."""

    vuln_id: str
    bucket: str
    package: str
    vulnerable: tuple[str, ...]
    patched: tuple[str, ...] = ()

    def to_json(self) -> dict:
        doc: dict = {"VulnerableVersions": list(self.vulnerable)}
        if self.patched:
            doc["PatchedVersions"] = list(self.patched)
        return doc


def _nvd_severity(score: float) -> str:
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW" if score > 0 else "UNKNOWN"


def _days_later(timestamp: str, days: int) -> str:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _cve(
    vuln_id: str,
    title: str,
    description: str,
    score: float | None,
    vector: str | None,
    published: str,
    *,
    debian: str | None = None,
    cwe: tuple[str, ...] = (),
    refs: tuple[str, ...] = (),
    modified: str | None = None,
) -> Vulnerability:
    """A vulnerability scored by NVD (CVSS 3.1), optionally with a Debian severity."""
    vendor: dict[str, str] = {}
    if score is not None:
        vendor["nvd"] = _nvd_severity(score)
    if debian:
        vendor["debian"] = debian
    references = refs or (
        f"https://nvd.nist.gov/vuln/detail/{vuln_id}",
        f"https://security-tracker.debian.org/tracker/{vuln_id}",
        f"https://www.cve.org/CVERecord?id={vuln_id}",
    )
    return Vulnerability(
        id=vuln_id,
        title=title,
        description=description,
        nvd_score=score,
        nvd_vector=f"CVSS:3.1/{vector}" if vector else None,
        vendor_severity=vendor,
        cwe_ids=cwe,
        references=references,
        published=published,
        last_modified=modified or _days_later(published, 41),
    )


_OPENSSL_5535_DESCRIPTION = """\
Issue summary: Calling the OpenSSL API function SSL_select_next_proto with an
empty supported client protocols buffer may cause a crash or memory contents to
be sent to the peer.

Impact summary: A buffer overread can have a range of potential consequences
such as unexpected application beahviour or a crash. In particular this issue
could result in up to 255 bytes of arbitrary private data from memory being sent
to the peer leading to a loss of confidentiality. However, only applications
that directly call the SSL_select_next_proto function with a 0 length list of
supported client protocols are affected by this issue. This would normally never
be a valid scenario and is typically not under attacker control but may occur by
accident in the case of a configuration or programming error in the calling
application.

The OpenSSL API function SSL_select_next_proto is typically used by TLS
applications that support ALPN (Application Layer Protocol Negotiation) or NPN
(Next Protocol Negotiation). NPN is older, was never standardised and
is deprecated in favour of ALPN. We believe that ALPN is significantly more
widely deployed than NPN. The SSL_select_next_proto function accepts a list of
protocols from the server and a list of protocols from the client and returns
the first protocol that appears in the server list that also appears in the
client list. In the case of no overlap between the two lists it returns the
first item in the client list. In either case it will signal whether an overlap
between the two lists was found. In the case where SSL_select_next_proto is
called with a zero length client list it fails to notice this condition and
returns the memory immediately following the client list pointer (and reports
that there was no overlap in the lists).

This function is typically called from a server side application callback for
ALPN or a client side application callback for NPN. In the case of ALPN the list
of protocols supplied by the client is guaranteed by libssl to never be zero in
length. The list of server protocols comes from the application and should never
normally be expected to be of zero length. In this case if the
SSL_select_next_proto function has been called as expected (with the list
supplied by the client passed in the client/client_len parameters), then the
application will not be vulnerable to this issue. If the application has
accidentally been configured with a zero length server list, and has
accidentally passed that zero length server list in the client/client_len
parameters, and has additionally failed to correctly handle a "no overlap"
response (which would normally result in a handshake failure in ALPN) then it
will be vulnerable to this problem.

In the case of NPN, the protocol permits the client to opportunistically select
a protocol when there is no overlap. OpenSSL returns the first client protocol
in the no overlap case in support of this. The list of client protocols comes
from the application and should never normally be expected to be of zero
length. However if the SSL_select_next_proto function is accidentally called
with a client_len of 0 then an invalid memory pointer will be returned instead.
If the application uses this output as the opportunistic protocol then the
loss of confidentiality will occur.

This issue has been assessed as Low severity because applications are most
likely to be vulnerable if they are using NPN instead of ALPN - but NPN is not
widely used. It also requires an application configuration or programming error.
Finally, this issue would not typically be under attacker control making active
exploitation unlikely.

The FIPS modules in 3.3, 3.2, 3.1 and 3.0 are not affected by this issue.

Due to the low severity of this issue we are not issuing new releases of
OpenSSL at this time. The fix will be included in the next releases when they
become available."""

# Many references, like the real NVD record: with the long description this entry is
# larger than a bbolt page, so the DB needs overflow pages to hold it.
_OPENSSL_5535_REFERENCES = (
    "https://access.redhat.com/security/cve/CVE-2024-5535",
    "https://github.com/openssl/openssl/commit/4ada436a1946cbb24db5ab4ca082b69c1bc10f37",
    "https://github.com/openssl/openssl/commit/99fb785a5f85315b95288921a321a935ea29a51e",
    "https://github.com/openssl/openssl/commit/cf6f91f6121f4db167405db2f0de410a456f260c",
    "https://github.com/openssl/openssl/commit/e86ac436f0bd54d4517745483e2315650fae7b2c",
    "https://github.openssl.org/openssl/extended-releases/commit/9947251413065a05189a63c9b7a6c1d4e224c21c",
    "https://github.openssl.org/openssl/extended-releases/commit/b78ec0824da857223194f6d2d2c3d8c3e3a1a7b5",
    "https://lists.debian.org/debian-lts-announce/2024/10/msg00021.html",
    "https://nvd.nist.gov/vuln/detail/CVE-2024-5535",
    "https://openssl.org/news/secadv/20240627.txt",
    "https://security.netapp.com/advisory/ntap-20240712-0005/",
    "https://security-tracker.debian.org/tracker/CVE-2024-5535",
    "https://ubuntu.com/security/notices/USN-6937-1",
    "https://www.cve.org/CVERecord?id=CVE-2024-5535",
    "https://www.openssl.org/news/secadv/20240627.txt",
    "http://www.openwall.com/lists/oss-security/2024/06/27/1",
    "http://www.openwall.com/lists/oss-security/2024/06/28/4",
    "http://www.openwall.com/lists/oss-security/2024/08/15/1",
)

_AV_NET = "AV:N/AC:L/PR:N/UI:N"
_AV_LOCAL = "AV:L/AC:L/PR:L/UI:N"

VULNERABILITIES: dict[str, Vulnerability] = {
    v.id: v
    for v in [
        # --- glibc
        _cve(
            "CVE-2024-2961",
            "glibc: Out of bounds write in iconv may lead to remote code execution",
            "The iconv() function in the GNU C Library versions 2.39 and older may overflow the output "
            "buffer passed to it by up to 4 bytes when converting strings to the ISO-2022-CN-EXT character "
            "set, which may be used to crash an application or overwrite a neighbouring variable.",
            7.3,
            f"{_AV_NET}/S:U/C:L/I:L/A:L",
            "2024-04-17T18:15:15.833Z",
            cwe=("CWE-787",),
        ),
        _cve(
            "CVE-2024-33599",
            "glibc: stack-based buffer overflow in netgroup cache",
            "nscd: Stack-based buffer overflow in netgroup cache. If the Name Service Cache Daemon's (nscd) "
            "fixed size cache is exhausted by client requests then a subsequent client request for netgroup "
            "data may result in a stack-based buffer overflow. This flaw was introduced in glibc 2.15 when "
            "the cache was added to nscd.",
            7.6,
            "AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:H",
            "2024-05-06T20:15:11.437Z",
            cwe=("CWE-121",),
        ),
        _cve(
            "CVE-2023-4911",
            "glibc: buffer overflow in ld.so leading to privilege escalation",
            "A buffer overflow was discovered in the GNU C Library's dynamic loader ld.so while processing "
            "the GLIBC_TUNABLES environment variable. This issue could allow a local attacker to use "
            "maliciously crafted GLIBC_TUNABLES environment variables when launching binaries with SUID "
            "permission to execute code with elevated privileges.",
            7.8,
            f"{_AV_LOCAL}/S:U/C:H/I:H/A:H",
            "2023-10-03T18:15:10.463Z",
            cwe=("CWE-787",),
        ),
        _cve(
            "CVE-2023-6246",
            "glibc: heap-based buffer overflow in __vsyslog_internal()",
            "A heap-based buffer overflow was found in the __vsyslog_internal function of the glibc library. "
            "This function is called by the syslog and vsyslog functions. This issue occurs when the "
            "openlog function was not called, or called with the ident argument set to NULL, and the program "
            "name (the basename of argv[0]) is bigger than 1024 bytes, resulting in an application crash or "
            "local privilege escalation.",
            7.8,
            f"{_AV_LOCAL}/S:U/C:H/I:H/A:H",
            "2024-01-31T14:15:48.093Z",
            cwe=("CWE-787", "CWE-122"),
        ),
        _cve(
            "CVE-2010-4756",
            "glibc: glob implementation can cause excessive CPU and memory consumption due to crafted glob expressions",
            "The glob implementation in the GNU C Library (aka glibc or libc6) allows remote authenticated "
            "users to cause a denial of service (CPU and memory consumption) via crafted glob expressions "
            "that do not match any pathnames, as demonstrated by glob expressions in STAT commands to an FTP "
            "daemon, a different vulnerability than CVE-2010-2632.",
            None,
            None,
            "2011-03-02T20:00:01.037Z",
            cwe=("CWE-399",),
        ),
        _cve(
            "CVE-2019-1010022",
            "glibc: stack guard protection bypass",
            "GNU Libc current is affected by: Mitigation bypass. The impact is: Attacker may bypass stack guard "
            "protection. The component is: nptl. The attack vector is: Exploit stack buffer overflow "
            "vulnerability and use this bypass vulnerability to bypass stack guard. NOTE: Upstream comments "
            'indicate "this is being treated as a non-security bug and no real threat."',
            9.8,
            f"{_AV_NET}/S:U/C:H/I:H/A:H",
            "2019-07-15T04:15:13.317Z",
            cwe=("CWE-119",),
        ),
        # --- zlib
        _cve(
            "CVE-2023-45853",
            "zlib: integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_6",
            "MiniZip in zlib through 1.3 has an integer overflow and resultant heap-based buffer overflow in "
            "zipOpenNewFileInZip4_64 via a long filename, comment, or extra field. NOTE: MiniZip is not a "
            "supported part of the zlib product. NOTE: pyminizip through 0.2.6 is also vulnerable because it "
            "bundles an affected zlib version, and exposes the applicable MiniZip code through its compress API.",
            9.8,
            f"{_AV_NET}/S:U/C:H/I:H/A:H",
            "2023-10-14T02:15:09.323Z",
            cwe=("CWE-190",),
        ),
        # --- perl
        _cve(
            "CVE-2023-31486",
            "http-tiny: insecure TLS cert default",
            "HTTP::Tiny before 0.083, a Perl core module since 5.13.9 and available standalone on CPAN, has an "
            "insecure default TLS configuration where users must opt in to verify certificates.",
            8.1,
            "AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "2023-04-29T00:15:09.083Z",
            cwe=("CWE-295",),
        ),
        _cve(
            "CVE-2023-31484",
            "perl: CPAN.pm does not verify TLS certificates when downloading distributions over HTTPS",
            "CPAN.pm before 2.35 does not verify TLS certificates when downloading distributions over HTTPS.",
            8.1,
            "AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "2023-04-29T00:15:09.000Z",
            cwe=("CWE-295",),
        ),
        _cve(
            "CVE-2011-4116",
            "perl: File:: Temp insecure temporary file handling",
            "_is_safe in the File::Temp module for Perl does not properly handle symlinks.",
            7.5,
            f"{_AV_NET}/S:U/C:N/I:H/A:N",
            "2020-01-31T18:15:11.343Z",
            debian="LOW",
            cwe=("CWE-59",),
        ),
        # --- pcre2
        _cve(
            "CVE-2022-41409",
            "pcre2: negative repeat value in a pcre2test subject line leads to inifinite loop",
            "Integer overflow vulnerability in pcre2test before 10.41 allows attackers to cause a denial of "
            "service or other unspecified impacts via negative input.",
            7.5,
            f"{_AV_NET}/S:U/C:N/I:N/A:H",
            "2023-07-18T14:15:12.197Z",
            debian="LOW",
            cwe=("CWE-190",),
        ),
        # --- systemd
        _cve(
            "CVE-2023-50387",
            "bind9: KeyTrap - Extreme CPU consumption in DNSSEC validator",
            "Certain DNSSEC aspects of the DNS protocol (in RFC 4033, 4034, 4035, 6840, and related RFCs) allow "
            "remote attackers to cause a denial of service (CPU consumption) via one or more DNSSEC responses, "
            'aka the "KeyTrap" issue. One of the concerns is that, when there is a zone with many DNSKEY and '
            "RRSIG records, the protocol specification implies that an algorithm must evaluate all combinations "
            "of DNSKEY and RRSIG records.",
            7.5,
            f"{_AV_NET}/S:U/C:N/I:N/A:H",
            "2024-02-14T16:15:45.300Z",
            cwe=("CWE-770",),
        ),
        _cve(
            "CVE-2023-31437",
            "An issue was discovered in systemd 253. An attacker can modify a sealed log ...",
            "An issue was discovered in systemd 253. An attacker can modify a sealed log file such that, in "
            "some views, not all existing and sealed log messages are displayed. NOTE: the vendor reportedly "
            'sent "a reply denying that any of the finding was a security vulnerability."',
            5.3,
            f"{_AV_NET}/S:U/C:N/I:L/A:N",
            "2023-06-13T17:15:14.643Z",
        ),
        _cve(
            "CVE-2023-26604",
            "systemd: privilege escalation via the less pager",
            "systemd before 247 does not adequately block local privilege escalation for some Sudo "
            'configurations, e.g., plausible sudoers files in which the "systemctl status" command may be '
            "executed.",
            7.8,
            f"{_AV_LOCAL}/S:U/C:H/I:H/A:H",
            "2023-03-03T16:15:10.340Z",
            cwe=("CWE-269",),
        ),
        # --- gnutls28
        _cve(
            "CVE-2024-28834",
            "gnutls: vulnerable to Minerva side-channel information leak",
            "A flaw was found in GnuTLS. The Minerva attack is a cryptographic vulnerability that exploits "
            "deterministic behavior in systems like GnuTLS, leading to side-channel leaks. In specific "
            "scenarios, such as when using the GNUTLS_PRIVKEY_FLAG_REPRODUCIBLE flag, it can lead to a "
            "noticeable step in nonce size from 513 to 512 bits, exposing a potential timing side-channel.",
            5.3,
            "AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
            "2024-03-21T14:15:07.547Z",
            cwe=("CWE-327",),
        ),
        _cve(
            "CVE-2024-0553",
            "gnutls: incomplete fix for CVE-2023-5981",
            "A vulnerability was found in GnuTLS. The response times to malformed ciphertexts in RSA-PSK "
            "ClientKeyExchange differ from the response times of ciphertexts with correct PKCS#1 v1.5 "
            "padding. This issue may allow a remote attacker to perform a timing side-channel attack in the "
            "RSA-PSK key exchange, potentially leading to the leakage of sensitive data.",
            7.5,
            f"{_AV_NET}/S:U/C:H/I:N/A:N",
            "2024-01-16T12:15:45.557Z",
            cwe=("CWE-203",),
        ),
        _cve(
            "CVE-2011-3389",
            "HTTPS: block-wise chosen-plaintext attack against SSL/TLS (BEAST)",
            "The SSL protocol, as used in certain configurations in Microsoft Windows and Microsoft Internet "
            "Explorer, Mozilla Firefox, Google Chrome, Opera, and other products, encrypts data by using CBC "
            "mode with chained initialization vectors, which allows man-in-the-middle attackers to obtain "
            "plaintext HTTP headers via a blockwise chosen-boundary attack (BCBA) on an HTTPS session.",
            4.3,
            "AV:N/AC:M/PR:N/UI:N/S:U/C:L/I:N/A:N",
            "2011-09-06T19:55:03.197Z",
            debian="LOW",
            cwe=("CWE-326",),
        ),
        # --- libgcrypt20
        _cve(
            "CVE-2018-6829",
            "libgcrypt: ElGamal implementation doesn't have semantic security due to incorrectly encoded plaintexts",
            "cipher/elgamal.c in Libgcrypt through 1.8.2, when used to encrypt messages directly, improperly "
            "encodes plaintexts, which allows attackers to obtain sensitive information by reading ciphertext "
            "data (i.e., it does not have semantic security in face of a ciphertext-only attack).",
            7.5,
            f"{_AV_NET}/S:U/C:H/I:N/A:N",
            "2018-02-07T23:29:01.703Z",
            debian="LOW",
            cwe=("CWE-327",),
        ),
        _cve(
            "CVE-2024-2236",
            "libgcrypt: vulnerable to Marvin Attack",
            "A timing-based side-channel flaw was found in libgcrypt's RSA implementation. This issue may "
            "allow a remote attacker to initiate a Bleichenbacher-style attack, which can lead to the "
            "decryption of RSA ciphertexts.",
            5.9,
            "AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
            "2024-03-06T22:15:57.977Z",
            cwe=("CWE-208",),
        ),
        # --- ncurses
        _cve(
            "CVE-2023-50495",
            "ncurses: segmentation fault via _nc_wrap_entry()",
            "NCurse v6.4-20230418 was discovered to contain a segmentation fault via the component _nc_wrap_entry().",
            6.5,
            f"{_AV_NET}/S:U/C:N/I:N/A:H".replace("UI:N", "UI:R"),
            "2023-12-12T15:15:07.867Z",
        ),
        _cve(
            "CVE-2023-29491",
            "ncurses: Local users can trigger security-relevant memory corruption via malformed data",
            "ncurses before 6.4 20230408, when used by a setuid application, allows local users to trigger "
            "security-relevant memory corruption via malformed data in a terminfo database file.",
            7.8,
            f"{_AV_LOCAL}/S:U/C:H/I:H/A:H",
            "2023-04-14T01:15:08.570Z",
            cwe=("CWE-787",),
        ),
        # --- shadow
        _cve(
            "CVE-2023-4641",
            "shadow-utils: possible password leak during passwd(1) change",
            "A flaw was found in shadow-utils. When asking for a new password, shadow-utils asks the password "
            "twice. If the password fails on the second attempt, shadow-utils fails in cleaning the buffer used "
            "to store the first entry. This may allow an attacker with enough access to retrieve the password "
            "from the memory.",
            5.5,
            f"{_AV_LOCAL}/S:U/C:H/I:N/A:N",
            "2023-12-27T16:15:13.363Z",
            cwe=("CWE-287",),
        ),
        _cve(
            "CVE-2007-5686",
            "initscripts in rPath Linux 1 sets insecure permissions for the /var/log/btmp file, ...",
            "initscripts in rPath Linux 1 sets insecure permissions for the /var/log/btmp file, which allows "
            "local users to obtain sensitive information regarding authentication attempts. NOTE: because "
            "sshd detects the insecure permissions and does not log certain events, this also prevents sshd "
            "from logging failed authentication attempts by remote attackers.",
            4.9,
            "AV:L/AC:L/PR:H/UI:N/S:U/C:H/I:N/A:N",
            "2007-10-28T17:08:00.000Z",
            debian="LOW",
            cwe=("CWE-264",),
        ),
        # --- tar
        _cve(
            "CVE-2022-48303",
            "tar: heap buffer overflow at from_header() in list.c via specially crafted checksum",
            "GNU Tar through 1.34 has a one-byte out-of-bounds read that results in use of uninitialized "
            "memory for a conditional jump. Exploitation to change the flow of control has not been "
            "demonstrated. The issue occurs in from_header in list.c via a V7 archive in which mtime has "
            "approximately 11 whitespace characters.",
            5.5,
            f"{_AV_LOCAL}/S:U/C:N/I:N/A:H".replace("PR:L/UI:N", "PR:N/UI:R"),
            "2023-01-30T04:15:08.030Z",
            cwe=("CWE-125",),
        ),
        Vulnerability(
            id="TEMP-0290435-0B57B5",
            title="[tar's rmt command may have undesired side effects]",
            description="tar's rmt command may have undesired side effects when the remote tape host "
            "is controlled by an attacker.",
            references=("https://security-tracker.debian.org/tracker/TEMP-0290435-0B57B5",),
        ),
        Vulnerability(
            id="TEMP-0841856-B18BAF",
            title="[Privilege escalation possible to other user than root]",
            description="bash: a user allowed to run a restricted command through sudo may escape to a "
            "shell of another user than root.",
            references=("https://security-tracker.debian.org/tracker/TEMP-0841856-B18BAF",),
        ),
        # --- util-linux
        _cve(
            "CVE-2024-28085",
            "util-linux: CVE-2024-28085: wall: escape sequence injection",
            "wall in util-linux through 2.40, often installed with setgid tty permissions, allows escape "
            "sequences to be sent to other users' terminals through argv. (Specifically, escape sequences "
            "received from stdin are blocked, but escape sequences received from argv are not blocked.) There "
            "may be plausible scenarios where this leads to account takeover.",
            8.4,
            "AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "2024-03-27T19:15:48.367Z",
            cwe=("CWE-150",),
        ),
        _cve(
            "CVE-2022-0563",
            "util-linux: partial disclosure of arbitrary files in chfn and chsh when compiled with libreadline",
            "A flaw was found in the util-linux chfn and chsh utilities when compiled with Readline support. "
            'The Readline library uses an "INPUTRC" environment variable to get a path to the library config '
            "file. When the library cannot parse the specified file, it prints an error message containing "
            "data from the file.",
            5.5,
            f"{_AV_LOCAL}/S:U/C:H/I:N/A:N",
            "2022-02-21T19:15:08.393Z",
            debian="LOW",
            cwe=("CWE-209",),
        ),
        # --- apt
        _cve(
            "CVE-2011-3374",
            "It was found that apt-key in apt, all versions, do not correctly validate gpg keys ...",
            "It was found that apt-key in apt, all versions, do not correctly validate gpg keys with the master "
            "keyring, leading to a potential man-in-the-middle attack.",
            3.7,
            "AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:L/A:N",
            "2019-11-26T00:15:11.033Z",
            debian="LOW",
            cwe=("CWE-347",),
        ),
        # --- coreutils
        _cve(
            "CVE-2016-2781",
            "coreutils: Non-privileged session can escape to the parent session in chroot",
            "chroot in GNU coreutils, when used with --userspec, allows local users to escape to the parent "
            "session via a crafted TIOCSTI ioctl call, which pushes characters to the terminal's input buffer.",
            6.5,
            "AV:L/AC:L/PR:L/UI:N/S:C/C:N/I:H/A:N",
            "2017-02-07T15:59:00.333Z",
            debian="LOW",
            cwe=("CWE-20",),
        ),
        _cve(
            "CVE-2017-18018",
            "coreutils: race condition vulnerability in chown and chgrp",
            "In GNU Coreutils through 8.29, chown-core.c in chown and chgrp does not prevent replacement of a "
            'plain file with a symlink during use of the POSIX "-R -L" options, which allows local users to '
            "modify the ownership of arbitrary files by leveraging a race condition.",
            4.7,
            "AV:L/AC:H/PR:L/UI:N/S:U/C:N/I:H/A:N",
            "2018-01-04T04:29:00.190Z",
            debian="LOW",
            cwe=("CWE-362",),
        ),
        # --- gnupg2
        _cve(
            "CVE-2022-3219",
            "gnupg: denial of service issue (resource consumption) using compressed packets",
            "GnuPG can be made to spin on a relatively small input by (for example) crafting a public key with "
            "thousands of signatures attached, compressed down to just a few KB.",
            3.3,
            "AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:L",
            "2023-02-23T20:15:12.393Z",
            cwe=("CWE-787",),
        ),
        # --- openssl
        _cve(
            "CVE-2024-5535",
            "openssl: SSL_select_next_proto buffer overread",
            _OPENSSL_5535_DESCRIPTION,
            9.1,
            f"{_AV_NET}/S:U/C:H/I:N/A:H",
            "2024-06-27T11:15:24.447Z",
            cwe=("CWE-200",),
            refs=_OPENSSL_5535_REFERENCES,
        ),
        _cve(
            "CVE-2023-5678",
            "openssl: Generating excessively long X9.42 DH keys or checking excessively long X9.42 DH keys or parameters may be very slow",
            "Issue summary: Generating excessively long X9.42 DH keys or checking excessively long X9.42 DH "
            "keys or parameters may be very slow. Impact summary: Applications that use the functions "
            "DH_generate_key() to generate an X9.42 DH key may experience long delays. Where the key or "
            "parameters that are being checked have been obtained from an untrusted source this may lead to "
            "a Denial of Service.",
            5.3,
            f"{_AV_NET}/S:U/C:N/I:N/A:L",
            "2023-11-06T16:15:42.670Z",
            cwe=("CWE-754",),
        ),
        _cve(
            "CVE-2024-0727",
            "openssl: denial of service via null dereference",
            "Issue summary: Processing a maliciously formatted PKCS12 file may lead OpenSSL to crash leading to "
            "a potential Denial of Service attack. Impact summary: Applications loading files in the PKCS12 "
            "format from untrusted sources might terminate abruptly.",
            5.5,
            "AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H",
            "2024-01-26T09:15:07.637Z",
            debian="LOW",
            cwe=("CWE-476",),
        ),
        _cve(
            "CVE-2023-5363",
            "openssl: Incorrect cipher key and IV length processing",
            "Issue summary: A bug has been identified in the processing of key and initialisation vector (IV) "
            "lengths. This can lead to potential truncation or overruns during the initialisation of some "
            "symmetric ciphers.",
            7.5,
            f"{_AV_NET}/S:U/C:H/I:N/A:N",
            "2023-10-25T18:17:43.613Z",
            cwe=("CWE-325",),
        ),
        # --- sqlite3
        _cve(
            "CVE-2023-7104",
            "sqlite: heap-buffer-overflow at sessionfuzz",
            "A vulnerability was found in SQLite SQLite3 up to 3.43.0 and classified as critical. This issue "
            "affects the function sessionReadRecord of the file ext/session/sqlite3session.c of the component "
            "make alltest Handler. The manipulation leads to heap-based buffer overflow.",
            7.3,
            f"{_AV_NET}/S:U/C:L/I:L/A:L",
            "2023-12-29T10:15:13.890Z",
            cwe=("CWE-122",),
        ),
        _cve(
            "CVE-2022-46908",
            "sqlite: safe mode authorizer callback allows disallowed UDFs",
            "SQLite through 3.40.0, when relying on --safe for execution of an untrusted CLI script, does not "
            "properly implement the azProhibitedFunctions protection mechanism, and instead allows UDF "
            "functions such as WRITEFILE.",
            7.3,
            f"{_AV_NET}/S:U/C:L/I:L/A:L",
            "2022-12-12T02:15:10.000Z",
            cwe=("CWE-863",),
        ),
        _cve(
            "CVE-2021-45346",
            "sqlite: crafted SQL query allows a malicious user to obtain sensitive information",
            "A Memory Leak vulnerability exists in SQLite Project SQLite3 3.35.1 and 3.37.0 via maliciously "
            "crafted SQL Queries (made via editing the Database File), it is possible to query a record, and "
            "leak subsequent bytes of memory that extend beyond the record.",
            4.3,
            "AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:N",
            "2022-02-14T19:15:07.793Z",
            debian="LOW",
            cwe=("CWE-401",),
        ),
        # --- mariadb
        _cve(
            "CVE-2024-21096",
            "mysql: Client: mysqldump unspecified vulnerability (CPU Apr 2024)",
            "Vulnerability in the MySQL Server product of Oracle MySQL (component: Client programs: "
            "Mysqldump). Supported versions that are affected are 8.0.36 and prior and 8.3.0 and prior. "
            "Difficult to exploit vulnerability allows unauthenticated attacker with logon to the "
            "infrastructure where MySQL Server executes to compromise MySQL Server.",
            4.9,
            "AV:L/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:L",
            "2024-04-16T22:15:14.407Z",
        ),
        _cve(
            "CVE-2023-22084",
            "mysql: InnoDB unspecified vulnerability (CPU Oct 2023)",
            "Vulnerability in the MySQL Server product of Oracle MySQL (component: InnoDB). Supported versions "
            "that are affected are 5.7.43 and prior, 8.0.34 and prior and 8.1.0. Easily exploitable "
            "vulnerability allows high privileged attacker with network access via multiple protocols to "
            "compromise MySQL Server.",
            4.9,
            "AV:N/AC:L/PR:H/UI:N/S:U/C:N/I:N/A:H",
            "2023-10-17T22:15:12.330Z",
        ),
        _cve(
            "CVE-2025-21490",
            "mysql: InnoDB unspecified vulnerability (CPU Jan 2025)",
            "Vulnerability in the MySQL Server product of Oracle MySQL (component: InnoDB). Supported versions "
            "that are affected are 8.0.40 and prior, 8.4.3 and prior and 9.1.0 and prior. Easily exploitable "
            "vulnerability allows high privileged attacker with network access via multiple protocols to "
            "compromise MySQL Server. Successful attacks of this vulnerability can result in unauthorized "
            "ability to cause a hang or frequently repeatable crash (complete DOS) of MySQL Server.",
            4.9,
            "AV:N/AC:L/PR:H/UI:N/S:U/C:N/I:N/A:H",
            "2025-01-21T21:15:13.160Z",
        ),
        # --- curl / nghttp2 / libxml2 / krb5
        _cve(
            "CVE-2024-2398",
            "curl: HTTP/2 push headers memory-leak",
            "When an application tells libcurl it wants to allow HTTP/2 server push, and the amount of "
            "received headers for the push surpasses the maximum allowed limit (1000), libcurl aborts the "
            "server push. When aborting, libcurl inadvertently does not free all the previously allocated "
            "headers and instead leaks the memory.",
            8.6,
            f"{_AV_NET}/S:C/C:L/I:L/A:H",
            "2024-03-27T08:15:41.230Z",
            cwe=("CWE-772",),
        ),
        _cve(
            "CVE-2023-38545",
            "curl: heap based buffer overflow in the SOCKS5 proxy handshake",
            "This flaw makes curl overflow a heap based buffer in the SOCKS5 proxy handshake. When curl is "
            "asked to pass along the host name to the SOCKS5 proxy to allow that to resolve the address "
            "instead of it getting done by curl itself, the maximum length that host name can be is 255 bytes.",
            9.8,
            f"{_AV_NET}/S:U/C:H/I:H/A:H",
            "2023-10-18T04:15:11.077Z",
            cwe=("CWE-787",),
        ),
        _cve(
            "CVE-2024-28182",
            "nghttp2: CONTINUATION frames DoS",
            "nghttp2 is an implementation of the Hypertext Transfer Protocol version 2 in C. The nghttp2 "
            "library prior to version 1.61.0 keeps reading the unbounded number of HTTP/2 CONTINUATION frames "
            "even after a stream is reset to keep HPACK context in sync. This causes excessive CPU usage to "
            "decode HPACK stream.",
            5.3,
            f"{_AV_NET}/S:U/C:N/I:N/A:L",
            "2024-04-04T15:15:38.427Z",
            cwe=("CWE-770",),
        ),
        _cve(
            "CVE-2024-25062",
            "libxml2: use-after-free in XMLReader",
            "An issue was discovered in libxml2 before 2.11.7 and 2.12.x before 2.12.5. When using the "
            "XML Reader interface with DTD validation and XInclude expansion enabled, processing crafted XML "
            "documents can lead to an xmlValidatePopElement use-after-free.",
            7.5,
            f"{_AV_NET}/S:U/C:N/I:N/A:H",
            "2024-02-04T16:15:45.120Z",
            cwe=("CWE-416",),
        ),
        _cve(
            "CVE-2023-39615",
            "libxml2: crafted xml can cause global buffer overflow",
            "Xmlsoft Libxml2 v2.11.0 was discovered to contain an out-of-bounds read via the xmlSAX2StartElement() "
            "function at /libxml2/SAX2.c. This vulnerability allows attackers to cause a Denial of Service (DoS) "
            "via supplying a crafted XML file.",
            6.5,
            "AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H",
            "2023-08-29T17:15:12.633Z",
            debian="LOW",
            cwe=("CWE-119",),
        ),
        _cve(
            "CVE-2024-56171",
            "libxml2: Use-After-Free in libxml2",
            "libxml2 before 2.12.10 and 2.13.x before 2.13.6 has a use-after-free in "
            "xmlSchemaIDCFillNodeTables and xmlSchemaBubbleIDCNodeTables in xmlschemas.c.",
            7.8,
            "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
            "2025-02-18T22:15:12.797Z",
            cwe=("CWE-416",),
        ),
        _cve(
            "CVE-2024-37371",
            "krb5: GSS message token handling",
            "In MIT Kerberos 5 (aka krb5) before 1.21.3, an attacker can cause invalid memory reads during GSS "
            "message token handling by sending message tokens with invalid length fields.",
            9.1,
            f"{_AV_NET}/S:U/C:H/I:N/A:H",
            "2024-06-28T23:15:11.603Z",
            cwe=("CWE-125",),
        ),
        _cve(
            "CVE-2024-26458",
            "krb5: Memory leak at /krb5/src/lib/rpc/pmap_rmt.c",
            "Kerberos 5 (aka krb5) 1.21.2 contains a memory leak in /krb5/src/lib/rpc/pmap_rmt.c.",
            5.3,
            f"{_AV_NET}/S:U/C:N/I:N/A:L",
            "2024-02-29T01:44:18.820Z",
            debian="LOW",
            cwe=("CWE-401",),
        ),
        # --- expat
        _cve(
            "CVE-2024-45491",
            "libexpat: Integer Overflow or Wraparound",
            "An issue was discovered in libexpat before 2.6.3. dtdCopy in xmlparse.c can have an integer "
            "overflow for nDefaultAtts on 32-bit platforms (where UINT_MAX equals SIZE_MAX).",
            9.8,
            f"{_AV_NET}/S:U/C:H/I:H/A:H",
            "2024-08-30T03:15:03.850Z",
            cwe=("CWE-190",),
        ),
        _cve(
            "CVE-2023-52425",
            "expat: parsing large tokens can trigger a denial of service",
            "libexpat through 2.5.0 allows a denial of service (resource consumption) because many full "
            "reparsings are required in the case of a large token for which multiple buffer fills are needed.",
            7.5,
            f"{_AV_NET}/S:U/C:N/I:N/A:H",
            "2024-02-04T20:15:46.063Z",
            cwe=("CWE-400",),
        ),
        _cve(
            "CVE-2024-50602",
            "libexpat: expat: DoS via XML_ResumeParser",
            "An issue was discovered in libexpat before 2.6.4. There is a crash within the XML_ResumeParser "
            "function because XML_StopParser can stop/suspend an unstarted parser.",
            5.9,
            "AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "2024-10-27T05:15:04.167Z",
            cwe=("CWE-754",),
        ),
        # --- python / xz (Wolfi)
        _cve(
            "CVE-2024-6232",
            "python: cpython: tarfile: ReDos via excessive backtracking while parsing header values",
            "There is a MEDIUM severity vulnerability affecting CPython. Regular expressions that allowed "
            "excessive backtracking during tarfile.TarFile header parsing are vulnerable to ReDoS via "
            "specifically-crafted tar archives.",
            7.5,
            f"{_AV_NET}/S:U/C:N/I:N/A:H",
            "2024-09-03T13:15:05.363Z",
            cwe=("CWE-1333",),
        ),
        _cve(
            "CVE-2024-3094",
            "xz: malicious code in distributed source",
            "Malicious code was discovered in the upstream tarballs of xz, starting with version 5.6.0. "
            "Through a series of complex obfuscations, the liblzma build process extracts a prebuilt object "
            "file from a disguised test file existing in the source code, which is then used to modify "
            "specific functions in the liblzma code.",
            10.0,
            f"{_AV_NET}/S:C/C:H/I:H/A:H",
            "2024-03-29T17:15:21.150Z",
            cwe=("CWE-506",),
        ),
    ]
}

# Debian 12 advisories for the hand-made images. Comments say what Trivy reports for
# `library/mariadb:latest`; "not reported" ones are fixed at or below the installed version.
DEBIAN_ADVISORIES: list[Advisory] = [
    Advisory("CVE-2024-2961", DEBIAN_12, "glibc", "2.36-9+deb12u7", vendor_ids=("DSA-5673-1",)),
    Advisory("CVE-2024-33599", DEBIAN_12, "glibc", "2.36-9+deb12u7", vendor_ids=("DSA-5678-1",)),
    Advisory("CVE-2023-4911", DEBIAN_12, "glibc", "2.36-9+deb12u3", vendor_ids=("DSA-5514-1",)),  # not reported
    Advisory("CVE-2023-6246", DEBIAN_12, "glibc", "2.36-9+deb12u4", vendor_ids=("DSA-5611-1",)),  # not reported
    Advisory("CVE-2010-4756", DEBIAN_12, "glibc", severity="LOW"),
    Advisory("CVE-2019-1010022", DEBIAN_12, "glibc", status="will_not_fix", severity="LOW"),
    Advisory("CVE-2023-45853", DEBIAN_12, "zlib", status="will_not_fix"),
    Advisory("CVE-2023-31486", DEBIAN_12, "perl", status="fix_deferred"),
    Advisory("CVE-2023-31484", DEBIAN_12, "perl", "5.36.0-7+deb12u1"),  # not reported
    Advisory("CVE-2011-4116", DEBIAN_12, "perl"),
    Advisory("CVE-2022-41409", DEBIAN_12, "pcre2"),
    Advisory("CVE-2023-50387", DEBIAN_12, "systemd", "252.23-1~deb12u1"),
    Advisory("CVE-2023-31437", DEBIAN_12, "systemd"),
    Advisory("CVE-2023-26604", DEBIAN_12, "systemd", "252.5-1"),  # not reported
    Advisory("CVE-2024-28834", DEBIAN_12, "gnutls28", "3.7.9-2+deb12u3"),
    Advisory("CVE-2024-0553", DEBIAN_12, "gnutls28", "3.7.9-2+deb12u2"),  # not reported
    Advisory("CVE-2011-3389", DEBIAN_12, "gnutls28"),
    Advisory("CVE-2018-6829", DEBIAN_12, "libgcrypt20"),
    Advisory("CVE-2024-2236", DEBIAN_12, "libgcrypt20", status="fix_deferred"),
    Advisory("CVE-2023-50495", DEBIAN_12, "ncurses"),
    Advisory("CVE-2023-29491", DEBIAN_12, "ncurses", "6.4-4"),  # not reported
    Advisory("CVE-2023-4641", DEBIAN_12, "shadow", "1:4.13+dfsg1-1+deb12u1"),
    Advisory("CVE-2007-5686", DEBIAN_12, "shadow"),
    Advisory("CVE-2022-48303", DEBIAN_12, "tar", "1.34+dfsg-1.2+deb12u1"),  # not reported
    Advisory("TEMP-0290435-0B57B5", DEBIAN_12, "tar"),
    Advisory("TEMP-0841856-B18BAF", DEBIAN_12, "bash", severity="LOW"),
    Advisory("CVE-2024-28085", DEBIAN_12, "util-linux", "2.38.1-5+deb12u1"),
    Advisory("CVE-2022-0563", DEBIAN_12, "util-linux"),
    Advisory("CVE-2011-3374", DEBIAN_12, "apt"),
    Advisory("CVE-2016-2781", DEBIAN_12, "coreutils", status="will_not_fix"),
    Advisory("CVE-2017-18018", DEBIAN_12, "coreutils"),
    Advisory("CVE-2022-3219", DEBIAN_12, "gnupg2"),
    Advisory("CVE-2024-5535", DEBIAN_12, "openssl", "3.0.14-1~deb12u1", vendor_ids=("DLA-3942-1",)),
    Advisory("CVE-2023-5678", DEBIAN_12, "openssl", "3.0.13-1~deb12u1"),
    Advisory("CVE-2024-0727", DEBIAN_12, "openssl", "3.0.13-1~deb12u1"),
    Advisory("CVE-2023-5363", DEBIAN_12, "openssl", "3.0.11-1~deb12u2", vendor_ids=("DSA-5532-1",)),  # not reported
    Advisory("CVE-2023-7104", DEBIAN_12, "sqlite3", "3.40.1-2+deb12u1"),
    Advisory("CVE-2022-46908", DEBIAN_12, "sqlite3", "3.40.0-1"),  # not reported
    Advisory("CVE-2021-45346", DEBIAN_12, "sqlite3"),
    Advisory("CVE-2024-21096", DEBIAN_12, "mariadb", "1:10.11.8-0+deb12u1", vendor_ids=("DSA-5689-1",)),
    Advisory("CVE-2023-22084", DEBIAN_12, "mariadb", "1:10.11.6-0+deb12u1"),  # not reported
    Advisory("CVE-2025-21490", DEBIAN_12, "mariadb", "1:10.11.11-0+deb12u1"),
    Advisory("CVE-2024-2398", DEBIAN_12, "curl", "7.88.1-10+deb12u6"),
    Advisory("CVE-2023-38545", DEBIAN_12, "curl", "7.88.1-10+deb12u4"),  # not reported
    Advisory("CVE-2024-28182", DEBIAN_12, "nghttp2", "1.52.0-1+deb12u2"),
    Advisory("CVE-2024-25062", DEBIAN_12, "libxml2", "2.9.14+dfsg-1.3~deb12u1"),  # not reported
    Advisory("CVE-2023-39615", DEBIAN_12, "libxml2"),
    Advisory("CVE-2024-56171", DEBIAN_12, "libxml2", "2.9.14+dfsg-1.3~deb12u2"),
    Advisory("CVE-2024-37371", DEBIAN_12, "krb5", "1.20.1-2+deb12u2"),
    Advisory("CVE-2024-26458", DEBIAN_12, "krb5"),
    Advisory("CVE-2024-45491", DEBIAN_12, "expat", "2.5.0-1+deb12u1"),
    Advisory("CVE-2023-52425", DEBIAN_12, "expat"),
    Advisory("CVE-2024-50602", DEBIAN_12, "expat", "2.5.0-1+deb12u1"),
]

# Wolfi reports only advisories with a fixed version above the installed one.
WOLFI_ADVISORIES: list[Advisory] = [
    Advisory("CVE-2024-5535", WOLFI, "openssl", "3.3.1-r3"),
    Advisory("CVE-2024-2961", WOLFI, "glibc", "2.39-r3"),  # below every installed glibc
    Advisory("CVE-2024-33599", WOLFI, "glibc", "2.39-r6"),
    Advisory("CVE-2023-45853", WOLFI, "zlib", status="will_not_fix"),  # no fixed version: ignored
    Advisory("CVE-2024-21096", WOLFI, "mariadb-11.4", "11.4.1-r0"),  # below the installed one
    Advisory("CVE-2025-21490", WOLFI, "mariadb-11.4", "11.4.5-r0"),
    Advisory("CVE-2024-45491", WOLFI, "expat", "2.6.3-r0"),
    Advisory("CVE-2024-50602", WOLFI, "expat", "2.6.2-r0"),  # equal to the installed one
    Advisory("CVE-2024-6232", WOLFI, "python-3.12", "3.12.6-r0"),
    Advisory("CVE-2024-3094", WOLFI, "xz", "5.6.1-r2"),  # below the installed one
]

# The same data for an image whose os-release says ID=chainguard.
CHAINGUARD_ADVISORIES: list[Advisory] = [
    Advisory(a.vuln_id, CHAINGUARD, a.source, a.fixed_version, a.status) for a in WOLFI_ADVISORIES
]


# --- generated data -------------------------------------------------------------------
# Source packages of the `library/big:1` benchmark image: (source, version, binaries).
BIG_SOURCES: list[tuple[str, str, tuple[str, ...]]] = []

_BIG_SOURCE_NAMES = [
    "acl",
    "adduser",
    "attr",
    "audit",
    "autoconf",
    "automake",
    "binutils",
    "bison",
    "brotli",
    "cairo",
    "cdebconf",
    "cracklib2",
    "cups",
    "cyrus-sasl2",
    "db-defaults",
    "dbus",
    "debconf",
    "debianutils",
    "diffutils",
    "dpkg",
    "e2fsprogs",
    "elfutils",
    "findutils",
    "flex",
    "fontconfig",
    "freetype",
    "fribidi",
    "gcc-12",
    "gdbm",
    "gettext",
    "glib2.0",
    "gmp",
    "gnupg2-extra",
    "gobject-introspection",
    "graphite2",
    "grep",
    "gzip",
    "harfbuzz",
    "hicolor-icon-theme",
    "hostname",
    "icu",
    "init-system-helpers",
    "iproute2",
    "iputils",
    "isl",
    "jansson",
    "jbigkit",
    "keyutils",
    "lcms2",
    "libassuan",
    "libbsd",
    "libde265",
    "libdeflate",
    "libedit",
    "libevent",
    "libgpg-error",
    "libheif",
    "libidn2",
    "libjpeg-turbo",
    "libksba",
    "libmd",
    "libnsl",
    "libpng1.6",
    "libpsl",
    "libseccomp",
    "libselinux",
    "libsemanage",
    "libsepol",
    "libssh2",
    "libtasn1-6",
    "libtirpc",
    "libtool",
    "libunistring",
    "libwebp",
    "libx11",
    "libxau",
    "libxcb",
    "libxdmcp",
    "libxext",
    "libxrender",
    "libxslt",
    "libyaml",
    "libzip",
    "linux-atm",
    "lz4",
    "m4",
    "make-dfsg",
    "mawk",
    "media-types",
    "mpclib3",
    "mpfr4",
    "ncurses-extra",
    "nettle",
    "npth",
    "openldap",
    "openjpeg2",
    "p11-kit",
    "pam",
    "pango1.0",
    "patch",
    "pcre3",
    "pixman",
    "pkgconf",
    "procps",
    "python3.11",
    "python3-defaults",
    "readline-extra",
    "rtmpdump",
    "sed",
    "sensible-utils",
    "shared-mime-info",
    "sysvinit",
    "tcl8.6",
    "tiff",
    "tk8.6",
    "ucf",
    "unzip",
    "usrmerge",
    "wget",
    "x265",
    "xorg",
    "xtrans",
    "xz-extra",
    "zip",
    "zlib-extra",
    "zstd-extra",
    "imagemagick",
    "ghostscript",
    "git",
    "gnutls-extra",
    "libgd2",
    "libheif-extra",
    "libraw",
    "libsndfile",
    "libvpx",
    "libwmf",
    "mercurial",
    "openexr",
    "openssh",
    "pixz",
    "rsync",
    "subversion",
    "libcbor",
    "libfido2",
    "libxcrypt",
    "json-c",
    "lmdb",
    "nspr",
    "nss",
    "orc",
    "pcsc-lite",
    "popt",
    "speex",
    "flac",
]


def _generate_big_sources() -> None:
    rng = random.Random(20240612)
    for name in _BIG_SOURCE_NAMES:
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}-{rng.randint(1, 6)}"
        stem = name.replace(".", "").replace("-", "")
        binaries = [name, f"lib{stem}{rng.randint(0, 9)}", f"lib{stem}-dev", f"{name}-doc"]
        BIG_SOURCES.append((name, version, tuple(binaries)))


_TITLE_TEMPLATES = (
    "{src}: heap-based buffer overflow in {fn}()",
    "{src}: NULL pointer dereference in {fn}()",
    "{src}: integer overflow in {fn}() leads to out-of-bounds write",
    "{src}: use-after-free in {fn}()",
    "{src}: denial of service via crafted input to {fn}()",
    "{src}: out-of-bounds read in {fn}()",
)
_FUNCTIONS = ("parse_header", "read_chunk", "decode_entry", "load_table", "copy_string", "inflate_block")


def _bump(version: str, delta: int) -> str:
    """Debian revision of `version` changed by `delta` (e.g. 1.2.3-4 -> 1.2.3-5)."""
    upstream, revision = version.rsplit("-", 1)
    return f"{upstream}-{int(revision) + delta}" if int(revision) + delta > 0 else f"{upstream}~rc1-1"


def _generate_big_advisories() -> tuple[list[Vulnerability], list[Advisory]]:
    """Advisories for every third benchmark source: a realistic mix of outcomes."""
    rng = random.Random(31337)
    vulns: list[Vulnerability] = []
    advisories: list[Advisory] = []
    number = 40000
    for index, (source, version, _) in enumerate(BIG_SOURCES):
        if index % 3:
            continue
        for _ in range(rng.randint(1, 4)):
            number += rng.randint(1, 97)
            year = rng.choice((2019, 2021, 2022, 2023, 2024))
            vuln_id = f"CVE-{year}-{number}"
            score = rng.choice((None, 3.3, 4.3, 5.5, 6.5, 7.5, 7.8, 8.8, 9.8))
            title = rng.choice(_TITLE_TEMPLATES).format(src=source, fn=rng.choice(_FUNCTIONS))
            vulns.append(
                _cve(
                    vuln_id,
                    title,
                    f"A flaw was found in {source}. {title.split(': ', 1)[1].capitalize()} "
                    "allows a remote attacker to crash the application or possibly execute code.",
                    score,
                    f"{_AV_NET}/S:U/C:H/I:H/A:H" if score else None,
                    f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:15:0{rng.randint(0, 9)}.000Z",
                    debian=rng.choice((None, None, "LOW")),
                )
            )
            kind = rng.choice(("fixed", "fixed", "old", "affected", "will_not_fix"))
            fixed = {"fixed": _bump(version, 1), "old": _bump(version, -1)}.get(kind)
            status = "will_not_fix" if kind == "will_not_fix" else None
            advisories.append(Advisory(vuln_id, DEBIAN_12, source, fixed, status))
    return vulns, advisories


def _generate_kernel_advisories(count: int = 3000) -> tuple[list[Vulnerability], list[Advisory]]:
    """Thousands of kernel CVEs, as in the real DB; no test image has a kernel package.

    They make the buckets deep (several branch levels), so the bbolt writer is exercised
    the way a real DB exercises Trivy.
    """
    rng = random.Random(4242)
    vulns: list[Vulnerability] = []
    advisories: list[Advisory] = []
    for n in range(count):
        vuln_id = f"CVE-{2021 + n % 4}-{46000 + n}"
        title = f"kernel: {rng.choice(('net', 'fs', 'mm', 'drm', 'usb', 'bpf'))}: fix {rng.choice(_FUNCTIONS)} race"
        vulns.append(
            _cve(
                vuln_id,
                title,
                "In the Linux kernel, the following vulnerability has been resolved: " + title,
                5.5,
                f"{_AV_LOCAL}/S:U/C:N/I:N/A:H",
                f"{2021 + n % 4}-05-2{n % 10}T10:15:09.000Z",
            )
        )
        fixed = rng.choice(("6.1.112-1", "6.1.115-1", None))
        advisories.append(Advisory(vuln_id, DEBIAN_12, "linux", fixed, None if fixed else "affected"))
    return vulns, advisories


_generate_big_sources()
_BIG_VULNS, BIG_ADVISORIES = _generate_big_advisories()
_KERNEL_VULNS, KERNEL_ADVISORIES = _generate_kernel_advisories()
for _v in _BIG_VULNS + _KERNEL_VULNS:
    assert _v.id not in VULNERABILITIES, _v.id
    VULNERABILITIES[_v.id] = _v

ADVISORIES: list[Advisory] = (
    DEBIAN_ADVISORIES + WOLFI_ADVISORIES + CHAINGUARD_ADVISORIES + BIG_ADVISORIES + KERNEL_ADVISORIES
)


# Not in the default DB: the Java DB tests write theirs with build_trivy_db(..., language=MAVEN_ADVISORIES).
GHSA_MAVEN = "maven::GitHub Security Advisory Maven"
MAVEN_DATA_SOURCE = {
    "ID": "ghsa",
    "Name": "GitHub Security Advisory Maven",
    "URL": "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Amaven",
}
MAVEN_VULNERABILITIES: dict[str, Vulnerability] = {
    "CVE-2024-99001": Vulnerability(
        "CVE-2024-99001",
        "demo: remote code execution through a crafted request",
        "A test advisory for org.example:demo before 1.2.3.",
        nvd_score=9.8,
        nvd_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        vendor_severity={"ghsa": "CRITICAL", "nvd": "CRITICAL"},
        published="2024-05-01T00:00:00.000Z",
    )
}
MAVEN_ADVISORIES: list[LanguageAdvisory] = [
    LanguageAdvisory("CVE-2024-99001", GHSA_MAVEN, "org.example:demo", ("< 1.2.3",), ("1.2.3",))
]


LANGUAGE_DATA = Path(__file__).parent / "data" / "language-advisories.json"


def _language_table() -> dict:
    return json.loads(LANGUAGE_DATA.read_text())


def language_advisories(when: str = "first") -> list[tuple[LanguageAdvisory, Vulnerability]]:
    """The advisories of ``data/language-advisories.json``: ``first`` (the DB a scan starts from) or ``later``
    (an update), each with its vulnerability."""
    found = []
    for entry in _language_table()[when]:
        vulnerability = Vulnerability(
            entry["id"],
            entry["title"],
            f"A test advisory for {entry['package']}.",
            nvd_score=entry["score"],
            nvd_vector=entry["vector"],
            vendor_severity=entry["severity"],
            published="2024-05-01T00:00:00.000Z",
        )
        advisory = LanguageAdvisory(
            entry["id"], entry["bucket"], entry["package"], tuple(entry["vulnerable"]), tuple(entry.get("patched", ()))
        )
        found.append((advisory, vulnerability))
    return found


# --- writing --------------------------------------------------------------------------
def _json(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def _tree(
    advisories: Iterable[Advisory],
    vulnerabilities: dict[str, Vulnerability],
    language: Iterable[LanguageAdvisory] = (),
) -> dict:
    language = list(language)
    known = {GHSA_MAVEN: MAVEN_DATA_SOURCE, **_language_table()["data_sources"]}
    sources = {**DATA_SOURCES, **{lang.bucket: known[lang.bucket] for lang in language}}
    vulnerabilities = {**vulnerabilities, **(MAVEN_VULNERABILITIES if language else {})}
    tree: dict[bytes, dict] = {
        b"vulnerability": {v.encode(): _json(vuln.to_json()) for v, vuln in vulnerabilities.items()},
        b"data-source": {p.encode(): _json(src) for p, src in sources.items()},
    }
    for adv in advisories:
        platform = tree.setdefault(adv.platform.encode(), {})
        platform.setdefault(adv.source.encode(), {})[adv.vuln_id.encode()] = _json(adv.to_json())
    for lang in language:
        bucket = tree.setdefault(lang.bucket.encode(), {})
        bucket.setdefault(lang.package.encode(), {})[lang.vuln_id.encode()] = _json(lang.to_json())
    return tree


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_trivy_db(
    cache_dir: str | Path,
    updated_at: datetime = DEFAULT_UPDATED_AT,
    advisories: Iterable[Advisory] | None = None,
    vulnerabilities: dict[str, Vulnerability] | None = None,
    language: Iterable[LanguageAdvisory] = (),
) -> dict:
    """Write CACHE_DIR/db/trivy.db and metadata.json; return the metadata dict.

    `advisories` defaults to `ADVISORIES`, `vulnerabilities` to `VULNERABILITIES`; `language` adds language
    packages' advisories (MAVEN_ADVISORIES) and their vulnerabilities.
    NextUpdate is far ahead, so Trivy never considers the DB stale.
    """
    db_dir = Path(cache_dir) / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    advisories = ADVISORIES if advisories is None else list(advisories)
    vulnerabilities = VULNERABILITIES if vulnerabilities is None else vulnerabilities
    write_bbolt(db_dir / "trivy.db", _tree(advisories, vulnerabilities, language))
    return _write_metadata(db_dir, SCHEMA_VERSION, updated_at)


def _write_metadata(directory: Path, version: int, updated_at: datetime) -> dict:
    """A DB's metadata.json as Trivy writes it, NextUpdate far ahead (never stale); returns it."""
    metadata = {
        "Version": version,
        "NextUpdate": _timestamp(updated_at + timedelta(days=365 * 50)),
        "UpdatedAt": _timestamp(updated_at),
        "DownloadedAt": _timestamp(updated_at + timedelta(minutes=3)),
    }
    (directory / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


def new_critical(vuln_id: str, source: str, platform: str = DEBIAN_12) -> tuple[Advisory, Vulnerability]:
    """A critical disclosed after the test DB was built: unfixed, against ``source`` (a source package)."""
    vulnerability = _cve(
        vuln_id,
        f"{source}: memory corruption in a newly disclosed path",
        "A newly disclosed flaw, added to the DB after the first scans.",
        9.8,
        f"{_AV_NET}/S:U/C:H/I:H/A:H",
        "2026-11-20T10:00:00Z",
    )
    return Advisory(vuln_id, platform, source), vulnerability


def build_updated_trivy_db(
    cache_dir: str | Path,
    extra: Iterable[tuple[Advisory | LanguageAdvisory, Vulnerability]] = (),
    days_later: int = 7,
    language: Iterable[LanguageAdvisory] = (),
) -> dict:
    """The test DB as a later update: every advisory of :func:`build_trivy_db` (and ``language``) plus ``extra``
    (OS or language advisories), with an ``UpdatedAt`` ``days_later`` than the default (so cached scans of the old
    DB are not reused)."""
    extra = list(extra)
    return build_trivy_db(
        cache_dir,
        updated_at=DEFAULT_UPDATED_AT + timedelta(days=days_later),
        advisories=ADVISORIES + [a for a, _ in extra if isinstance(a, Advisory)],
        vulnerabilities={**VULNERABILITIES, **{v.id: v for _, v in extra}},
        language=[*language, *(a for a, _ in extra if isinstance(a, LanguageAdvisory))],
    )


JAVA_DB_SCHEMA_VERSION = 1


def build_java_db(cache_dir: str | Path, updated_at: datetime = DEFAULT_UPDATED_AT) -> dict:
    """Write an empty Java DB, CACHE_DIR/java-db/trivy-java.db (sqlite, the trivy-java-db schema) and its
    metadata.json; return the metadata. Empty is enough for jars that carry pom.properties: Trivy looks a jar up
    by its SHA-1 only when it has none."""
    import sqlite3

    java_dir = Path(cache_dir) / "java-db"
    java_dir.mkdir(parents=True, exist_ok=True)
    path = java_dir / "trivy-java.db"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
            CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,
                                 foreign key (artifact_id) references artifacts(id));
            CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
            CREATE INDEX indices_artifact_idx ON indices(artifact_id);
            CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);
            """
        )
    db.close()
    return _write_metadata(java_dir, JAVA_DB_SCHEMA_VERSION, updated_at)
