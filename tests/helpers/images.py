"""Test images, built from declarative specs and pushed through the registry HTTP API v2.

No base image can be pulled here, so every layer is a tarball written by this module:
OS identification files, a package database (dpkg status or apk installed) and some
deterministic filler. Config history, timestamps and platforms are fully controlled,
and re-running produces the same digests (pushing again is a no-op for blobs).

    infos = build_and_push_all("127.0.0.1:5000")
    infos["library/mariadb:latest"].reference   # "127.0.0.1:5000/library/mariadb:latest"
    expected_vulnerabilities(infos["library/mariadb:latest"])  # what Trivy must report
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from platform import machine
from urllib.parse import urljoin

import requests

from tests.helpers import trivydb
from tests.helpers.trivydb import Advisory, Vulnerability

DEFAULT_REGISTRY = "127.0.0.1:5000"
TAR_MTIME = 1718150400  # 2024-06-12, every file in every layer

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

MiB = 1024 * 1024


# --- specs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Pkg:
    """An OS package. `source` is dpkg's Source: / apk's o: (None: same as the name)."""

    name: str
    version: str
    source: str | None = None
    source_version: str | None = None  # dpkg binNMU rebuilds: binary 1.0-1+b1 of source 1.0-1
    arch: str | None = None  # None: the image's architecture; "all"/"noarch" when independent
    section: str = "libs"
    description: str = ""
    license: str = "GPL-2.0-or-later"

    @property
    def src_name(self) -> str:
        return self.source or self.name

    @property
    def src_version(self) -> str:
        return self.source_version or self.version


@dataclass(frozen=True)
class Layer:
    """A history entry that adds a layer. `packages` are installed (or upgraded) by it."""

    created_by: str
    packages: tuple[Pkg, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()
    filler: tuple[tuple[str, int], ...] = ()  # (path, size): incompressible, deterministic bytes
    files_per_package: int = 0  # dpkg only: stand-in files plus their info/*.list and *.md5sums
    shell: bool = False  # a working /bin/sh and core tools, copied from the host (see host_shell_files)
    created: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class ConfigStep:
    """A history entry with `empty_layer: true` (ENV, CMD, ...), applied to the config."""

    created_by: str
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    created: str | None = None
    comment: str | None = None


Step = Layer | ConfigStep


@dataclass(frozen=True)
class Distro:
    family: str  # "debian", "wolfi" or "chainguard"
    version: str  # "12.5", "20230201"

    @property
    def trivy_platform(self) -> str:
        """The DB bucket Trivy looks advisories up in."""
        if self.family == "debian":
            return f"debian {self.version.split('.')[0]}"
        return self.family

    @property
    def package_format(self) -> str:
        return "dpkg" if self.family == "debian" else "apk"


@dataclass(frozen=True)
class Variant:
    """One platform of an image."""

    architecture: str
    distro: Distro | None
    steps: tuple[Step, ...]
    created: str
    variant: str | None = None
    os: str = "linux"
    annotations: tuple[tuple[str, str], ...] = ()  # OCI manifest annotations (OCI images only)

    @property
    def platform(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class ImageSpec:
    repository: str
    tags: tuple[str, ...]
    variants: tuple[Variant, ...]
    oci: bool = False  # OCI media types (always for a multi-platform index)
    description: str = ""


# --- results --------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerInfo:
    digest: str
    diff_id: str
    size: int
    created_by: str


@dataclass(frozen=True)
class PlatformImage:
    platform: str
    manifest_digest: str
    config_digest: str  # = Trivy's Metadata.ImageID
    layers: tuple[LayerInfo, ...]
    variant: Variant

    @property
    def size(self) -> int:
        """Compressed size of all layers, as a registry reports it."""
        return sum(layer.size for layer in self.layers)


@dataclass(frozen=True)
class ImageInfo:
    name: str  # "library/mariadb:latest"
    registry: str
    repository: str
    tag: str
    digest: str  # of the manifest, or of the index for multi-platform images
    media_type: str
    platforms: dict[str, PlatformImage]
    spec: ImageSpec

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    @property
    def pinned(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"

    @property
    def is_index(self) -> bool:
        return self.media_type == OCI_INDEX

    def platform(self, platform: str | None = None) -> PlatformImage:
        if platform is None:
            platform = "linux/amd64" if "linux/amd64" in self.platforms else next(iter(self.platforms))
        if platform not in self.platforms:  # "linux/arm64" names "linux/arm64/v8" too
            platform = next(p for p in self.platforms if p.startswith(platform + "/"))
        return self.platforms[platform]


# --- package tables -------------------------------------------------------------------
DEBIAN_MAINTAINERS = {
    "base-files": "Santiago Vila <sanvila@debian.org>",
    "bash": "Matthias Klose <doko@debian.org>",
    "coreutils": "Michael Stone <mstone@debian.org>",
    "dash": "Andrej Shadura <andrewsh@debian.org>",
    "glibc": "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
    "zlib": "Mark Brown <broonie@debian.org>",
    "perl": "Niko Tyni <ntyni@debian.org>",
    "pcre2": "Matthew Vernon <matthew@debian.org>",
    "systemd": "Debian systemd Maintainers <pkg-systemd-maintainers@lists.alioth.debian.org>",
    "gnutls28": "Debian GnuTLS Maintainers <pkg-gnutls-maint@lists.alioth.debian.org>",
    "libgcrypt20": "Debian GnuTLS Maintainers <pkg-gnutls-maint@lists.alioth.debian.org>",
    "libzstd": "Debian Med Packaging Team <debian-med-packaging@lists.alioth.debian.org>",
    "xz-utils": "Jonathan Nieder <jrnieder@gmail.com>",
    "ncurses": "Craig Small <csmall@debian.org>",
    "shadow": "Shadow package maintainers <pkg-shadow-devel@lists.alioth.debian.org>",
    "tar": "Janos Lenart <ocsi@debian.org>",
    "util-linux": "util-linux packagers <util-linux@packages.debian.org>",
    "apt": "APT Development Team <deity@lists.debian.org>",
    "gnupg2": "Debian GnuPG Maintainers <pkg-gnupg-maint@lists.alioth.debian.org>",
    "debian-archive-keyring": "Debian Release Team <packages@release.debian.org>",
    "db5.3": "Bastian Germann <bage@debian.org>",
    "libcap2": "Christian Kastner <ckk@debian.org>",
    "ca-certificates": "Julien Cristau <jcristau@debian.org>",
    "openssl": "Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>",
    "tzdata": "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
    "jemalloc": "Faidon Liambotis <paravoid@debian.org>",
    "pwgen": "Vincent Bernat <bernat@debian.org>",
    "sqlite3": "Laszlo Boszormenyi (GCS) <gcs@debian.org>",
    "readline": "Matthias Klose <doko@debian.org>",
    "mariadb": "Debian MySQL Maintainers <pkg-mysql-maint@lists.alioth.debian.org>",
    "galera-4": "Debian MySQL Maintainers <pkg-mysql-maint@lists.alioth.debian.org>",
    "socat": "Laszlo Boszormenyi (GCS) <gcs@debian.org>",
    "libdbi-perl": "Debian Perl Group <pkg-perl-maintainers@lists.alioth.debian.org>",
    "libaio": "Guillem Jover <guillem@debian.org>",
    "liburing": "Guillem Jover <guillem@debian.org>",
    "snappy": "Laszlo Boszormenyi (GCS) <gcs@debian.org>",
    "curl": "Debian Curl Maintainers <team+curl@tracker.debian.org>",
    "nghttp2": "Tomasz Buchert <tomasz@debian.org>",
    "libxml2": "Debian XML/SGML Group <debian-xml-sgml-pkgs@lists.alioth.debian.org>",
    "krb5": "Sam Hartman <hartmans@debian.org>",
    "expat": "Laszlo Boszormenyi (GCS) <gcs@debian.org>",
    "libffi": "Debian GCC Maintainers <debian-gcc@lists.debian.org>",
    "bzip2": "Anibal Monsalve Salazar <anibal@debian.org>",
    "netbase": "Marco d'Itri <md@linux.it>",
}
DEFAULT_DEBIAN_MAINTAINER = "Debian QA Group <packages@qa.debian.org>"


def deb(
    name: str,
    version: str,
    source: str | None = None,
    source_version: str | None = None,
    *,
    arch: str | None = None,
    section: str = "libs",
    desc: str = "",
) -> Pkg:
    return Pkg(name, version, source, source_version, arch, section, desc)


def apk(
    name: str, version: str, origin: str | None = None, *, desc: str = "", license: str = "GPL-2.0-or-later"
) -> Pkg:
    return Pkg(name, version, origin, description=desc, license=license)


GLIBC = "2.36-9+deb12u4"
OPENSSL = "3.0.11-1~deb12u2"
SHADOW = ("1:4.13+dfsg1-1+b1", "1:4.13+dfsg1-1")
UTIL_LINUX = ("2.38.1-5+b1", "2.38.1-5")
SYSTEMD = "252.22-1~deb12u1"
PERL = "5.36.0-7+deb12u1"
MARIADB = "1:10.11.6-0+deb12u1"

DEBIAN_BASE_PACKAGES = (
    deb("base-files", "12.4+deb12u5", section="admin", desc="Debian base system miscellaneous files"),
    deb("bash", "5.2.15-2+b2", source_version="5.2.15-2", section="shells", desc="GNU Bourne Again SHell"),
    deb("coreutils", "9.1-1", section="utils", desc="GNU core utilities"),
    deb("dash", "0.5.12-2", section="shells", desc="POSIX-compliant shell"),
    deb("libc6", GLIBC, "glibc", desc="GNU C Library: Shared libraries"),
    deb("libc-bin", GLIBC, "glibc", section="admin", desc="GNU C Library: Binaries"),
    deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", desc="compression library - runtime"),
    deb("perl-base", PERL, "perl", section="perl", desc="minimal Perl system"),
    deb("libpcre2-8-0", "10.42-1", "pcre2", desc="New Perl Compatible Regular Expression Library- 8 bit runtime files"),
    deb("libsystemd0", SYSTEMD, "systemd", desc="systemd utility library"),
    deb("libudev1", SYSTEMD, "systemd", desc="libudev shared library"),
    deb("libgnutls30", "3.7.9-2+deb12u2", "gnutls28", desc="GNU TLS library - main runtime library"),
    deb("libzstd1", "1.5.4+dfsg2-5", "libzstd", desc="fast lossless compression algorithm"),
    deb("liblzma5", "5.4.1-0.2", "xz-utils", desc="XZ-format compression library"),
    deb("libgcrypt20", "1.10.1-3", desc="LGPL Crypto library - runtime library"),
    deb("libtinfo6", "6.4-4", "ncurses", desc="shared low-level terminfo library for terminal handling"),
    deb("ncurses-base", "6.4-4", "ncurses", arch="all", section="misc", desc="basic terminal type definitions"),
    deb("login", SHADOW[0], "shadow", SHADOW[1], section="admin", desc="system login tools"),
    deb(
        "passwd", SHADOW[0], "shadow", SHADOW[1], section="admin", desc="change and administer password and group data"
    ),
    deb("tar", "1.34+dfsg-1.2+deb12u1", section="utils", desc="GNU version of the tar archiving utility"),
    deb("libuuid1", UTIL_LINUX[0], "util-linux", UTIL_LINUX[1], desc="Universally Unique ID library"),
    deb(
        "util-linux", UTIL_LINUX[0], "util-linux", UTIL_LINUX[1], section="utils", desc="miscellaneous system utilities"
    ),
    deb("apt", "2.6.1", section="admin", desc="commandline package manager"),
    deb("libapt-pkg6.0", "2.6.1", "apt", desc="package management runtime library"),
    deb("gpgv", "2.2.40-1.1", "gnupg2", section="utils", desc="GNU privacy guard - signature verification tool"),
    deb(
        "debian-archive-keyring",
        "2023.3+deb12u1",
        arch="all",
        section="misc",
        desc="GnuPG archive keys of the Debian archive",
    ),
    deb("libdb5.3", "5.3.28+dfsg2-1", "db5.3", desc="Berkeley v5.3 Database Libraries [runtime]"),
    deb("libcap2", "1:2.66-4", desc="POSIX 1003.1e capabilities (library)"),
)

MARIADB_DEPS_PACKAGES = (
    deb("ca-certificates", "20230311", arch="all", section="misc", desc="Common CA certificates"),
    deb("libssl3", OPENSSL, "openssl", desc="Secure Sockets Layer toolkit - shared libraries"),
    deb("openssl", OPENSSL, section="utils", desc="Secure Sockets Layer toolkit - cryptographic utility"),
    deb(
        "tzdata", "2024a-0+deb12u1", arch="all", section="localization", desc="time zone and daylight-saving time data"
    ),
    deb("libjemalloc2", "5.3.0-1", "jemalloc", desc="general-purpose scalable concurrent malloc(3) implementation"),
    deb("pwgen", "2.08-2", section="admin", desc="Automatic Password generation"),
    deb("xz-utils", "5.4.1-0.2", section="utils", desc="XZ-format compression utilities"),
    deb("zstd", "1.5.4+dfsg2-5", "libzstd", section="utils", desc="fast lossless compression algorithm -- CLI tool"),
    deb("gpg", "2.2.40-1.1", "gnupg2", section="utils", desc="GNU Privacy Guard -- minimalist public key operations"),
    deb("libsqlite3-0", "3.40.1-2", "sqlite3", desc="SQLite 3 shared library"),
    deb("libreadline8", "8.2-1.3", "readline", desc="GNU readline and history libraries, run-time libraries"),
    deb(
        "readline-common",
        "8.2-1.3",
        "readline",
        arch="all",
        section="utils",
        desc="GNU readline and history libraries, common files",
    ),
)

MARIADB_SERVER_PACKAGES = (
    deb("mariadb-server", MARIADB, "mariadb", section="database", desc="MariaDB database server binaries"),
    deb("mariadb-client", MARIADB, "mariadb", section="database", desc="MariaDB database client binaries"),
    deb(
        "mariadb-common",
        MARIADB,
        "mariadb",
        arch="all",
        section="database",
        desc="MariaDB database common config files",
    ),
    deb("libmariadb3", MARIADB, "mariadb", desc="MariaDB database client library"),
    deb(
        "galera-4", "26.4.14-0+deb12u1", section="database", desc="Replication framework for transactional applications"
    ),
    deb("socat", "1.7.4.4-2", section="net", desc="multipurpose relay for bidirectional data transfer"),
    deb("perl", PERL, section="perl", desc="Larry Wall's Practical Extraction and Report Language"),
    deb("libperl5.36", PERL, "perl", desc="shared Perl library"),
    deb("perl-modules-5.36", PERL, "perl", arch="all", section="perl", desc="Core Perl modules"),
    deb("libdbi-perl", "1.643-4", section="perl", desc="Perl Database Interface (DBI)"),
    deb("libaio1", "0.3.113-4", "libaio", desc="Linux kernel AIO access library - shared library"),
    deb("liburing2", "2.3-3", "liburing", desc="Linux kernel io_uring access library - shared library"),
    deb("libsnappy1v5", "1.1.9-3", "snappy", desc="fast compression/decompression library"),
    deb("libcurl4", "7.88.1-10+deb12u5", "curl", desc="easy-to-use client-side URL transfer library (OpenSSL flavour)"),
    deb("libnghttp2-14", "1.52.0-1+deb12u1", "nghttp2", desc="library implementing HTTP/2 protocol (shared library)"),
    deb("libxml2", "2.9.14+dfsg-1.3~deb12u1", desc="GNOME XML library"),
    deb("libgssapi-krb5-2", "1.20.1-2+deb12u1", "krb5", desc="MIT Kerberos runtime libraries - krb5 GSS-API Mechanism"),
    deb("libkrb5-3", "1.20.1-2+deb12u1", "krb5", desc="MIT Kerberos runtime libraries"),
)

PYTHON_DEPS_PACKAGES = (
    deb("ca-certificates", "20230311", arch="all", section="misc", desc="Common CA certificates"),
    deb("netbase", "6.4", arch="all", section="admin", desc="Basic TCP/IP networking system"),
    deb(
        "tzdata", "2024a-0+deb12u1", arch="all", section="localization", desc="time zone and daylight-saving time data"
    ),
    deb("libssl3", OPENSSL, "openssl", desc="Secure Sockets Layer toolkit - shared libraries"),
    deb("openssl", OPENSSL, section="utils", desc="Secure Sockets Layer toolkit - cryptographic utility"),
    deb("libsqlite3-0", "3.40.1-2", "sqlite3", desc="SQLite 3 shared library"),
    deb("libexpat1", "2.5.0-1", "expat", desc="XML parsing C library - runtime library"),
    deb("libffi8", "3.4.4-1", "libffi", desc="Foreign Function Interface library runtime"),
    deb(
        "libbz2-1.0",
        "1.0.8-5+b1",
        "bzip2",
        "1.0.8-5",
        desc="high-quality block-sorting file compressor library - runtime",
    ),
    deb("libncursesw6", "6.4-4", "ncurses", desc="shared libraries for terminal handling (wide character support)"),
    deb("libreadline8", "8.2-1.3", "readline", desc="GNU readline and history libraries, run-time libraries"),
    deb(
        "readline-common",
        "8.2-1.3",
        "readline",
        arch="all",
        section="utils",
        desc="GNU readline and history libraries, common files",
    ),
)

# Sources without any advisory in trivydb: an image of these has no findings.
CLEAN_PACKAGES = tuple(
    p
    for p in DEBIAN_BASE_PACKAGES + MARIADB_DEPS_PACKAGES + MARIADB_SERVER_PACKAGES + PYTHON_DEPS_PACKAGES
    if p.src_name
    in {
        "base-files",
        "dash",
        "debian-archive-keyring",
        "libzstd",
        "xz-utils",
        "tzdata",
        "netbase",
        "ca-certificates",
        "jemalloc",
        "pwgen",
        "libcap2",
        "db5.3",
        "libaio",
        "liburing",
        "snappy",
        "readline",
        "galera-4",
        "socat",
        "libffi",
        "bzip2",
    }
)

WOLFI_GLIBC = ("glibc", "glibc-locale-posix", "ld-linux", "libcrypt1")


def _wolfi_base(glibc: str, openssl: str) -> tuple[Pkg, ...]:
    return (
        apk("wolfi-baselayout", "20230201-r15", desc="baselayout data for Wolfi", license="MIT"),
        apk(
            "ca-certificates-bundle",
            "20240705-r0",
            "ca-certificates",
            desc="CA certificates bundle",
            license="MPL-2.0 AND MIT",
        ),
        *(apk(n, glibc, "glibc", desc="the GNU C library", license="LGPL-2.1-or-later") for n in WOLFI_GLIBC),
        apk("libgcc", "13.3.0-r2", "gcc", desc="GCC runtime library", license="GPL-3.0-or-later"),
        apk("libssl3", openssl, "openssl", desc="SSL shared libraries", license="Apache-2.0"),
        apk("libcrypto3", openssl, "openssl", desc="Crypto library from openssl", license="Apache-2.0"),
        apk("zlib", "1.3.1-r4", desc="A compression/decompression Library", license="Zlib"),
        apk("ncurses-terminfo-base", "6.5-r0", "ncurses", desc="Descriptions of common terminals", license="MIT"),
        apk("libncursesw6", "6.5-r0", "ncurses", desc="ncurses libraries", license="MIT"),
    )


CHAINGUARD_MARIADB_PACKAGES = _wolfi_base("2.39-r5", "3.3.1-r0") + (
    apk("libstdc++", "13.3.0-r2", "gcc", desc="GNU C++ standard runtime library", license="GPL-3.0-or-later"),
    apk("pcre2", "10.43-r1", desc="Perl-compatible regular expression library", license="BSD-3-Clause"),
    apk("libaio", "0.3.113-r2", desc="Asynchronous input/output library", license="LGPL-2.1-or-later"),
    apk("liburing", "2.6-r0", desc="Linux kernel io_uring access library", license="MIT"),
    apk("bash", "5.2.26-r2", desc="GNU bourne again shell", license="GPL-3.0-or-later"),
    apk("mariadb-11.4", "11.4.2-r0", desc="The MariaDB open source relational database"),
    apk("mariadb-11.4-client", "11.4.2-r0", "mariadb-11.4", desc="The MariaDB client"),
)

CHAINGUARD_PYTHON_PACKAGES = _wolfi_base("2.39-r7", "3.3.1-r3") + (
    apk(
        "libffi",
        "3.4.6-r1",
        desc="portable, high level programming interface to various calling conventions",
        license="MIT",
    ),
    apk("libexpat1", "2.6.2-r0", "expat", desc="XML SAX Parser library written in C", license="MIT"),
    apk("sqlite-libs", "3.46.0-r0", "sqlite", desc="SQLite libraries", license="blessing"),
    apk("libbz2-1", "1.0.8-r8", "bzip2", desc="bzip2 shared library", license="bzip2-1.0.6"),
    apk("liblzma5", "5.6.2-r0", "xz", desc="xz shared library", license="GPL-2.0-or-later"),
    apk("readline", "8.2-r6", desc="GNU readline library", license="GPL-3.0-or-later"),
    apk(
        "mpdecimal",
        "2.5.1-r6",
        desc="complete implementation of the General Decimal Arithmetic Specification",
        license="BSD-2-Clause",
    ),
    apk("python-3.12", "3.12.4-r0", desc="the Python programming language", license="PSF-2.0"),
    apk(
        "python-3.12-base", "3.12.4-r0", "python-3.12", desc="the Python programming language (base)", license="PSF-2.0"
    ),
)


def _big_packages() -> tuple[tuple[Pkg, ...], tuple[Pkg, ...]]:
    """~600 generated dpkg packages (sources and versions shared with trivydb), in two halves."""
    packages = []
    for source, version, binaries in trivydb.BIG_SOURCES:
        for binary in binaries:
            arch = "all" if binary.endswith("-doc") else None
            section = "doc" if arch else ("libdevel" if binary.endswith("-dev") else "libs")
            packages.append(
                deb(
                    binary,
                    version,
                    source if binary != source else None,
                    arch=arch,
                    section=section,
                    desc=f"{source} - {section} files",
                )
            )
    half = len(packages) // 2
    return tuple(packages[:half]), tuple(packages[half:])


BIG_PACKAGES_1, BIG_PACKAGES_2 = _big_packages()
_HAND_MADE_SOURCES = {
    p.src_name for p in DEBIAN_BASE_PACKAGES + MARIADB_DEPS_PACKAGES + MARIADB_SERVER_PACKAGES + PYTHON_DEPS_PACKAGES
}
# Generated advisories must not touch the hand-made images (library/clean must stay clean).
assert not _HAND_MADE_SOURCES & {source for source, _, _ in trivydb.BIG_SOURCES}
assert len({p.name for p in DEBIAN_BASE_PACKAGES + BIG_PACKAGES_1 + BIG_PACKAGES_2}) == (
    len(DEBIAN_BASE_PACKAGES) + len(BIG_PACKAGES_1) + len(BIG_PACKAGES_2)
)


# --- image catalog --------------------------------------------------------------------
DEBIAN_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUILDKIT = "buildkit.dockerfile.v0"
BOOKWORM = Distro("debian", "12.5")
WOLFI = Distro("wolfi", "20230201")


def _debian_base(
    arch: str = "amd64",
    packages: tuple[Pkg, ...] = DEBIAN_BASE_PACKAGES,
    filler: tuple[tuple[str, int], ...] | None = None,
) -> tuple[Step, ...]:
    """The two history entries of a debian:bookworm base image."""
    triplet = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[arch]
    if filler is None:
        filler = (
            (f"/usr/lib/{triplet}/gconv/gconv-modules.cache", 1_250_000),
            ("/usr/lib/locale/C.utf8/LC_COLLATE", 900_000),
        )
    return (
        Layer(
            "/bin/sh -c #(nop) ADD file:{diff_hex} in / ",
            packages=packages,
            filler=filler,
            shell=True,
            created="2024-06-12T23:58:54.374542133Z",
        ),
        ConfigStep(
            '/bin/sh -c #(nop)  CMD ["bash"]',
            env=(DEBIAN_PATH,),
            cmd=("bash",),
            created="2024-06-12T23:58:54.783014497Z",
        ),
    )


ENTRYPOINT_SCRIPT = b"""#!/bin/sh
set -e
# Minimal stand-in for the official image's entrypoint.
case "$1" in -*) set -- mariadbd "$@" ;; esac
exec "$@"
"""

MARIADB_STEPS = _debian_base() + (
    Layer(
        "RUN /bin/sh -c groupadd -r mysql && useradd -r -g mysql mysql --home-dir /var/lib/mysql # buildkit",
        files=(
            ("/etc/group", b"root:x:0:\nmysql:x:999:\n"),
            ("/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\nmysql:x:999:999::/var/lib/mysql:/bin/sh\n"),
        ),
        comment=BUILDKIT,
    ),
    ConfigStep("ENV GOSU_VERSION=1.17", env=("GOSU_VERSION=1.17",), comment=BUILDKIT),
    Layer(
        "RUN /bin/sh -c set -eux; apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y "
        "--no-install-recommends ca-certificates gpg gpgv libjemalloc2 pwgen tzdata xz-utils zstd; "
        "rm -rf /var/lib/apt/lists/* # buildkit",
        packages=MARIADB_DEPS_PACKAGES,
        filler=(("/usr/lib/x86_64-linux-gnu/libssl.so.3", 700_000),),
        comment=BUILDKIT,
    ),
    ConfigStep("ENV LANG=C.UTF-8", env=("LANG=C.UTF-8",), comment=BUILDKIT),
    ConfigStep(f"ENV MARIADB_VERSION={MARIADB}", env=(f"MARIADB_VERSION={MARIADB}",), comment=BUILDKIT),
    Layer(
        "RUN |1 MARIADB_VERSION=" + MARIADB + " /bin/sh -c set -ex; apt-get update; "
        'apt-get install -y --no-install-recommends mariadb-server="$MARIADB_VERSION" mariadb-backup socat; '
        "rm -rf /var/lib/apt/lists/*; rm -rf /var/lib/mysql; mkdir -p /var/lib/mysql /run/mysqld # buildkit",
        packages=MARIADB_SERVER_PACKAGES,
        filler=(
            ("/usr/sbin/mariadbd", 6_500_000),
            ("/usr/bin/mariadb", 1_200_000),
            ("/usr/lib/x86_64-linux-gnu/libmariadb.so.3", 450_000),
        ),
        files=(("/etc/mysql/my.cnf", b"[mariadbd]\nskip-host-cache\nskip-name-resolve\n"),),
        comment=BUILDKIT,
    ),
    ConfigStep("VOLUME [/var/lib/mysql]", volumes=("/var/lib/mysql",), comment=BUILDKIT),
    Layer(
        "COPY healthcheck.sh /usr/local/bin/healthcheck.sh # buildkit",
        files=(("/usr/local/bin/healthcheck.sh", b"#!/bin/bash\nexec mariadb-admin ping\n"),),
        comment=BUILDKIT,
    ),
    Layer(
        "COPY docker-entrypoint.sh /usr/local/bin/ # buildkit",
        files=(("/usr/local/bin/docker-entrypoint.sh", ENTRYPOINT_SCRIPT),),
        comment=BUILDKIT,
    ),
    ConfigStep('ENTRYPOINT ["docker-entrypoint.sh"]', entrypoint=("docker-entrypoint.sh",), comment=BUILDKIT),
    ConfigStep("EXPOSE map[3306/tcp:{}]", exposed_ports=("3306/tcp",), comment=BUILDKIT),
    ConfigStep('CMD ["mariadbd"]', cmd=("mariadbd",), comment=BUILDKIT),
)

PYTHON_STEPS = _debian_base() + (
    ConfigStep(
        f"ENV PATH=/usr/local/bin:{DEBIAN_PATH[5:]}", env=(f"PATH=/usr/local/bin:{DEBIAN_PATH[5:]}",), comment=BUILDKIT
    ),
    ConfigStep("ENV LANG=C.UTF-8", env=("LANG=C.UTF-8",), comment=BUILDKIT),
    Layer(
        "RUN /bin/sh -c set -eux; apt-get update; apt-get install -y --no-install-recommends "
        "ca-certificates netbase tzdata; rm -rf /var/lib/apt/lists/* # buildkit",
        packages=PYTHON_DEPS_PACKAGES,
        comment=BUILDKIT,
    ),
    ConfigStep(
        "ENV GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
        env=("GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",),
        comment=BUILDKIT,
    ),
    ConfigStep("ENV PYTHON_VERSION=3.12.4", env=("PYTHON_VERSION=3.12.4",), comment=BUILDKIT),
    Layer(
        'RUN /bin/sh -c set -eux; savedAptMark="$(apt-mark showmanual)"; ./configure --enable-optimizations '
        '--with-lto; make -j "$nproc"; make install; python3 --version # buildkit',
        filler=(("/usr/local/bin/python3.12", 4_200_000), ("/usr/local/lib/libpython3.12.so.1.0", 2_800_000)),
        files=(("/usr/local/lib/python3.12/os.py", b"# stand-in for the standard library\n"),),
        comment=BUILDKIT,
    ),
    Layer(
        "RUN /bin/sh -c set -eux; for src in idle3 pydoc3 python3 python3-config; do "
        'dst="$(echo "$src" | tr -d 3)"; ln -svT "$src" "/usr/local/bin/$dst"; done # buildkit',
        files=(("/usr/local/bin/python", b"python3.12 stand-in\n"),),
        comment=BUILDKIT,
    ),
    ConfigStep('CMD ["python3"]', cmd=("python3",), comment=BUILDKIT),
)


def _apko(
    packages: tuple[Pkg, ...],
    filler: tuple[tuple[str, int], ...],
    *,
    entrypoint: tuple[str, ...],
    cmd: tuple[str, ...] | None = None,
    env: tuple[str, ...] = (),
) -> tuple[Step, ...]:
    """A Chainguard-style single-layer image as apko writes it."""
    return (
        Layer(
            "apko",
            packages=packages,
            filler=filler,
            comment="This is an apko single-layer image",
            created="2024-07-02T00:00:00Z",
        ),
        ConfigStep(
            "apko config",
            env=(DEBIAN_PATH, *env),
            entrypoint=entrypoint,
            cmd=cmd,
            labels=(("org.opencontainers.image.authors", "Chainguard Team https://www.chainguard.dev/"),),
            created="2024-07-02T00:00:00Z",
        ),
    )


BIG_STEPS = _debian_base() + (
    Layer(
        "RUN /bin/sh -c set -eux; apt-get update; apt-get install -y --no-install-recommends "
        "build-essential autoconf automake libtool pkg-config # buildkit",
        packages=BIG_PACKAGES_1,
        files_per_package=10,
        filler=tuple((f"/usr/lib/gcc/x86_64-linux-gnu/12/cc1-part{i}", 10 * MiB) for i in range(5)),
        comment=BUILDKIT,
    ),
    Layer(
        "RUN /bin/sh -c set -eux; apt-get install -y --no-install-recommends imagemagick ghostscript "
        "git mercurial subversion openssh-client rsync # buildkit",
        packages=BIG_PACKAGES_2,
        files_per_package=10,
        filler=tuple((f"/usr/lib/x86_64-linux-gnu/libMagickCore-6.Q16.so.{i}", 10 * MiB) for i in range(5)),
        comment=BUILDKIT,
    ),
    ConfigStep("WORKDIR /opt/app", comment=BUILDKIT),
    Layer(
        "COPY vendor/ /opt/app/vendor/ # buildkit",
        filler=tuple((f"/opt/app/vendor/blob-{i:02d}.bin", 5 * MiB) for i in range(4)),
        comment=BUILDKIT,
    ),
    Layer(
        "COPY models/ /opt/app/models/ # buildkit",
        filler=tuple((f"/opt/app/models/weights-{i:02d}.bin", 5 * MiB) for i in range(4)),
        comment=BUILDKIT,
    ),
    ConfigStep('CMD ["/opt/app/run"]', cmd=("/opt/app/run",), comment=BUILDKIT),
)


def _multi_variant(arch: str, glibc: str, openssl: str) -> Variant:
    packages = (
        deb("base-files", "12.4+deb12u5", section="admin", desc="Debian base system miscellaneous files"),
        deb("libc6", glibc, "glibc", desc="GNU C Library: Shared libraries"),
        deb("libc-bin", glibc, "glibc", section="admin", desc="GNU C Library: Binaries"),
        deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", desc="compression library - runtime"),
        deb("libssl3", openssl, "openssl", desc="Secure Sockets Layer toolkit - shared libraries"),
        deb("openssl", openssl, section="utils", desc="Secure Sockets Layer toolkit - cryptographic utility"),
    )
    return Variant(
        arch,
        BOOKWORM,
        _debian_base(arch, packages, filler=())
        + (
            Layer(
                f"COPY app-{arch} /usr/local/bin/app # buildkit",
                filler=(("/usr/local/bin/app", {"amd64": 301_000, "arm64": 287_000}[arch]),),
                comment=BUILDKIT,
            ),
            ConfigStep('CMD ["app"]', cmd=("app",), comment=BUILDKIT),
        ),
        created="2024-07-01T09:30:00Z",
        variant="v8" if arch == "arm64" else None,
    )


# An older build of debian:12 that still had libcurl4 7.88.1-10+deb12u5 (CVE-2024-2398): what an image built a
# while ago sits on, so refreshing its base removes that finding.
OLD_DEBIAN_BASE = _debian_base(
    packages=DEBIAN_BASE_PACKAGES
    + (deb("libcurl4", "7.88.1-10+deb12u5", "curl", desc="easy-to-use client-side URL transfer library"),),
)
BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"

IMAGES: dict[str, ImageSpec] = {
    "library/debian": ImageSpec(
        "library/debian",
        ("12", "bookworm"),
        (Variant("amd64", BOOKWORM, _debian_base(), created="2024-06-12T23:58:54.783014497Z"),),
        description="the official base: mariadb, python and big are built on its one layer",
    ),
    "library/debian:12-20240101": ImageSpec(
        "library/debian",
        ("12-20240101",),
        (Variant("amd64", BOOKWORM, OLD_DEBIAN_BASE, created="2024-01-01T00:00:00Z"),),
        description="an older debian:12, with libcurl4 still in it",
    ),
    "library/mariadb": ImageSpec(
        "library/mariadb",
        ("latest", "11.4"),
        (Variant("amd64", BOOKWORM, MARIADB_STEPS, created="2024-06-20T17:12:41.224859915Z"),),
        description="Debian 12 MariaDB, 5 layers, many findings",
    ),
    "library/python": ImageSpec(
        "library/python",
        ("3.12",),
        (Variant("amd64", BOOKWORM, PYTHON_STEPS, created="2024-06-27T19:51:07.009422013Z"),),
        description="Debian 12 with CPython built from source (not a dpkg package)",
    ),
    "chainguard/mariadb": ImageSpec(
        "chainguard/mariadb",
        ("latest",),
        (
            Variant(
                "amd64",
                WOLFI,
                _apko(
                    CHAINGUARD_MARIADB_PACKAGES,
                    (("/usr/bin/mariadbd", 5_800_000), ("/usr/bin/mariadb", 1_100_000)),
                    entrypoint=("/usr/bin/mariadbd",),
                ),
                created="2024-07-02T00:00:00Z",
            ),
        ),
        oci=True,
        description="Wolfi MariaDB, one layer, fewer findings",
    ),
    "chainguard/python": ImageSpec(
        "chainguard/python",
        ("latest",),
        (
            Variant(
                "amd64",
                WOLFI,
                _apko(
                    CHAINGUARD_PYTHON_PACKAGES,
                    (("/usr/bin/python3.12", 3_900_000),),
                    entrypoint=("/usr/bin/python",),
                    env=("LANG=C.UTF-8",),
                ),
                created="2024-07-02T00:00:00Z",
            ),
        ),
        oci=True,
        description="Wolfi Python, one layer",
    ),
    "library/clean": ImageSpec(
        "library/clean",
        ("1",),
        (
            Variant(
                "amd64",
                BOOKWORM,
                _debian_base(packages=CLEAN_PACKAGES, filler=(("/usr/bin/true", 40_000),)),
                created="2024-06-12T23:58:54.783014497Z",
            ),
        ),
        description="Debian 12 with packages that have no advisories",
    ),
    "library/noos": ImageSpec(
        "library/noos",
        ("1",),
        (
            Variant(
                "amd64",
                None,
                (
                    Layer(
                        "COPY app /app # buildkit",
                        files=(("/app/README.txt", b"A static binary, no distribution.\n"),),
                        filler=(("/app/server", 350_000),),
                        comment=BUILDKIT,
                    ),
                    ConfigStep('ENTRYPOINT ["/app/server"]', entrypoint=("/app/server",), comment=BUILDKIT),
                ),
                created="2024-05-05T12:00:00Z",
            ),
        ),
        description="no recognisable OS",
    ),
    "library/big": ImageSpec(
        "library/big",
        ("1",),
        (Variant("amd64", BOOKWORM, BIG_STEPS, created="2024-08-01T08:00:00Z"),),
        description="benchmark: ~650 dpkg packages, ~150 MB of incompressible layers",
    ),
    "library/multi": ImageSpec(
        "library/multi",
        ("1",),
        (_multi_variant("amd64", GLIBC, OPENSSL), _multi_variant("arm64", "2.36-9+deb12u9", "3.0.15-1~deb12u1")),
        oci=True,
        description="OCI index: linux/amd64 (vulnerable) and linux/arm64/v8 (patched)",
    ),
}


# --- images of the layer-cache and Java DB tests ----------------------------------------
# Pushed on demand (push_image), not by build_and_push_all: app:1, app:2 and app:3 share the Debian base and the
# dependency layer of library/mariadb; app:2 differs in its top layer's files, app:3 upgrades OpenSSL in its top
# layer. javaapp:1 carries one jar that Trivy identifies by its pom.properties.
def _app_steps(top: Layer) -> tuple[Step, ...]:
    return _debian_base() + (
        Layer(
            "RUN /bin/sh -c set -eux; apt-get update; apt-get install -y --no-install-recommends ca-certificates "
            "gpg libjemalloc2 pwgen tzdata xz-utils zstd; rm -rf /var/lib/apt/lists/* # buildkit",
            packages=MARIADB_DEPS_PACKAGES,
            filler=(("/usr/lib/x86_64-linux-gnu/libssl.so.3", 700_000),),
            comment=BUILDKIT,
        ),
        top,
        ConfigStep('CMD ["app"]', cmd=("app",), comment=BUILDKIT),
    )


def _app_release(number: int) -> Layer:
    return Layer(
        f"COPY app-{number} /usr/local/bin/app # buildkit",
        filler=((f"/usr/local/bin/app-{number}", 250_000 + number),),
        comment=BUILDKIT,
    )


OPENSSL_UPGRADED = "3.0.15-1~deb12u1"
JAR_PATH = "/opt/app/lib/demo-1.2.0.jar"
JAR_GAV = ("org.example", "demo", "1.2.0")


def jar_bytes(group: str, artifact: str, version: str) -> bytes:
    """A jar (a zip) whose META-INF/maven/G/A/pom.properties names it, with fixed timestamps."""
    import zipfile

    out = io.BytesIO()
    entries = {
        "META-INF/MANIFEST.MF": f"Manifest-Version: 1.0\nImplementation-Title: {artifact}\n"
        f"Implementation-Version: {version}\n",
        f"META-INF/maven/{group}/{artifact}/pom.properties": f"groupId={group}\nartifactId={artifact}\n"
        f"version={version}\n",
        f"{group.replace('.', '/')}/{artifact}/Main.class": "stand-in class file",
    }
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as jar:
        for name, text in entries.items():
            jar.writestr(zipfile.ZipInfo(name, date_time=(2024, 6, 12, 0, 0, 0)), text)
    return out.getvalue()


# Language packages as Trivy's image analysers read them: installed metadata, never lock files (TRIVY-OFFLINE.md).
POLYGLOT_PYTHON = ("requests", "2.31.0")
POLYGLOT_NODE = ("lodash", "4.17.20")
POLYGLOT_GEM = ("rack", "2.2.3")
POLYGLOT_DOTNET = (("orders", "Newtonsoft.Json", "13.0.1"), ("billing", "System.Text.Json", "8.0.0"))
POLYGLOT_COMPOSER = ("guzzlehttp/guzzle", "7.4.0")


def dist_info(name: str, version: str) -> tuple[str, bytes]:
    """A wheel's installed ``*.dist-info/METADATA`` in site-packages."""
    path = f"/usr/local/lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA"
    return path, f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: Apache-2.0\n".encode()


def node_package(name: str, version: str) -> tuple[str, bytes]:
    """An installed node module's ``package.json``."""
    return f"/srv/web/node_modules/{name}/package.json", json.dumps({"name": name, "version": version}).encode()


def deps_json(service: str, name: str, version: str) -> tuple[str, bytes]:
    """A .NET application's ``*.deps.json`` naming one NuGet package: Trivy reports each such file on its own."""
    library = f"{name}/{version}"
    deps = {
        "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0"},
        "targets": {".NETCoreApp,Version=v8.0": {library: {"runtime": {f"lib/net8.0/{name}.dll": {}}}}},
        "libraries": {library: {"type": "package", "serviceable": True}},
    }
    return f"/srv/{service}/{service}.deps.json", json.dumps(deps).encode()


def gemspec(name: str, version: str) -> tuple[str, bytes]:
    """An installed gem's ``specifications/*.gemspec``, as RubyGems writes it."""
    text = (
        f'# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = "{name}".freeze\n'
        f'  s.version = "{version}"\n  s.licenses = ["MIT".freeze]\nend\n'
    )
    return f"/usr/local/bundle/specifications/{name}-{version}.gemspec", text.encode()


def composer_installed(name: str, version: str) -> tuple[str, bytes]:
    """A PHP application's ``vendor/composer/installed.json`` (Composer 2) naming one package."""
    package = {"name": name, "version": version, "version_normalized": f"{version}.0", "type": "library",
               "license": ["MIT"], "install-path": f"../{name}"}  # fmt: skip
    document = {"packages": [package], "dev": False, "dev-package-names": []}
    return "/srv/shop/vendor/composer/installed.json", json.dumps(document).encode()


def _debian_app(repository: str, created: str, description: str, *top: Step) -> ImageSpec:
    """``repository:1``: an amd64 Debian 12 image, the debian base with ``top`` on it."""
    variant = Variant("amd64", BOOKWORM, _debian_base() + top, created=created)
    return ImageSpec(repository, ("1",), (variant,), description=description)


EXTRA_IMAGES: dict[str, ImageSpec] = {
    "library/app:1": ImageSpec(
        "library/app",
        ("1",),
        (Variant("amd64", BOOKWORM, _app_steps(_app_release(1)), created="2024-07-10T10:00:00Z"),),
        description="the mariadb base and dependency layers, one small top layer",
    ),
    "library/app:2": ImageSpec(
        "library/app",
        ("2",),
        (Variant("amd64", BOOKWORM, _app_steps(_app_release(2)), created="2024-07-11T10:00:00Z"),),
        description="app:1 rebuilt: a new digest sharing every layer but the top one",
    ),
    "library/app:3": ImageSpec(
        "library/app",
        ("3",),
        (
            Variant(
                "amd64",
                BOOKWORM,
                _app_steps(
                    Layer(
                        "RUN /bin/sh -c apt-get update && apt-get install -y --only-upgrade libssl3 openssl # buildkit",
                        packages=(
                            deb("libssl3", OPENSSL_UPGRADED, "openssl", desc="Secure Sockets Layer toolkit"),
                            deb("openssl", OPENSSL_UPGRADED, section="utils", desc="Secure Sockets Layer toolkit"),
                        ),
                        comment=BUILDKIT,
                    )
                ),
                created="2024-07-12T10:00:00Z",
            ),
        ),
        description="app:1 with OpenSSL upgraded in its top layer",
    ),
    "library/javaapp:1": _debian_app(
        "library/javaapp",
        "2024-07-13T10:00:00Z",
        "Debian 12 with one jar (org.example:demo 1.2.0)",
        Layer("COPY lib/ /opt/app/lib/ # buildkit", files=((JAR_PATH, jar_bytes(*JAR_GAV)),), comment=BUILDKIT),
        ConfigStep('CMD ["java", "-jar", "/opt/app/lib/demo-1.2.0.jar"]', cmd=("java",), comment=BUILDKIT),
    ),
    "library/polyglot:1": _debian_app(
        "library/polyglot",
        "2024-07-14T10:00:00Z",
        "Debian 12 with a wheel, a node module, a gem, javaapp's jar and two .NET services, in three layers",
        Layer(
            "RUN /bin/sh -c pip install requests==2.31.0 && npm install lodash@4.17.20 # buildkit",
            files=(dist_info(*POLYGLOT_PYTHON), node_package(*POLYGLOT_NODE)),
            comment=BUILDKIT,
        ),
        Layer(
            "COPY bundle/ lib/ /usr/local/ # buildkit",
            files=(gemspec(*POLYGLOT_GEM), (JAR_PATH, jar_bytes(*JAR_GAV))),
            comment=BUILDKIT,
        ),
        Layer(
            "COPY services/ /srv/ # buildkit",
            files=tuple(deps_json(*service) for service in POLYGLOT_DOTNET),
            comment=BUILDKIT,
        ),
        Layer(
            "COPY shop/ /srv/shop/ # buildkit",
            files=(composer_installed(*POLYGLOT_COMPOSER),),
            comment=BUILDKIT,
        ),
        ConfigStep('CMD ["app"]', cmd=("app",), comment=BUILDKIT),
    ),
}


def push_on_base(base: ImageSpec, registry: str, repository: str, tags: Iterable[str]) -> dict[str, str]:
    """Push one image per tag: ``base`` (its one variant, built once) plus a small top layer of its own, so every
    tag is a distinct digest sharing all of base's layers (a rebuilt application image). Returns tag → digest."""
    built = _built(base.variants[0], base.oci)
    client = _Registry(registry)
    for blob, _, _ in built.layers:
        client.push_blob(repository, blob)
    digests = {}
    for tag in tags:
        raw = _tar({f"/opt/app/bin/release-{tag}": filler_bytes(f"/release/{tag}", 64_000)})
        diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        layer = _Blob.of(gzip.compress(raw, mtime=0), OCI_LAYER if base.oci else DOCKER_LAYER)
        config = json.loads(built.config.data)
        config["rootfs"]["diff_ids"].append(diff_id)
        config["history"].append({"created": "2024-08-02T00:00:00Z", "created_by": f"COPY release-{tag} /opt/app/bin/"})
        config_blob = _Blob.of(_json_bytes(config), built.config.media_type)
        manifest = json.loads(built.manifest.data)
        manifest["config"] = {
            "mediaType": config_blob.media_type,
            "size": len(config_blob.data),
            "digest": config_blob.digest,
        }
        manifest["layers"].append({"mediaType": layer.media_type, "size": len(layer.data), "digest": layer.digest})
        manifest_blob = _Blob.of(_json_bytes(manifest), built.manifest.media_type)
        client.push_blob(repository, layer)
        client.push_blob(repository, config_blob)
        client.push_manifest(repository, tag, manifest_blob)
        digests[tag] = manifest_blob.digest
    return digests


def push_extra(registry: str, *names: str) -> dict[str, ImageInfo]:
    """Push images of `EXTRA_IMAGES` (all when none is named); keyed "library/app:1" etc."""
    infos: dict[str, ImageInfo] = {}
    for name in names or tuple(EXTRA_IMAGES):
        infos.update(push_image(EXTRA_IMAGES[name], registry))
    return infos


# --- layer contents -------------------------------------------------------------------
DEBIAN_OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""


def _os_files(distro: Distro) -> dict[str, bytes]:
    if distro.family == "debian":
        return {"/etc/debian_version": f"{distro.version}\n".encode(), "/etc/os-release": DEBIAN_OS_RELEASE}
    name = {"wolfi": "Wolfi", "chainguard": "Chainguard"}[distro.family]
    return {
        "/etc/os-release": (
            f'ID={distro.family}\nNAME="{name}"\nPRETTY_NAME="{name}"\nVERSION_ID="{distro.version}"\n'
            f'HOME_URL="https://wolfi.dev"\n'
        ).encode()
    }


def _stable_int(text: str, low: int, high: int) -> int:
    return low + int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % (high - low)


def _dpkg_stanza(pkg: Pkg, arch: str) -> str:
    source = ""
    if pkg.source or pkg.source_version:
        source = f"Source: {pkg.src_name}" + (f" ({pkg.source_version})" if pkg.source_version else "") + "\n"
    multi_arch = "Multi-Arch: same\n" if pkg.section == "libs" else ""
    return (
        f"Package: {pkg.name}\n"
        "Status: install ok installed\n"
        f"Priority: {'required' if pkg.section in ('admin', 'shells') else 'optional'}\n"
        f"Section: {pkg.section}\n"
        f"Installed-Size: {_stable_int(pkg.name, 40, 9000)}\n"
        f"Maintainer: {DEBIAN_MAINTAINERS.get(pkg.src_name, DEFAULT_DEBIAN_MAINTAINER)}\n"
        f"Architecture: {pkg.arch or arch}\n"
        f"{multi_arch}{source}"
        f"Version: {pkg.version}\n"
        f"Description: {pkg.description or pkg.name}\n"
        f" This package is part of the chainscan offline test images.\n"
    )


def _apk_stanza(pkg: Pkg, arch: str) -> str:
    apk_arch = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    checksum = base64.b64encode(hashlib.sha1(f"{pkg.name}-{pkg.version}".encode()).digest()).decode()
    commit = hashlib.sha1(f"{pkg.src_name}@{pkg.version}".encode()).hexdigest()
    return (
        f"C:Q1{checksum}\nP:{pkg.name}\nV:{pkg.version}\nA:{apk_arch}\n"
        f"S:{_stable_int(pkg.name, 4000, 900000)}\nI:{_stable_int(pkg.name + 'i', 8000, 3000000)}\n"
        f"T:{pkg.description or pkg.name}\nU:https://wolfi.dev\nL:{pkg.license}\no:{pkg.src_name}\n"
        f"m:Wolfi Packages <wolfi-dev@chainguard.dev>\nt:{_stable_int(pkg.version, 1714000000, 1719000000)}\n"
        f"c:{commit}\n"
    )


def _package_db(distro: Distro, packages: Iterable[Pkg], arch: str) -> dict[str, bytes]:
    ordered = sorted(packages, key=lambda p: p.name)
    if distro.package_format == "dpkg":
        return {"/var/lib/dpkg/status": "\n".join(_dpkg_stanza(p, arch) for p in ordered).encode()}
    return {"/lib/apk/db/installed": "".join(_apk_stanza(p, arch) + "\n" for p in ordered).encode()}


def filler_bytes(path: str, size: int) -> bytes:
    """Incompressible bytes that depend only on (path, size): shared layers stay identical."""
    return random.Random(f"{path}:{size}").randbytes(size)


def _tar(files: dict[str, bytes], dir_modes: dict[str, int] | None = None) -> bytes:
    """A reproducible tar: sorted entries, parents first, root-owned, fixed mtime."""
    dirs = {str(p) for path in files for p in _parents(path)} | set(dir_modes or {})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(dirs | set(files)):
            info = tarfile.TarInfo(name.lstrip("/") + ("/" if name in dirs else ""))
            info.mtime = TAR_MTIME
            info.uname = info.gname = "root"
            if name in dirs:
                info.type, info.mode = tarfile.DIRTYPE, (dir_modes or {}).get(name, 0o755)
                tar.addfile(info)
            else:
                data = files[name]
                executable = any(part in name for part in ("/bin/", "/sbin/", ".sh", ".so", "/app/"))
                info.size, info.mode = len(data), 0o755 if executable else 0o644
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass
class _Blob:
    data: bytes
    digest: str
    media_type: str

    @classmethod
    def of(cls, data: bytes, media_type: str) -> _Blob:
        return cls(data, "sha256:" + hashlib.sha256(data).hexdigest(), media_type)


@dataclass
class _BuiltVariant:
    variant: Variant
    layers: list[tuple[_Blob, str, str]]  # (compressed blob, diff_id, created_by)
    config: _Blob
    manifest: _Blob


def _layer_files(variant: Variant, step: Layer, installed: dict[str, Pkg], first: bool) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if first and variant.distro:
        files.update(_os_files(variant.distro))
    if step.packages:
        if variant.distro is None:
            raise ValueError("packages need a distro")
        installed.update({p.name: p for p in step.packages})
        files.update(_package_db(variant.distro, installed.values(), variant.architecture))
        if step.files_per_package:
            for pkg in step.packages:
                files.update(_dpkg_package_files(pkg, step.files_per_package, variant.architecture))
    if step.shell:
        files.update(host_shell_files(variant.architecture))
    files.update(dict(step.files))
    files.update({path: filler_bytes(path, size) for path, size in step.filler})
    return files


HOST_TOOLS = ("cat", "chmod", "env", "id", "ln", "ls", "mkdir", "rm", "sleep", "touch", "true")
HOST_LIBS = ("libc.so.6", "libselinux.so.1", "libpcre2-8.so.0")
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine(), "")


def host_shell_files(arch: str) -> dict[str, bytes]:
    """The host's dash (as /bin/sh), a few coreutils and their libraries.

    With them `RUN`, `docker run … sh -c` and healthchecks work in images built FROM the
    Debian test images. Only when the image's architecture is the host's and the host is
    a glibc system with these files (Debian 12 here); otherwise nothing is added.
    """
    triplet = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[arch]
    loader = {"amd64": "/lib64/ld-linux-x86-64.so.2", "arm64": "/lib/ld-linux-aarch64.so.1"}[arch]
    wanted = {"/bin/sh": "/bin/dash", "/bin/dash": "/bin/dash", loader: loader}
    wanted.update({f"/bin/{tool}": f"/bin/{tool}" for tool in HOST_TOOLS})
    wanted.update({f"/lib/{triplet}/{lib}": f"/lib/{triplet}/{lib}" for lib in HOST_LIBS})
    if arch != HOST_ARCH or not all(os.path.exists(src) for src in wanted.values()):
        return {}
    return {path: Path(os.path.realpath(src)).read_bytes() for path, src in wanted.items()}


def _dpkg_package_files(pkg: Pkg, count: int, arch: str) -> dict[str, bytes]:
    """Files a package installs, with the dpkg info lists that record them."""
    triplet = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[arch]
    paths = [f"/usr/share/doc/{pkg.name}/copyright", f"/usr/share/doc/{pkg.name}/changelog.Debian.gz"]
    paths += [f"/usr/lib/{triplet}/{pkg.name}/{pkg.name}-{i}.so" for i in range(count - len(paths))]
    files = {path: filler_bytes(path, _stable_int(path, 300, 6000)) for path in paths}
    listed = sorted({d for path in paths for d in _parents(path)} | set(paths))
    files[f"/var/lib/dpkg/info/{pkg.name}.list"] = ("/.\n" + "".join(f"{p}\n" for p in listed)).encode()
    files[f"/var/lib/dpkg/info/{pkg.name}.md5sums"] = "".join(
        f"{hashlib.md5(files[p]).hexdigest()}  {p.lstrip('/')}\n" for p in paths
    ).encode()
    return files


def _build_layers(variant: Variant, oci: bool) -> list[tuple[_Blob, str, str]]:
    layers = []
    installed: dict[str, Pkg] = {}
    for step in variant.steps:
        if not isinstance(step, Layer):
            continue
        dir_modes = {"/tmp": 0o1777} if not layers and variant.distro else None
        raw = _tar(_layer_files(variant, step, installed, first=not layers), dir_modes)
        diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        filler = sum(size for _, size in step.filler)
        level = 0 if filler > 16 * MiB else 1 if filler else 6  # random bytes do not compress anyway
        blob = _Blob.of(gzip.compress(raw, compresslevel=level, mtime=0), OCI_LAYER if oci else DOCKER_LAYER)
        layers.append((blob, diff_id, step.created_by.replace("{diff_hex}", diff_id[7:])))
    return layers


def _config(variant: Variant, layers: list[tuple[_Blob, str, str]]) -> dict:
    container: dict = {"Env": []}
    history = []
    created_by = iter(c for _, _, c in layers)
    for step in variant.steps:
        entry = {"created": step.created or variant.created}
        if isinstance(step, Layer):
            entry["created_by"] = next(created_by)
        else:
            entry["created_by"] = step.created_by
            entry["empty_layer"] = True
            _apply_config_step(container, step)
        if step.comment:
            entry["comment"] = step.comment
        history.append(entry)
    config = {
        "architecture": variant.architecture,
        "config": container,
        "created": variant.created,
        "history": history,
        "os": variant.os,
        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id, _ in layers]},
    }
    if variant.variant:
        config["variant"] = variant.variant
    return config


def _apply_config_step(container: dict, step: ConfigStep) -> None:
    for item in step.env:
        key = item.split("=", 1)[0] + "="
        container["Env"] = [e for e in container["Env"] if not e.startswith(key)] + [item]
    if step.cmd is not None:
        container["Cmd"] = list(step.cmd)
    if step.entrypoint is not None:
        container["Entrypoint"] = list(step.entrypoint)
    for port in step.exposed_ports:
        container.setdefault("ExposedPorts", {})[port] = {}
    for volume in step.volumes:
        container.setdefault("Volumes", {})[volume] = {}
    for key, value in step.labels:
        container.setdefault("Labels", {})[key] = value
    if step.created_by.startswith("WORKDIR "):
        container["WorkingDir"] = step.created_by.split(" ", 1)[1]


def _json_bytes(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _build_variant(variant: Variant, oci: bool) -> _BuiltVariant:
    layers = _build_layers(variant, oci)
    config = _Blob.of(_json_bytes(_config(variant, layers)), OCI_CONFIG if oci else DOCKER_CONFIG)
    manifest_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config.media_type, "size": len(config.data), "digest": config.digest},
        "layers": [{"mediaType": b.media_type, "size": len(b.data), "digest": b.digest} for b, _, _ in layers],
    }
    if oci and variant.annotations:
        manifest["annotations"] = dict(variant.annotations)
    return _BuiltVariant(variant, layers, config, _Blob.of(_json_bytes(manifest), manifest_type))


def _index(built: list[_BuiltVariant]) -> _Blob:
    manifests = []
    for b in built:
        platform = {"architecture": b.variant.architecture, "os": b.variant.os}
        if b.variant.variant:
            platform["variant"] = b.variant.variant
        manifests.append(
            {
                "mediaType": b.manifest.media_type,
                "size": len(b.manifest.data),
                "digest": b.manifest.digest,
                "platform": platform,
            }
        )
    return _Blob.of(_json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}), OCI_INDEX)


# --- registry push --------------------------------------------------------------------
class _Registry:
    """The few calls of the registry HTTP API v2 a push needs."""

    def __init__(self, registry: str, auth: tuple[str, str] | None = None) -> None:
        self.base = f"http://{registry}"
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: never through an HTTP(S)_PROXY
        self.session.auth = auth

    def push_blob(self, repository: str, blob: _Blob) -> None:
        url = f"{self.base}/v2/{repository}/blobs/{blob.digest}"
        if self.session.head(url, timeout=30).status_code == 200:
            return
        started = self.session.post(f"{self.base}/v2/{repository}/blobs/uploads/", timeout=30)
        _check(started, 202)
        location = urljoin(self.base, started.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = self.session.put(
            f"{location}{separator}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=300,
        )
        _check(done, 201)

    def push_manifest(self, repository: str, reference: str, blob: _Blob) -> None:
        response = self.session.put(
            f"{self.base}/v2/{repository}/manifests/{reference}",
            data=blob.data,
            headers={"Content-Type": blob.media_type},
            timeout=60,
        )
        _check(response, 201)
        if response.headers.get("Docker-Content-Digest", blob.digest) != blob.digest:
            raise RuntimeError(f"registry computed {response.headers['Docker-Content-Digest']}, expected {blob.digest}")


def _check(response: requests.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.url} -> {response.status_code}: {response.text[:300]}")


_BUILT: dict[tuple[Variant, bool], _BuiltVariant] = {}
KEEP_BUILT_BELOW = 32 * MiB  # the big image is rebuilt rather than held in memory


def _built(variant: Variant, oci: bool) -> _BuiltVariant:
    """Build a variant, keeping small ones for later pushes in this process."""
    if (variant, oci) in _BUILT:
        return _BUILT[(variant, oci)]
    built = _build_variant(variant, oci)
    if sum(len(blob.data) for blob, _, _ in built.layers) < KEEP_BUILT_BELOW:
        _BUILT[(variant, oci)] = built
    return built


def push_image(
    spec: ImageSpec,
    registry: str = DEFAULT_REGISTRY,
    *,
    repository: str | None = None,
    auth: tuple[str, str] | None = None,
) -> dict[str, ImageInfo]:
    """Push every tag of `spec` (optionally under another repository name); keyed "repo:tag"."""
    repository = repository or spec.repository
    client = _Registry(registry, auth)
    oci = spec.oci or len(spec.variants) > 1
    built = [_built(v, oci) for v in spec.variants]
    for b in built:
        for blob, _, _ in b.layers:
            client.push_blob(repository, blob)
        client.push_blob(repository, b.config)
    top = _index(built) if len(built) > 1 else built[0].manifest
    if len(built) > 1:
        for b in built:
            client.push_manifest(repository, b.manifest.digest, b.manifest)
    for tag in spec.tags:
        client.push_manifest(repository, tag, top)
    platforms = {b.variant.platform: _platform_image(b) for b in built}
    return {
        f"{repository}:{tag}": ImageInfo(
            f"{repository}:{tag}", registry, repository, tag, top.digest, top.media_type, platforms, spec
        )
        for tag in spec.tags
    }


def _platform_image(b: _BuiltVariant) -> PlatformImage:
    layers = tuple(
        LayerInfo(blob.digest, diff_id, len(blob.data), created_by) for blob, diff_id, created_by in b.layers
    )
    return PlatformImage(b.variant.platform, b.manifest.digest, b.config.digest, layers, b.variant)


def build_and_push_all(
    registry: str = DEFAULT_REGISTRY, *, auth: tuple[str, str] | None = None
) -> dict[str, ImageInfo]:
    """Build every image of `IMAGES` and push all their tags; keyed "library/mariadb:latest"."""
    infos: dict[str, ImageInfo] = {}
    for spec in IMAGES.values():
        infos.update(push_image(spec, registry, auth=auth))
    old_base = infos["library/debian:12-20240101"].digest
    infos.update(push_image(labelled_app(old_base), registry, auth=auth))
    infos.update(push_image(annotated_app(old_base), registry, auth=auth))
    return infos


def annotated_app(base_digest: str) -> ImageSpec:
    """``library/annotated:1``: the same app, naming its base in OCI manifest annotations instead of labels."""
    spec = labelled_app(base_digest)
    steps = tuple(s for s in spec.variants[0].steps if not (isinstance(s, ConfigStep) and s.labels))
    annotations = dict(next(s for s in spec.variants[0].steps if isinstance(s, ConfigStep) and s.labels).labels)
    variant = replace(spec.variants[0], steps=steps, annotations=tuple(annotations.items()))
    return ImageSpec("library/annotated", ("1",), (variant,), oci=True, description="base named in annotations")


def labelled_app(base_digest: str) -> ImageSpec:
    """``library/webapp:1``: built on an older debian:12 and saying so in the OCI base labels (name and digest)."""
    labels = (
        (BASE_NAME_LABEL, "docker.io/library/debian:12"),
        (BASE_DIGEST_LABEL, base_digest),
        ("org.opencontainers.image.source", "https://github.com/acme/webapp"),  # routed by the owners tests
    )
    steps = OLD_DEBIAN_BASE + (
        Layer("COPY app /srv/app # buildkit", files=(("/srv/app/app.py", b"print('hello')\n"),), comment=BUILDKIT),
        ConfigStep("LABEL org.opencontainers.image.base.name=…", labels=labels, comment=BUILDKIT),
    )
    return ImageSpec(
        "library/webapp",
        ("1",),
        (Variant("amd64", BOOKWORM, steps, created="2024-02-01T00:00:00Z"),),
        description="an app whose base labels name an older debian:12",
    )


def load_into_daemon(info: ImageInfo, client=None, *, tag_as: str | None = None):
    """`docker pull` the image from the loopback registry; optionally tag it (e.g. "mariadb:latest").

    Returns the docker SDK Image. 127.0.0.0/8 registries need no insecure-registries entry.
    """
    import docker  # only the tests that use a daemon need the SDK

    client = client or docker.from_env()
    image = client.images.pull(f"{info.registry}/{info.repository}", tag=info.tag)
    if tag_as:
        repository, tag = tag_as.rsplit(":", 1) if ":" in tag_as.split("/")[-1] else (tag_as, "latest")
        image.tag(repository, tag)
    return image


# --- what Trivy must report -----------------------------------------------------------
@dataclass(frozen=True, order=True)
class ExpectedVulnerability:
    vuln_id: str
    pkg_name: str
    installed_version: str
    fixed_version: str  # "" when there is none
    status: str
    severity: str
    severity_source: str  # "" when Trivy falls back to no source
    layer_diff_id: str


def expected_vulnerabilities(
    info: ImageInfo,
    platform: str | None = None,
    advisories: Iterable[Advisory] | None = None,
    vulnerabilities: dict[str, Vulnerability] | None = None,
) -> list[ExpectedVulnerability]:
    """Match the DB's advisories against the image's packages the way Trivy does."""
    image = info.platform(platform)
    distro = image.variant.distro
    if distro is None:
        return []
    advisories = trivydb.ADVISORIES if advisories is None else advisories
    vulnerabilities = trivydb.VULNERABILITIES if vulnerabilities is None else vulnerabilities
    by_source: dict[str, list[Advisory]] = {}
    for adv in advisories:
        if adv.platform == distro.trivy_platform:
            by_source.setdefault(adv.source, []).append(adv)
    found = []
    for pkg, layer in _installed_packages(image):
        for adv in by_source.get(pkg.src_name, []):
            if _is_vulnerable(distro, pkg, adv):
                severity, source = _severity(adv, vulnerabilities.get(adv.vuln_id), distro)
                status = "fixed" if adv.fixed_version else adv.status or "affected"
                found.append(
                    ExpectedVulnerability(
                        adv.vuln_id,
                        pkg.name,
                        pkg.version,
                        adv.fixed_version or "",
                        status,
                        severity,
                        source,
                        layer.diff_id,
                    )
                )
    return sorted(found)


def installed_packages(info: ImageInfo, platform: str | None = None) -> list[Pkg]:
    return [pkg for pkg, _ in _installed_packages(info.platform(platform))]


def _installed_packages(image: PlatformImage) -> list[tuple[Pkg, LayerInfo]]:
    """Final package set, each with the first layer whose package DB lists that exact version."""
    seen: dict[tuple[str, str], LayerInfo] = {}
    final: dict[str, Pkg] = {}
    layer_steps = [s for s in image.variant.steps if isinstance(s, Layer)]
    for step, layer in zip(layer_steps, image.layers, strict=False):
        for pkg in step.packages:
            seen.setdefault((pkg.name, pkg.version), layer)
            final[pkg.name] = pkg
    return [(pkg, seen[(pkg.name, pkg.version)]) for pkg in final.values()]


def _is_vulnerable(distro: Distro, pkg: Pkg, adv: Advisory) -> bool:
    if distro.package_format == "dpkg":
        # Debian compares the *source* version; no fixed version means "still affected".
        return not adv.fixed_version or dpkg_compare(pkg.src_version, adv.fixed_version) < 0
    # Wolfi/Chainguard skip advisories without a fixed version.
    return bool(adv.fixed_version) and apk_compare(pkg.version, adv.fixed_version) < 0


def _severity(adv: Advisory, vuln: Vulnerability | None, distro: Distro) -> tuple[str, str]:
    """Trivy's choice: package-specific, then the data source's vendor, then NVD."""
    if adv.severity:
        return adv.severity, "debian"
    if vuln is None:
        return "UNKNOWN", ""
    source_id = trivydb.DATA_SOURCES[distro.trivy_platform]["ID"]
    for source in (source_id, "nvd"):
        if source in vuln.vendor_severity:
            return vuln.vendor_severity[source], source
    return "UNKNOWN", ""


def severity_counts(found: Iterable[ExpectedVulnerability]) -> dict[str, int]:
    counts = dict.fromkeys(("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"), 0)
    for v in found:
        counts[v.severity] += 1
    return counts


# --- version comparison ---------------------------------------------------------------
def _dpkg_order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _dpkg_part(a: str, b: str) -> int:
    """Compare upstream or revision strings the way dpkg does (digits numerically, ~ first)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ca = _dpkg_order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            cb = _dpkg_order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ca != cb:
                return -1 if ca < cb else 1
            i, j = i + 1, j + 1
        na = nb = ""
        while i < len(a) and a[i].isdigit():
            na, i = na + a[i], i + 1
        while j < len(b) and b[j].isdigit():
            nb, j = nb + b[j], j + 1
        if int(na or 0) != int(nb or 0):
            return -1 if int(na or 0) < int(nb or 0) else 1
    return 0


def _dpkg_split(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.partition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
    return int(epoch), upstream, revision


def dpkg_compare(a: str, b: str) -> int:
    ea, ua, ra = _dpkg_split(a)
    eb, ub, rb = _dpkg_split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _dpkg_part(ua, ub) or _dpkg_part(ra, rb)


def apk_compare(a: str, b: str) -> int:
    """Enough of apk's ordering for versions like 3.3.1-r0 or 20230201-r15."""

    def key(version: str) -> tuple:
        main, _, release = version.partition("-r")
        if not all(part.isdigit() for part in main.split(".")) or not release.isdigit():
            raise ValueError(f"apk version outside the supported subset: {version}")
        return tuple(int(p) for p in main.split(".")), int(release)

    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


def push_lying_image(source: str, repository: str, target: str, tag: str = "1") -> str:
    """Push ``target/repository:tag``: the config of ``source/repository``'s image (so its DiffIDs), over layers
    that hold nothing — the image that poisons a layer cache keyed by DiffID. Its reference."""
    accept = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST))
    http = requests.Session()
    http.trust_env = False
    repo, _, ref = repository.partition(":")
    manifest = http.get(f"http://{source}/v2/{repo}/manifests/{ref or 'latest'}", headers={"Accept": accept}).json()
    if "manifests" in manifest:
        entry = next(m for m in manifest["manifests"] if (m.get("platform") or {}).get("architecture") == "amd64")
        manifest = http.get(f"http://{source}/v2/{repo}/manifests/{entry['digest']}", headers={"Accept": accept}).json()
    config = http.get(f"http://{source}/v2/{repo}/blobs/{manifest['config']['digest']}").content
    empty = _Blob.of(gzip.compress(_tar({"hello.txt": b"nothing to see\n"}), mtime=0), OCI_LAYER)
    config_blob = _Blob.of(config, manifest["config"]["mediaType"])
    pushed = _Registry(target)
    name = f"{repo.rsplit('/', 1)[-1]}-poison"
    pushed.push_blob(name, empty)
    pushed.push_blob(name, config_blob)
    lying = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_blob.media_type, "digest": config_blob.digest, "size": len(config)},
        "layers": [
            {"mediaType": empty.media_type, "digest": empty.digest, "size": len(empty.data)} for _ in manifest["layers"]
        ],
    }
    pushed.push_manifest(name, tag, _Blob.of(_json_bytes(lying), OCI_MANIFEST))
    return f"{target}/{name}:{tag}"


def push_one_layer_image(registry: str, repository: str, tag: str, layer: bytes, media_type: str, diff_id: str) -> str:
    """Push an image of one layer blob (compressed as ``media_type`` says) whose config claims ``diff_id``."""
    blob = _Blob.of(layer, media_type)
    config = _json_bytes({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
    config_blob = _Blob.of(config, OCI_CONFIG)
    pushed = _Registry(registry)
    pushed.push_blob(repository, blob)
    pushed.push_blob(repository, config_blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_blob.digest, "size": len(config)},
        "layers": [{"mediaType": media_type, "digest": blob.digest, "size": len(layer)}],
    }
    manifest_blob = _Blob.of(_json_bytes(manifest), OCI_MANIFEST)
    pushed.push_manifest(repository, tag, manifest_blob)
    return f"{registry}/{repository}@{manifest_blob.digest}"


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """A reproducible layer tar of ``files`` (parents included)."""
    return _tar(files)
