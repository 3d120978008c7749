"""Helpers every subcommand shares: its --help layout, and how a sentence meant for Slack is printed. Pure."""

from __future__ import annotations

import argparse
import sys


def command(sub, name: str, help: str, examples: str, env: str = ""):
    """A subcommand whose --help shows defaults, two examples and the environment that matters."""
    epilog = "examples:\n" + examples + (f"\n\nenvironment: {env}" if env else "")
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=_Formatter,
    )


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default where there is one worth saying (not None, not a bare flag's False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: {action.default})"


def for_terminal(sentence: str) -> str:
    """A sentence written for Slack, in the terminal's syntax (``python -m bot scan`` for ``/scan``)."""
    return sentence.replace("`/scan ", "`python -m bot scan ")


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


BAD_INPUT = 2  # the CI-facing commands (gate, sbom): 2 is bad input or a scan that could not run


def bad_input(sentence: str) -> int:
    print(sentence, file=sys.stderr)
    return BAD_INPUT
