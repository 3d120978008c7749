"""Dockerfile stages and the Chainguard rewrite: FROM lines change, every other byte stays."""

from __future__ import annotations

import json

import pytest

from workers.builds.dockerfile import (
    global_args,
    parse_instructions,
    parse_stages,
    rewrite_for_chainguard,
    stages_needing_dev,
)
from workers.chainguard.catalog import load_catalog

CATALOG = load_catalog()

SEED = """FROM mariadb:latest
ENV MYSQL_ROOT_PASSWORD=my-secret-pw
ENV MYSQL_DATABASE=appdb
EXPOSE 3306
"""

MULTI = """# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM build AS test
RUN go test ./...

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""


def rewrite(text: str, **kwargs):
    return rewrite_for_chainguard(text, CATALOG, **kwargs)


def unchanged_lines(old: str, new: str, changed: set[int]) -> bool:
    return all(
        a == b for n, (a, b) in enumerate(zip(old.split("\n"), new.split("\n"), strict=False), 1) if n not in changed
    )


# ---------------------------------------------------------------------------- the seed article


def test_seed_article_dockerfile():
    result = rewrite(SEED)
    assert result.text == SEED.replace("FROM mariadb:latest", "FROM cgr.dev/chainguard/mariadb:latest")
    [change] = result.changes
    assert (change.line, change.old, change.new) == (1, "FROM mariadb:latest", "FROM cgr.dev/chainguard/mariadb:latest")
    assert "mariadb" in change.why and "free tier" in change.why and "-dev" not in change.why
    assert result.unmapped == []
    assert result.changed


def test_seed_article_with_the_registry_override():
    result = rewrite(SEED, chainguard_registry="127.0.0.1:5000/chainguard")
    assert result.text.startswith("FROM 127.0.0.1:5000/chainguard/mariadb:latest\n")


# ---------------------------------------------------------------------------- stages


def test_parse_stages_multi_stage():
    stages = parse_stages(MULTI)
    assert [(s.kind, s.image, s.name, s.platform, s.parent) for s in stages] == [
        ("image", "golang:1.22-alpine", "build", "$BUILDPLATFORM", None),
        ("stage", "build", "test", None, 0),
        ("image", "gcr.io/distroless/static-debian12:nonroot", None, None, None),
    ]
    assert [s.line for s in stages] == [3, 8, 11]
    assert [i.line for i in stages[0].shell_lines] == [6]


def test_multi_stage_rewrite_with_platform_as_and_stage_refs():
    result = rewrite(MULTI)
    assert "FROM --platform=$BUILDPLATFORM cgr.dev/chainguard/go:latest-dev AS build\n" in result.text
    assert "FROM build AS test\n" in result.text  # a stage name is not an image
    assert "FROM cgr.dev/chainguard/static:latest\n" in result.text
    assert [c.line for c in result.changes] == [3, 11]
    assert "-dev because line 6" in result.changes[0].why
    assert unchanged_lines(MULTI, result.text, {3, 11})
    assert any("golang:1.22-alpine" in n and "so the rewrite uses :latest-dev" in n for n in result.notes)


def test_scratch_is_left_alone():
    text = "FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\n"
    result = rewrite(text)
    assert result.text.splitlines()[2] == "FROM scratch"
    assert [c.line for c in result.changes] == [1]
    assert parse_stages(text)[1].kind == "scratch"


def test_stage_names_are_case_insensitive_and_only_earlier_stages_count():
    text = "FROM python:3.12 AS Base\nFROM base\nRUN pip install x\nFROM later\nFROM alpine AS later\n"
    stages = parse_stages(text)
    assert (stages[1].kind, stages[1].parent) == ("stage", 0)
    assert stages[2].kind == "image"  # "later" is defined after it is used: an image name


def test_dev_need_flows_to_the_parent_stage():
    text = "FROM python:3.12-slim AS base\nWORKDIR /app\n\nFROM base AS build\nRUN pip install -r requirements.txt\n"
    assert stages_needing_dev(parse_stages(text)) == {0, 1}
    result = rewrite(text)
    assert result.text.startswith("FROM cgr.dev/chainguard/python:latest-dev AS base\n")
    assert "a later stage built on this one" in result.changes[0].why


def test_dev_variant_only_where_a_stage_runs_shell_commands():
    text = (
        "FROM python:3.12-slim AS build\n"
        "RUN pip install --prefix=/install -r requirements.txt\n"
        "FROM python:3.12-slim\n"
        "COPY --from=build /install /usr/local\n"
        'ENTRYPOINT ["python", "/app/main.py"]\n'
    )
    result = rewrite(text)
    assert result.text.splitlines()[0] == "FROM cgr.dev/chainguard/python:latest-dev AS build"
    assert result.text.splitlines()[2] == "FROM cgr.dev/chainguard/python:latest"


@pytest.mark.parametrize(
    "run,dev",
    [
        ('RUN ["python", "-m", "compileall", "/app"]', False),  # exec form, no shell
        ('RUN ["/bin/sh", "-c", "echo hi"]', True),
        ('RUN ["pip", "install", "x"]', True),
        ("RUN --mount=type=cache,target=/root/.cache pip install x", True),
        ("RUN echo hello", True),  # shell form goes through /bin/sh -c
        ("RUN apk add --no-cache curl", True),
        ("RUN yum install -y curl", True),
    ],
)
def test_which_run_lines_need_the_dev_variant(run, dev):
    result = rewrite(f"FROM python:3.12\n{run}\n")
    tag = "latest-dev" if dev else "latest"
    assert result.text.startswith(f"FROM cgr.dev/chainguard/python:{tag}\n")


def test_images_without_dev_keep_latest_and_say_why():
    result = rewrite("FROM gcr.io/distroless/static\nRUN echo hi\n")
    assert result.text.startswith("FROM cgr.dev/chainguard/static:latest\n")
    assert any("no shell, so RUN lines fail" in n for n in result.notes)
    busybox = rewrite("FROM busybox\nRUN apk add curl\n")
    assert any("a shell but no apk" in n for n in busybox.notes)


# ---------------------------------------------------------------------------- ARG, unknown, paid, Chainguard


@pytest.mark.parametrize("image", ["${BASE}", "$BASE"])
def test_arg_substituted_images_are_left_alone_with_a_note(image):
    text = f"ARG BASE=python:3.12-slim\nFROM {image} AS app\nRUN pip install x\n"
    assert global_args(text) == {"BASE": "python:3.12-slim"}
    result = rewrite(text)
    assert result.text == text and result.changes == []
    [unmapped] = result.unmapped
    assert unmapped.line == 2 and unmapped.text == f"FROM {image} AS app"
    assert "comes from an ARG" in unmapped.reason
    assert "maps to cgr.dev/chainguard/python:latest-dev" in unmapped.reason
    assert parse_stages(text)[0].kind == "arg"


def test_arg_inside_the_image_name_without_a_default():
    text = "ARG PY\nFROM python:${PY}-slim\n"
    result = rewrite(text)
    assert result.text == text
    assert result.unmapped[0].reason == "the image comes from an ARG (python:${PY}-slim), so it is left alone"


def test_unknown_and_paid_images_are_reported_not_changed():
    text = "FROM example/in-house-base:3\nFROM mongodb\nFROM mysql:8.4\n"
    result = rewrite(text)
    assert result.text == text
    reasons = {u.line: u.reason for u in result.unmapped}
    assert reasons[1] == "no known Chainguard equivalent"
    assert reasons[2].startswith("no known Chainguard equivalent (close names: mongo")
    assert reasons[3] == "paid image: set CHAINGUARD_ORG_REGISTRY and credentials"


def test_paid_images_with_an_org_registry_are_rewritten():
    result = rewrite("FROM mysql:8.4\n", org_registry="cgr.dev/acme")
    assert result.text == "FROM cgr.dev/acme/mysql:8.4\n"
    assert "organisation registry" in result.changes[0].why


def test_invalid_image_is_reported():
    result = rewrite("FROM Not/Valid\n")
    assert result.unmapped and "lower case" in result.unmapped[0].reason


def test_chainguard_images_are_kept_with_a_dev_hint():
    text = "FROM cgr.dev/chainguard/python:latest\nRUN pip install x\n"
    result = rewrite(text)
    assert result.text == text and result.changes == [] and result.unmapped == []
    assert any("latest-dev" in n for n in result.notes)


def test_base_os_becomes_wolfi_base_with_apt_and_useradd_notes():
    text = (
        "FROM ubuntu:22.04\n"
        "RUN apt-get update && apt-get install -y curl \\\n"
        "    && useradd -m app\n"
        "USER app\n"
        "CMD /usr/bin/curl --version\n"
    )
    result = rewrite(text)
    assert result.text.startswith("FROM cgr.dev/chainguard/wolfi-base:latest\n")
    assert unchanged_lines(text, result.text, {1})
    assert any(n.startswith("Line 2: apt-get does not exist on Wolfi") for n in result.notes)
    assert any(n.startswith("Line 2: useradd does not exist on Wolfi") for n in result.notes)
    assert not any("shell form" in n for n in result.notes)  # wolfi-base has a shell and no entrypoint
    assert not any("needs root" in n for n in result.notes)


# ---------------------------------------------------------------------------- notes


def test_nginx_port_and_shell_form_cmd_notes():
    text = "FROM nginx:1.27\nCOPY site /usr/share/nginx/html\nEXPOSE 80/tcp 443\nCMD nginx -g 'daemon off;'\n"
    result = rewrite(text)
    assert "Line 3: Chainguard nginx listens on 8080, not 80; change EXPOSE and port mappings." in result.notes
    assert any(n.startswith("Line 4: CMD in shell form") for n in result.notes)
    exec_form = rewrite('FROM nginx\nEXPOSE 8080\nCMD ["nginx", "-g", "daemon off;"]\n')
    assert not any("8080, not 80" in n or "shell form" in n for n in exec_form.notes)


def test_apk_needs_root_on_non_root_images():
    result = rewrite("FROM python:3.12\nRUN apk add --no-cache gcc\n")
    assert any("`apk add` needs root" in n for n in result.notes)
    with_root = rewrite("FROM python:3.12\nUSER root\nRUN apk add --no-cache gcc\nUSER nonroot\n")
    assert not any("needs root" in n for n in with_root.notes)
    go = rewrite("FROM golang:1.22\nRUN apk add git\n")  # go runs as root (R8)
    assert not any("needs root" in n for n in go.notes)


def test_notes_reach_stages_built_on_a_mapped_stage():
    text = "FROM python:3.12 AS base\nFROM base\nRUN apt-get install -y libpq5\n"
    result = rewrite(text)
    assert any(n.startswith("Line 3: apt-get does not exist on Wolfi") for n in result.notes)


# ---------------------------------------------------------------------------- keeping the rest intact


def test_continuation_lines_are_kept_intact():
    text = (
        "FROM node:20-alpine\n"
        "RUN npm ci \\\n"
        "    # a comment inside the continuation\n"
        "    && npm run build\n"
        "FROM \\\n"
        "    nginx:alpine AS web\n"
    )
    instructions = parse_instructions(text)
    assert [(i.keyword, i.line, i.last_line) for i in instructions] == [("FROM", 1, 1), ("RUN", 2, 4), ("FROM", 5, 6)]
    assert instructions[1].args == "npm ci && npm run build"
    result = rewrite(text)
    assert result.text.splitlines()[4] == "FROM \\"
    assert result.text.splitlines()[5] == "    cgr.dev/chainguard/nginx:latest AS web"
    assert [c.line for c in result.changes] == [1, 6]
    assert unchanged_lines(text, result.text, {1, 6})


def test_crlf_lowercase_keywords_and_spacing_are_kept():
    text = "from   python:3.12   as   build\r\nrun pip install x\r\n"
    result = rewrite(text)
    assert result.text == "from   cgr.dev/chainguard/python:latest-dev   as   build\r\nrun pip install x\r\n"
    assert result.changes[0].old == "from   python:3.12   as   build"


def test_no_trailing_newline():
    assert rewrite("FROM redis:7").text == "FROM cgr.dev/chainguard/redis:latest"


def test_heredoc_bodies_are_not_instructions():
    text = 'FROM python:3.12\nRUN <<EOF\necho FROM alpine\nFROM ubuntu\nEOF\nCMD ["python"]\n'
    stages = parse_stages(text)
    assert len(stages) == 1
    assert [i.keyword for i in stages[0].instructions] == ["RUN", "CMD"]
    result = rewrite(text)
    assert result.text.splitlines()[3] == "FROM ubuntu"  # inside the heredoc: untouched
    assert len(result.changes) == 1


def test_escape_directive():
    text = "# escape=`\nFROM mcr.microsoft.com/dotnet/sdk:10.0 AS build\nRUN dotnet restore `\n    && dotnet publish\n"
    instructions = parse_instructions(text)
    assert [(i.keyword, i.line, i.last_line) for i in instructions] == [("FROM", 2, 2), ("RUN", 3, 4)]
    result = rewrite(text)
    assert "FROM cgr.dev/chainguard/dotnet-sdk:latest-dev AS build" in result.text


def test_digest_pinned_from_loses_the_digest_with_a_note():
    digest = "sha256:" + "d" * 64
    result = rewrite(f"FROM redis:7@{digest}\n")
    assert result.text == "FROM cgr.dev/chainguard/redis:latest\n"
    assert any("pinned by digest" in n for n in result.notes)


def test_empty_and_comment_only_files():
    assert rewrite("").text == "" and rewrite("").changes == []
    assert rewrite("# nothing\n\n").stages == []


def test_json_form():
    data = json.loads(json.dumps(rewrite(MULTI).to_dict()))
    assert data["text"].startswith("# syntax=docker/dockerfile:1\n")
    assert data["changes"][0]["line"] == 3 and set(data["changes"][0]) == {"line", "old", "new", "why"}
    assert data["unmapped"] == [] and isinstance(data["notes"], list)
