"""Masking secret values in Dockerfiles, build logs and Trivy messages. Pure.

``ENV MYSQL_ROOT_PASSWORD=hunter2`` becomes ``ENV MYSQL_ROOT_PASSWORD=••••`` in
every message, log line and file the bot produces. A name is secret when it
contains PASSWORD, PASSWD, PWD, SECRET, TOKEN, API_KEY, PRIVATE_KEY, ACCESS_KEY,
CREDENTIAL(S) or AUTH (case-insensitive); ``"SecretAccessKey": "…"`` (JSON, as a cloud's metadata service
answers) is masked the same way, and so is anything shaped like an AWS access key id (``AKIA…``), named or not.
"""

from __future__ import annotations

import re

MASK = "••••"
_SECRET_NAME = r"[A-Za-z0-9_]*(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?|AUTH)[A-Za-z0-9_]*"
# NAME=value (ENV/ARG/--build-arg/shell), value quoted or not
_ASSIGNMENT = re.compile(rf"(?i)\b({_SECRET_NAME})(\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s\"']+)")
# legacy form: ENV NAME value
_ENV_SPACE = re.compile(rf"(?im)^(\s*(?:ENV|ARG)\s+)({_SECRET_NAME})(\s+)(?!=)(\S.*?)\s*$")

# "Name": "value" (JSON, YAML-ish), as printed by `cat` of a credentials document
_FIELD = re.compile(rf"(?i)([\"']?\b{_SECRET_NAME}\b[\"']?\s*:\s*)(\"[^\"]*\"|'[^']*'|[^\s,}}\"']+)")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")


def mask_secrets(text: str) -> str:
    """Replace the value of every secret-looking assignment with a mask."""
    if not text:
        return text
    text = _ENV_SPACE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)
    text = _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _AWS_KEY_ID.sub(MASK, text)


def secret_values(text: str) -> list[str]:
    """The secret values themselves (to scrub them wherever else they appear, e.g. echoed in logs)."""
    values = [m.group(3).strip("\"'") for m in _ASSIGNMENT.finditer(text or "")]
    values += [m.group(4).strip("\"'") for m in _ENV_SPACE.finditer(text or "")]
    return [v for v in values if len(v) >= 4]


def scrub(text: str, values: list[str]) -> str:
    """Mask assignments and any literal occurrence of known secret values."""
    text = mask_secrets(text)
    for value in sorted(set(values), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def scrub_all(data, values: list[str]):
    """``data`` (JSON-like: dicts, lists, strings) with every string scrubbed, e.g. a report of a built image
    whose layer history quotes its ``ENV`` lines."""
    if isinstance(data, str):
        return scrub(data, values)
    if isinstance(data, dict):
        return {key: scrub_all(value, values) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [scrub_all(value, values) for value in data]
    return data
