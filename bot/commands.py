"""Parsing the text of ``/scan``. Pure: text in, a command object out.

``/scan mariadb --severity high --fixed`` → :class:`ScanCommand`. ``help``,
``status``, ``build`` and ``diff`` are subcommands; anything unrecognised gets the help
text with a line saying what was not understood, never a bare error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from workers.allowlist import RegistryPolicy, RegistryRefused
from workers.reference import ImageRef, InvalidReference, parse_reference
from workers.report import SEVERITIES
from workers.sbom import SbomFormat

MAX_TEXT = 1000

HELP = """*Scan a container image for known vulnerabilities* (and compare it with its Chainguard alternative)
• `/scan IMAGE` — e.g. `/scan mariadb`, `/scan mariadb:11.4`, `/scan ghcr.io/org/app:1.2`
• Options: `--severity LEVEL` (show findings at or above critical, high, medium, low), `--fixed` (only findings with a fix), `--rescan` (ignore the cached result), `--no-alternative` (skip the Chainguard comparison), `--kev` (only known exploited), `--epss-min 0.5` (only findings with at least that EPSS score)
• `/scan watch IMAGE…`, `/scan watch list`, `/scan unwatch IMAGE` — the channel's watch list; `/scan digest` (`monday 09:00 Europe/Berlin`, `off`, `now`) — its weekly digest
• `/scan diff A B` — what moving from image A to image B fixes, keeps and brings, e.g. `/scan diff mariadb:11.4 mariadb:11.8`
• `/scan triage IMAGE` — every critical and high finding with its triage menu; `/scan vex IMAGE` — the decisions as OpenVEX
• `/scan owners IMAGE` — which team owns an image, and why (routing file, labels or the watching channel)
• `/scan sbom IMAGE` (`cyclonedx` or `spdx-json`, default CycloneDX) — the image's SBOM with KEV, EPSS and the team's triage
• `/scan build` — paste a Dockerfile; it is built and compared with its Chainguard version
• `/scan status` — queue depth, workers alive, vulnerability DB age, recent failures
• `/scan help` — this text
Results appear in a thread under the message the bot posts in this channel."""


@dataclass(frozen=True)
class ScanCommand:
    image: ImageRef
    severity: str = "unknown"  # list findings at or above this ("unknown" = all)
    only_fixed: bool = False
    force: bool = False
    with_alternative: bool = True
    triage: bool = False  # /scan triage IMAGE: every critical and high finding with its menu, paged
    kev_only: bool = False  # --kev: only findings in CISA's Known Exploited Vulnerabilities catalog
    epss_min: float | None = None  # --epss-min 0.5: only findings whose EPSS score is at least this


@dataclass(frozen=True)
class HelpCommand:
    problem: str | None = None  # what was not understood, shown above the help


@dataclass(frozen=True)
class StatusCommand:
    pass


@dataclass(frozen=True)
class BuildCommand:
    pass


@dataclass(frozen=True)
class WatchCommand:
    images: tuple[ImageRef, ...] = ()
    remove: bool = False  # /scan unwatch IMAGE
    list_only: bool = False  # /scan watch list


class DigestAction(str, Enum):
    SHOW = "show"
    SET = "set"
    OFF = "off"
    NOW = "now"


@dataclass(frozen=True)
class DigestCommand:
    action: DigestAction
    schedule: str | None = None  # validated "monday 09:00 Europe/Berlin"


@dataclass(frozen=True)
class VexCommand:
    image: ImageRef  # upload the team's decisions on it as an OpenVEX document


@dataclass(frozen=True)
class OwnersCommand:
    image: ImageRef  # who owns it, and why


@dataclass(frozen=True)
class DiffCommand:
    before: ImageRef  # the image the channel has
    after: ImageRef  # the image it would move to: the thread says what that fixes, keeps and brings
    force: bool = False  # --rescan: run Trivy again on both


@dataclass(frozen=True)
class SbomCommand:
    image: ImageRef  # upload Trivy's SBOM of it, with KEV, EPSS and the team's triage attached
    format: SbomFormat = SbomFormat.CYCLONEDX


@dataclass(frozen=True)
class InvalidCommand:
    message: str  # a sentence saying what is wrong and what to do


Command = (
    ScanCommand
    | HelpCommand
    | StatusCommand
    | BuildCommand
    | VexCommand
    | OwnersCommand
    | SbomCommand
    | WatchCommand
    | DigestCommand
    | DiffCommand
    | InvalidCommand
)

_FLAGS = {
    "--fixed": ("only_fixed", True),
    "--only-fixed": ("only_fixed", True),
    "--rescan": ("force", True),
    "--force": ("force", True),
    "--no-alternative": ("with_alternative", False),
    "--kev": ("kev_only", True),
}
_EPSS_FLAGS = ("--epss-min", "--epss")
_SEVERITY_FLAGS = ("--severity", "--min", "-s")
# Words people try as subcommands: answered with help rather than scanned as an image called "watch".
_NOT_YET = frozenset({"history", "list", "config", "settings"})
MAX_WATCH_AT_ONCE = 20


def parse_command(text: str | None, policy: RegistryPolicy | None = None) -> Command:
    """``/scan`` text → a command. ``policy``: the registries an image may be on (REGISTRY_ALLOWLIST); a refused
    image is an :class:`InvalidCommand` with the policy's sentence, decided here before anything connects."""
    policy = policy or RegistryPolicy()
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        return InvalidCommand(
            f"That is {len(text)} characters; `/scan` takes one image name and a few options. Try `/scan help`."
        )
    words = text.split()
    if not words or words[0].lower() in ("help", "-h", "--help", "?"):
        return HelpCommand()
    head = words[0].lower()
    if head == "status" and len(words) == 1:
        return StatusCommand()
    if head == "build" and len(words) == 1:
        return BuildCommand()
    if head in ("watch", "unwatch"):
        return _watch(head, words[1:], policy)
    if head == "digest":
        return _digest(words[1:])
    if head in ("triage", "vex", "owners"):
        return _image_subcommand(head, words[1:], policy)
    if head == "diff":
        return _diff(words[1:], policy)
    if head == "sbom":
        return _sbom(words[1:], policy)
    if head in _NOT_YET:
        return HelpCommand(f"`{head}` is not something I can do yet.")
    if words[0].startswith("-"):
        return HelpCommand(f"Put the image name first, then options (you wrote `{_shown(words[0])}`).")
    return _scan(words, policy)


def _image(word: str, policy: RegistryPolicy) -> ImageRef:
    """A user's image name, parsed and admitted by the registry policy; InvalidReference (its sentence) if not."""
    return policy.check(parse_reference(word))


def _scan(words: list[str], policy: RegistryPolicy) -> Command:
    try:
        image = _image(words[0], policy)
    except RegistryRefused as exc:  # the policy's sentence alone: there is no example that would help
        return InvalidCommand(str(exc))
    except InvalidReference as exc:
        return InvalidCommand(f"{exc} See `/scan help` for examples.")
    options: dict = {}
    rest = iter(words[1:])
    for word in rest:
        flag, _, value = word.partition("=")
        flag = flag.lower()
        if flag in _FLAGS:
            name, setting = _FLAGS[flag]
            options[name] = setting
        elif flag in _SEVERITY_FLAGS:
            level = (value or next(rest, "")).lower()
            if level not in SEVERITIES[:4]:
                return HelpCommand(
                    f"`{_shown(level) or '(nothing)'}` is not a severity; use critical, high, medium or low."
                )
            options["severity"] = level
        elif flag in _EPSS_FLAGS:
            raw = value or next(rest, "")
            threshold = parse_epss_min(raw)
            if threshold is None:
                return HelpCommand(
                    f"`{_shown(raw) or '(nothing)'}` is not an EPSS score; use 0 to 1, e.g. `--epss-min 0.5`."
                )
            options["epss_min"] = threshold
        else:
            return HelpCommand(f"I did not understand `{_shown(word)}`.")
    return ScanCommand(image=image, **options)


def parse_epss_min(text: str) -> float | None:
    """``0.5`` → 0.5; None for anything that is not a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def _watch(head: str, rest: list[str], policy: RegistryPolicy) -> Command:
    if head == "watch" and [w.lower() for w in rest] == ["list"]:
        return WatchCommand(list_only=True)
    if not rest or (head == "unwatch" and len(rest) != 1) or len(rest) > MAX_WATCH_AT_ONCE:
        example = "`/scan unwatch mariadb`" if head == "unwatch" else "`/scan watch mariadb postgres:16`"
        return HelpCommand(f"`/scan {head}` takes image names (at most {MAX_WATCH_AT_ONCE}), e.g. {example}.")
    try:
        # unwatching is never refused: an image the policy now refuses can still leave the list
        images = tuple(parse_reference(word) if head == "unwatch" else _image(word, policy) for word in rest)
    except RegistryRefused as exc:  # the policy's sentence alone: there is no example that would help
        return InvalidCommand(str(exc))
    except InvalidReference as exc:
        return InvalidCommand(f"{exc} See `/scan help` for examples.")
    return WatchCommand(images, remove=head == "unwatch")


def _digest(rest: list[str]) -> Command:
    from workers.digests.schedule import ScheduleError, parse_schedule

    if not rest:
        return DigestCommand(DigestAction.SHOW)
    if len(rest) == 1 and rest[0].lower() in ("off", "now"):
        return DigestCommand(DigestAction(rest[0].lower()))
    try:
        return DigestCommand(DigestAction.SET, str(parse_schedule(" ".join(rest))))
    except ScheduleError as exc:
        return InvalidCommand(str(exc))


def _image_subcommand(head: str, rest: list[str], policy: RegistryPolicy) -> Command:
    """``/scan triage IMAGE``, ``/scan vex IMAGE`` and ``/scan owners IMAGE``."""
    if len(rest) != 1:
        return HelpCommand(f"`/scan {head}` takes one image name, e.g. `/scan {head} mariadb`.")
    try:
        image = _image(rest[0], policy)
    except RegistryRefused as exc:  # the policy's sentence alone: there is no example that would help
        return InvalidCommand(str(exc))
    except InvalidReference as exc:
        return InvalidCommand(f"{exc} See `/scan help` for examples.")
    if head == "vex":
        return VexCommand(image)
    if head == "owners":
        return OwnersCommand(image)
    return ScanCommand(image=image, severity="high", with_alternative=False, triage=True)


def _diff(rest: list[str], policy: RegistryPolicy) -> Command:
    """``/scan diff A B [--rescan]``: both names parsed and admitted by the policy, or a sentence."""
    force = any(word.lower() in ("--rescan", "--force") for word in rest)
    names = [word for word in rest if word.lower() not in ("--rescan", "--force")]
    if len(names) != 2 or any(name.startswith("-") for name in names):
        return HelpCommand("`/scan diff` takes two image names, e.g. `/scan diff mariadb:11.4 mariadb:11.8`.")
    try:
        before, after = (_image(name, policy) for name in names)
    except RegistryRefused as exc:  # the policy's sentence alone: there is no example that would help
        return InvalidCommand(str(exc))
    except InvalidReference as exc:
        return InvalidCommand(f"{exc} See `/scan help` for examples.")
    return DiffCommand(before, after, force=force)


def _sbom(rest: list[str], policy: RegistryPolicy) -> Command:
    """``/scan sbom IMAGE [cyclonedx|spdx-json]`` (``--format X`` also reads)."""
    if rest[1:2] == ["--format"]:
        rest = [rest[0], *rest[2:]]
    formats = {f.value: f for f in SbomFormat}
    if not 1 <= len(rest) <= 2 or (len(rest) == 2 and rest[1].lower() not in formats):
        return HelpCommand(
            "`/scan sbom` takes one image name and optionally a format, e.g. `/scan sbom mariadb spdx-json`."
        )
    command = _image_subcommand("vex", rest[:1], policy)
    if not isinstance(command, VexCommand):
        return command
    return SbomCommand(command.image, formats[rest[1].lower()] if len(rest) == 2 else SbomFormat.CYCLONEDX)


def _shown(word: str) -> str:
    """A user's word, safe to echo back inside backticks."""
    return word.replace("`", "'")[:60]
