"""Every command of ``python -m bot`` explains itself: its --help has two examples or more and the environment
that matters, and the program alone prints the overview instead of an argparse error."""

from __future__ import annotations

import contextlib
import io

import pytest

from bot.cli.main import _parser


def _commands() -> list[str]:
    parser = _parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_examples_and_its_environment(command):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        _parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    text = out.getvalue()
    examples = text.split("examples:", 1)[1] if "examples:" in text else ""
    assert examples.count("python -m bot") >= 2 or examples.count(f"python -m bot {command}") >= 2, text
    assert "environment:" in text, text
