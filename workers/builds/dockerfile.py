"""Dockerfiles: stages, and the Chainguard variant of a pasted Dockerfile. Pure: no I/O.

:func:`rewrite_for_chainguard` rewrites every ``FROM`` it can map (the ``-dev`` variant where
the stage runs shell commands, R7), keeps every other byte, and reports each changed line,
each line it could not map, and the lines likely to break on Wolfi (R9, R10).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from workers.chainguard.alternatives import (
    ADVICE_CONCLUSION,
    ADVICE_SUBJECT,
    DEFAULT_CHAINGUARD_REGISTRY,
    ChainguardMapping,
    find_alternative,
)
from workers.chainguard.catalog import Catalog
from workers.reference import InvalidReference, parse_reference

_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*\Z")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "busybox"}
_DEBIAN_TOOLS = ("apt-get", "apt", "dpkg", "aptitude")
_RPM_TOOLS = ("yum", "dnf", "microdnf", "rpm")
_USER_TOOLS = ("useradd", "groupadd", "usermod")
_PACKAGE_TOOLS = _DEBIAN_TOOLS + _RPM_TOOLS + ("apk", "pip", "pip3", "npm", "yarn", "gem", "bundle", "composer")


@dataclass(frozen=True)
class Instruction:
    """One logical Dockerfile instruction, possibly spread over continuation lines."""

    keyword: str  # upper case: FROM, RUN …
    args: str  # the arguments, continuations joined with spaces, comment lines dropped
    line: int  # 1-based number of its first physical line
    last_line: int  # 1-based number of its last physical line

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (``RUN ["a", "b"]``), else None."""
        text = _strip_flags(self.args)
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    """A build stage: its FROM line and what runs in it."""

    index: int
    line: int  # line of the FROM instruction
    from_last_line: int  # its last line (a FROM can be continued with a backslash)
    image: str  # as written: "python:3.12-slim", "scratch", "build", "${BASE}"
    name: str | None = None  # AS name
    platform: str | None = None
    kind: str = "image"  # "image", "scratch", "stage" (an earlier stage), "arg" (ARG-substituted)
    parent: int | None = None  # index of the earlier stage it builds on
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def shell_lines(self) -> list[Instruction]:
        """RUN instructions that need a shell or a package manager in the image."""
        return [i for i in self.instructions if i.keyword == "RUN" and _needs_shell(i)]

    def tools(self) -> set[str]:
        """Package and user tools the RUN lines call (apt-get, apk, useradd …)."""
        found: set[str] = set()
        for instruction in self.instructions:
            if instruction.keyword == "RUN":
                found.update(_tools_in(instruction.args))
        return found


@dataclass(frozen=True)
class Change:
    line: int
    old: str
    new: str
    why: str


@dataclass(frozen=True)
class Unmapped:
    line: int
    text: str
    reason: str


@dataclass
class Rewrite:
    """The Chainguard variant of a Dockerfile and an account of what changed."""

    text: str
    changes: list[Change] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "changes": [vars(c) for c in self.changes],
            "unmapped": [vars(u) for u in self.unmapped],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------- parsing


def parse_instructions(text: str) -> list[Instruction]:
    """Split a Dockerfile into logical instructions (continuations, comments, heredocs, ``# escape=``)."""
    lines = [_split_ending(line)[0] for line in physical_lines(text)]
    escape, start = _parser_directives(lines)
    out: list[Instruction] = []
    i = start
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first, parts = i, []
        while True:
            body = lines[i].rstrip()
            if body.endswith(escape) and i + 1 < len(lines):
                parts.append(body[: -len(escape)])
                i = _skip_comments(lines, i + 1)
                continue
            parts.append(body)
            break
        joined = " ".join(p.strip() for p in parts)
        i = _skip_heredocs(lines, i + 1, joined)
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), first + 1, i))
    return out


def physical_lines(text: str) -> list[str]:
    """Lines with their endings, split on ``\n`` only (as BuildKit does; ``\r\n`` stays with its line)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _parser_directives(lines: list[str]) -> tuple[str, int]:
    """The escape character (default backslash) and where instructions start."""
    escape, i = "\\", 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i].strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
        i += 1
    return escape, i


def _skip_comments(lines: list[str], i: int) -> int:
    """Comment and blank lines inside a continuation are ignored by Docker."""
    while i < len(lines) - 1 and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        i += 1
    return i


def _skip_heredocs(lines: list[str], i: int, joined: str) -> int:
    """Skip the bodies of ``<<EOF`` heredocs; returns the index after the last terminator."""
    for dash, _, word in _HEREDOC.findall(joined):
        while i < len(lines):
            line = lines[i].lstrip("\t") if dash else lines[i]
            i += 1
            if line.rstrip() == word:
                break
    return i


def parse_stages(text: str) -> list[Stage]:
    """The build stages of a Dockerfile, in order."""
    stages: list[Stage] = []
    for instruction in parse_instructions(text):
        if instruction.keyword == "FROM":
            stages.append(_stage_from(instruction, stages))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def _stage_from(instruction: Instruction, earlier: list[Stage]) -> Stage:
    tokens = instruction.args.split()
    flags = [t for t in tokens if t.startswith("--")]
    rest = [t for t in tokens if not t.startswith("--")]
    image = rest[0] if rest else ""
    name = rest[2] if len(rest) >= 3 and rest[1].lower() == "as" else None
    platform = next((f.split("=", 1)[1] for f in flags if f.startswith("--platform=")), None)
    stage = Stage(len(earlier), instruction.line, instruction.last_line, image, name, platform)
    parent = next((s for s in earlier if s.name and s.name.lower() == image.lower()), None)
    if parent:
        stage.kind, stage.parent = "stage", parent.index
    elif image.lower() == "scratch":
        stage.kind = "scratch"
    elif "$" in image:
        stage.kind = "arg"
    return stage


def final_base(text: str) -> str | None:
    """The image the built (last) stage stands on, through earlier stages it builds on; None for scratch or an
    image named by an ARG."""
    stages = parse_stages(text)
    stage = stages[-1] if stages else None
    while stage is not None and stage.kind == "stage":
        stage = stages[stage.parent]
    return stage.image if stage is not None and stage.kind == "image" else None


def global_args(text: str) -> dict[str, str | None]:
    """ARGs declared before the first FROM, with their defaults."""
    found: dict[str, str | None] = {}
    for instruction in parse_instructions(text):
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            for item in instruction.args.split():
                key, eq, value = item.partition("=")
                found[key] = value.strip("\"'") if eq else None
    return found


def _strip_flags(args: str) -> str:
    """``RUN --mount=type=cache,target=/x apt-get …`` → ``apt-get …``."""
    text = args.lstrip()
    while text.startswith("--"):
        text = text.split(None, 1)[1] if " " in text else ""
    return text


def _needs_shell(instruction: Instruction) -> bool:
    """Shell-form RUN goes through /bin/sh -c; exec form only when it calls a shell or a package tool."""
    argv = instruction.exec_form
    if argv is None:
        return bool(_strip_flags(instruction.args))
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    return program in _SHELLS or program in _PACKAGE_TOOLS


def _tools_in(command: str) -> set[str]:
    words = set(re.findall(r"(?<![\w.-])([a-z][a-z0-9-]*[a-z0-9])(?![\w-])", command))
    return words & set(_PACKAGE_TOOLS + _USER_TOOLS)


# ---------------------------------------------------------------------------- rewriting


@dataclass
class _Context:
    """What every stage rewrite needs: the settings, the lines being edited, the result so far."""

    catalog: Catalog
    chainguard_registry: str
    org_registry: str | None
    text: str
    lines: list[str]
    result: Rewrite
    mapped: dict[int, ChainguardMapping] = field(default_factory=dict)  # stage index → its Chainguard image

    def alternative(self, image: str, dev: bool) -> ChainguardMapping:
        ref = parse_reference(image)
        return find_alternative(ref, self.catalog, self.chainguard_registry, self.org_registry, dev=dev)


def rewrite_for_chainguard(
    text: str,
    catalog: Catalog,
    chainguard_registry: str = DEFAULT_CHAINGUARD_REGISTRY,
    org_registry: str | None = None,
) -> Rewrite:
    """The Chainguard variant of ``text``: each mappable FROM rewritten, everything else kept byte for byte."""
    stages = parse_stages(text)
    result = Rewrite(text, stages=stages)
    context = _Context(catalog, chainguard_registry, org_registry, text, physical_lines(text), result)
    needs_dev = stages_needing_dev(stages)
    for stage in stages:
        _rewrite_stage(stage, stage.index in needs_dev, context)
    context.result.text = "".join(context.lines)
    return context.result


def stages_needing_dev(stages: list[Stage]) -> set[int]:
    """Stages whose image needs a shell (R7): their own RUN lines, or those of any stage built on them."""
    needs = {s.index for s in stages if s.shell_lines}
    for stage in reversed(stages):  # a parent always comes before its children
        if stage.index in needs and stage.parent is not None:
            needs.add(stage.parent)
    return needs


def _rewrite_stage(stage: Stage, dev: bool, context: _Context) -> None:
    result, line_text = context.result, _line(context.lines, stage.line)
    if stage.kind == "stage" and stage.parent in context.mapped:  # RUN lines here run on the parent's image
        context.mapped[stage.index] = context.mapped[stage.parent]
        result.notes.extend(_stage_notes(stage, context.mapped[stage.index], False, context.catalog))
    if stage.kind in ("scratch", "stage"):
        return
    if stage.kind == "arg":
        result.unmapped.append(Unmapped(stage.line, line_text, _arg_reason(stage, dev, context)))
        return
    try:
        alternative = context.alternative(stage.image, dev)
    except InvalidReference as err:
        result.unmapped.append(Unmapped(stage.line, line_text, str(err)))
        return
    if alternative.status == "chainguard":
        _note_chainguard_stage(stage, dev, alternative, result)
        return
    if alternative.reference is None:
        reason = alternative.reason or "no reference"
        if alternative.close_names:
            reason += f" (close names: {', '.join(alternative.close_names)})"
        result.unmapped.append(Unmapped(stage.line, line_text, reason))
        return
    _replace_image(stage, str(alternative.reference), context, _why(stage, alternative, dev))
    context.mapped[stage.index] = alternative
    if alternative.tag_advice:
        advice = alternative.tag_advice.replace(ADVICE_SUBJECT, "The Dockerfile asks for", 1)
        result.notes.append(f"Line {stage.line}: {advice.replace(ADVICE_CONCLUSION, 'so the rewrite uses', 1)}")
    result.notes.extend(_stage_notes(stage, alternative, dev, context.catalog))


def _arg_reason(stage: Stage, dev: bool, context: _Context) -> str:
    """ARG-substituted images are left alone; name the Chainguard image for the ARG's default if there is one."""
    reason = f"the image comes from an ARG ({stage.image}), so it is left alone"
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", stage.image)
    default = global_args(context.text).get(match.group(1)) if match else None
    if not default or "$" in default:
        return reason
    try:
        alternative = context.alternative(default, dev)
    except InvalidReference:
        return reason
    if alternative.reference and alternative.status == "mapped":
        return f"{reason}; its default {default} maps to {alternative.reference}"
    return reason


def _replace_image(stage: Stage, new_image: str, context: _Context, why: str) -> None:
    """Swap the image token in the FROM instruction, keeping flags, AS name, spacing, continuations, line ending."""
    pattern = re.compile(r"(?<!\S)" + re.escape(stage.image) + r"(?!\S)")
    for number in range(stage.line, stage.from_last_line + 1):
        body, ending = _split_ending(context.lines[number - 1])
        after = re.match(r"\s*FROM\b", body, re.IGNORECASE).end() if number == stage.line else 0
        found = pattern.search(body, after)
        if found:
            new_body = body[: found.start()] + new_image + body[found.end() :]
            context.lines[number - 1] = new_body + ending
            context.result.changes.append(Change(number, body, new_body, why))
            return


def _why(stage: Stage, alternative: ChainguardMapping, dev: bool) -> str:
    tier = "free tier" if alternative.free_tier else "organisation registry"
    why = f"{stage.image} → Chainguard {alternative.image_name} ({tier})"
    shell = stage.shell_lines
    if dev and alternative.tag and alternative.tag.endswith("-dev"):
        if shell:
            why += f"; -dev because line {shell[0].line} ({_short(shell[0])}) needs a shell"
        else:
            why += "; -dev because a later stage built on this one runs shell commands"
    return why


def _stage_notes(stage: Stage, alternative: ChainguardMapping, dev: bool, catalog: Catalog) -> list[str]:
    """Lines likely to break on the Chainguard image (R7, R9, R10), one note each."""
    notes: list[str] = []
    tools = stage.tools()
    where = f"Line {stage.line} ({alternative.image_name})"
    if dev and not (alternative.tag or "").endswith("-dev"):
        notes.append(_no_dev_note(where, alternative, tools, catalog))
    for instruction in stage.instructions:
        notes.extend(_instruction_notes(instruction, alternative, catalog))
    if "apk" in tools and not _switches_to_root(stage) and not catalog.runs_as_root(alternative.image_name or ""):
        notes.append(
            f"{where}: `apk add` needs root, and most Chainguard images run as a non-root user (R7); "
            "add USER root before it and switch back after."
        )
    return [n for n in notes if n]


def _no_dev_note(where: str, alternative: ChainguardMapping, tools: set[str], catalog: Catalog) -> str:
    has = catalog.latest_tools(alternative.image_name or "")
    if has is None:
        return f"{where}: no -dev variant here, so RUN lines that need a shell or apk may fail."
    if "sh" not in has:
        return f"{where}: this image has no shell, so RUN lines fail; build in a -dev image and COPY the result."
    if "apk" in tools and "apk" not in has:
        return f"{where}: this image has a shell but no apk, so `apk add` fails."
    return ""


def _instruction_notes(instruction: Instruction, alternative: ChainguardMapping, catalog: Catalog) -> list[str]:
    line, notes = instruction.line, []
    if instruction.keyword == "RUN":
        tools = _tools_in(instruction.args)
        debian = sorted(tools & set(_DEBIAN_TOOLS))
        rpm = sorted(tools & set(_RPM_TOOLS))
        users = sorted(tools & set(_USER_TOOLS))
        if debian or rpm:
            notes.append(
                f"Line {line}: {', '.join(debian + rpm)} does not exist on Wolfi; use apk add "
                "(package names may differ), so this build may fail until it is changed (R10)."
            )
        if users:
            notes.append(
                f"Line {line}: {', '.join(users)} does not exist on Wolfi; use adduser/addgroup (busybox, R10)."
            )
    elif (
        instruction.keyword in ("CMD", "ENTRYPOINT")
        and instruction.exec_form is None
        and not catalog.is_base_os(alternative.image_name or "")
    ):
        notes.append(
            f"Line {line}: {instruction.keyword} in shell form runs through /bin/sh -c; Chainguard images often have "
            "no shell and set their own ENTRYPOINT (R9), so use the exec form (a JSON array)."
        )
    elif instruction.keyword == "EXPOSE":
        notes.extend(_port_notes(instruction, alternative, catalog))
    return notes


def _port_notes(instruction: Instruction, alternative: ChainguardMapping, catalog: Catalog) -> list[str]:
    entries = [e for e in catalog.entries if e.chainguard == alternative.image_name and e.port_map]
    if not entries:
        return []
    ports = {int(p.split("/")[0]) for p in instruction.args.split() if p.split("/")[0].isdigit()}
    return [
        f"Line {instruction.line}: Chainguard {alternative.image_name} listens on {new}, not {old}; "
        "change EXPOSE and port mappings."
        for old, new in entries[0].port_map.items()
        if old in ports
    ]


def _switches_to_root(stage: Stage) -> bool:
    """True when a USER root/0 comes before the first RUN that calls apk."""
    for instruction in stage.instructions:
        if instruction.keyword == "USER" and instruction.args.split(":")[0] in ("root", "0"):
            return True
        if instruction.keyword == "RUN" and "apk" in _tools_in(instruction.args):
            return False
    return False


def _note_chainguard_stage(stage: Stage, dev: bool, alternative: ChainguardMapping, result: Rewrite) -> None:
    tag = alternative.tag or ""
    if dev and not tag.endswith("-dev"):
        result.notes.append(
            f"Line {stage.line}: {stage.image} is already Chainguard; this stage runs shell commands, so it may "
            f"need the :{tag or 'latest'}-dev variant."
        )


def _line(lines: list[str], number: int) -> str:
    return _split_ending(lines[number - 1])[0] if 0 < number <= len(lines) else ""


def _split_ending(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


def _short(instruction: Instruction, width: int = 40) -> str:
    text = f"RUN {instruction.args}"
    return text if len(text) <= width else text[: width - 1] + "…"
