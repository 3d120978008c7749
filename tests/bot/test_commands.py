import pytest

from bot.commands import (
    BuildCommand,
    HelpCommand,
    InvalidCommand,
    ScanCommand,
    StatusCommand,
    parse_command,
)


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "--help", "?"])
def test_help(text):
    assert parse_command(text) == HelpCommand()


def test_subcommands():
    assert parse_command("status") == StatusCommand()
    assert parse_command("build") == BuildCommand()


def test_scan_with_defaults():
    cmd = parse_command("mariadb")
    assert isinstance(cmd, ScanCommand)
    assert str(cmd.image) == "docker.io/library/mariadb:latest"
    assert (cmd.severity, cmd.only_fixed, cmd.force, cmd.with_alternative) == ("unknown", False, False, True)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mariadb --severity high", {"severity": "high"}),
        ("mariadb --severity=CRITICAL", {"severity": "critical"}),
        ("mariadb -s medium --fixed", {"severity": "medium", "only_fixed": True}),
        ("mariadb --rescan --no-alternative", {"force": True, "with_alternative": False}),
    ],
)
def test_options(text, expected):
    cmd = parse_command(text)
    assert all(getattr(cmd, k) == v for k, v in expected.items())


@pytest.mark.parametrize(
    "text, says",
    [
        ("mariadb please", "did not understand `please`"),
        ("frobnicate the image", "did not understand `the`"),
        ("mariadb --bogus", "did not understand `--bogus`"),
        ("mariadb --severity extreme", "not a severity"),
        ("mariadb --severity", "not a severity"),
        ("--fixed mariadb", "image name first"),
        ("status now", "did not understand `now`"),
        ("history mariadb", "`history` is not something I can do yet"),
    ],
)
def test_unknown_words_get_help(text, says):
    cmd = parse_command(text)
    assert isinstance(cmd, HelpCommand) and says in cmd.problem


@pytest.mark.parametrize(
    "text, says",
    [
        ("MariaDB", "lower case"),
        ("mariadb;rm", "cannot contain"),
        ("$(curl evil)", "cannot contain"),
        ("x" * 1001, "characters"),
    ],
)
def test_bad_images_get_a_sentence(text, says):
    cmd = parse_command(text)
    assert isinstance(cmd, InvalidCommand) and says in cmd.message


def test_backticks_cannot_break_out_of_code_spans():
    cmd = parse_command("mariadb `oops`")
    assert "``" not in cmd.problem and "'oops'" in cmd.problem


def test_owners_takes_one_image_checked_like_a_scan():
    from bot.commands import OwnersCommand
    from workers.reference import parse_reference

    assert parse_command("owners mariadb") == OwnersCommand(parse_reference("mariadb"))
    assert isinstance(parse_command("owners"), HelpCommand) and isinstance(parse_command("owners a b"), HelpCommand)
    assert isinstance(parse_command("owners Not;Valid"), InvalidCommand)


def test_triage_and_vex_take_one_image():
    from bot.commands import VexCommand

    triage = parse_command("triage mariadb:11.4")
    assert isinstance(triage, ScanCommand) and triage.triage and triage.severity == "high"
    assert not triage.with_alternative
    assert isinstance(parse_command("vex mariadb"), VexCommand)
    assert isinstance(parse_command("vex"), HelpCommand) and isinstance(parse_command("triage a b"), HelpCommand)
    assert isinstance(parse_command("vex Not;Valid"), InvalidCommand)


def test_sbom_takes_one_image_and_an_optional_format_defaulting_to_cyclonedx():
    from bot.commands import SbomCommand
    from workers.sbom import SbomFormat

    assert parse_command("sbom mariadb") == SbomCommand(parse_command("sbom mariadb").image, SbomFormat.CYCLONEDX)
    assert parse_command("sbom mariadb spdx-json").format is SbomFormat.SPDX_JSON
    assert parse_command("sbom mariadb --format cyclonedx").format is SbomFormat.CYCLONEDX
    assert isinstance(parse_command("sbom"), HelpCommand) and isinstance(parse_command("sbom a xml"), HelpCommand)
    assert isinstance(parse_command("sbom Not;Valid"), InvalidCommand)


def test_watch_unwatch_and_digest():
    from bot.commands import DigestAction, DigestCommand, WatchCommand

    watch = parse_command("watch mariadb postgres:16")
    assert isinstance(watch, WatchCommand) and [i.familiar for i in watch.images] == ["mariadb:latest", "postgres:16"]
    assert parse_command("watch list") == WatchCommand(list_only=True)
    assert parse_command("unwatch mariadb").remove
    assert isinstance(parse_command("unwatch"), HelpCommand) and isinstance(parse_command("watch"), HelpCommand)
    assert parse_command("digest") == DigestCommand(DigestAction.SHOW)
    assert parse_command("digest now") == DigestCommand(DigestAction.NOW)
    assert parse_command("digest mon 9:00 Europe/Berlin") == DigestCommand(
        DigestAction.SET, "monday 09:00 Europe/Berlin"
    )
    assert isinstance(parse_command("digest monday 09:00 Mars/Base"), InvalidCommand)


@pytest.mark.parametrize(
    "text",
    ["127.0.0.1:2375/x", "169.254.169.254/latest", "watch 10.0.0.8/app", "vex localhost:5000/app", "triage [::1]/x"],
)
def test_attack_a_scan_or_watch_of_a_private_address_is_one_sentence(text):
    from workers.config import Settings

    parsed = parse_command(text, Settings.from_env({}).registry_policy)
    assert isinstance(parsed, InvalidCommand)
    assert "local or private address" in parsed.message and parsed.message.count(". ") == 1


def test_unwatching_an_image_the_policy_now_refuses_still_works():
    from bot.commands import WatchCommand
    from workers.config import Settings

    parsed = parse_command("unwatch 10.0.0.8/app", Settings.from_env({}).registry_policy)
    assert isinstance(parsed, WatchCommand) and parsed.remove


def test_diff_takes_two_images_each_parsed():
    from bot.commands import DiffCommand

    cmd = parse_command("diff mariadb:11.4 mariadb:11.8")
    assert isinstance(cmd, DiffCommand) and not cmd.force
    assert (str(cmd.before), str(cmd.after)) == ("docker.io/library/mariadb:11.4", "docker.io/library/mariadb:11.8")
    assert parse_command("diff mariadb:11.4 mariadb:11.8 --rescan").force


@pytest.mark.parametrize("text", ["diff", "diff mariadb", "diff a b c", "diff --rescan mariadb", "diff -x mariadb"])
def test_diff_without_two_names_answers_with_help(text):
    cmd = parse_command(text)
    assert isinstance(cmd, HelpCommand) and "two image names" in cmd.problem


def test_diff_checks_both_names_against_the_policy():
    from workers.allowlist import RegistryPolicy

    policy = RegistryPolicy.from_settings(["ghcr.io"], [])
    refused = parse_command("diff ghcr.io/org/app:1 quay.io/org/app:2", policy)
    assert isinstance(refused, InvalidCommand) and "quay.io" in refused.message
    assert isinstance(parse_command("diff ghcr.io/org/app:1 BAD::NAME", policy), InvalidCommand)
