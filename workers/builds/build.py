"""Building a pasted Dockerfile on the Docker engine, with limits.

The build context is the Dockerfile alone (a tar with one file), so ``COPY`` of
local files cannot reach anything on the worker. RUN steps get no network
unless ``BUILD_NETWORK`` is set, a memory and CPU cap, a pids cap (a per-build cgroup,
:mod:`workers.builds.cgroup`), and the whole build a
time limit (the stream is closed, which makes dockerd cancel the build).
Base images still come through the engine's own pulls (``DOCKERHUB_MIRROR``
is applied to every docker.io ``FROM``), once :func:`image_refusal` has admitted every
``FROM`` and ``COPY --from`` image through the registry policy.

Nothing of a build stays on the engine: every stage starts with ``LABEL chainscan.build=<id>``, so
its intermediate images and containers carry the label too (an ``--label`` reaches the final image
only), and :func:`remove_build` prunes everything with it, the untagged layers a failed build leaves
behind included (their config holds the Dockerfile's ``ENV`` values).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass, field

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from workers.allowlist import RegistryRefused
from workers.builds.cgroup import limit_pids, release
from workers.builds.checks import named_images
from workers.builds.dockerfile import parse_stages, physical_lines
from workers.builds.secrets import scrub, secret_values
from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.reference import InvalidReference, parse_reference
from workers.registry_client import admit
from workers.scan.resolve import source_reference

LOG_TAIL = 12


@dataclass
class BuildOutcome:
    image_id: str | None
    tag: str
    log_tail: list[str] = field(default_factory=list)  # masked
    error: str | None = None  # masked, one sentence


def apply_mirror(text: str, settings: Settings) -> str:
    """Point every docker.io ``FROM`` at ``DOCKERHUB_MIRROR``, keeping everything else byte for byte. Pure."""
    if not settings.dockerhub_mirror:
        return text
    lines = physical_lines(text)
    for stage in parse_stages(text):
        if stage.kind != "image":
            continue
        try:
            ref = parse_reference(stage.image)
        except InvalidReference:
            continue
        mirrored = source_reference(ref, settings)
        if mirrored != ref:
            index = stage.line - 1
            lines[index] = lines[index].replace(
                stage.image, mirrored.familiar if mirrored.digest is None else str(mirrored), 1
            )
    return "".join(lines)


BUILD_LABEL = "chainscan.build"


def labelled(text: str, value: str) -> str:
    """``LABEL chainscan.build=<value>`` right after every FROM, so each layer of each stage has it. Pure."""
    lines = physical_lines(text)
    for stage in reversed(parse_stages(text)):
        end = stage.from_last_line
        if end <= len(lines) and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        lines.insert(end, f'LABEL {BUILD_LABEL}="{value}"\n')
    return "".join(lines)


def build(client: docker.DockerClient, dockerfile: str, tag: str, settings: Settings, label: str = "1") -> BuildOutcome:
    """Build ``dockerfile`` as ``tag``, every layer labelled ``label``; failures come back as a masked
    sentence and the last log lines."""
    secrets = secret_values(dockerfile)
    if refused := image_refusal(dockerfile, settings):
        return BuildOutcome(None, tag, [], scrub(refused, secrets))
    cgroup = limit_pids(settings.build_cgroup_parent, f"build-{label}", settings.build_pids_limit)
    try:
        return _build(client, dockerfile, tag, settings, label, cgroup)
    finally:
        release(cgroup)


def _build(client, dockerfile: str, tag: str, settings: Settings, label: str, cgroup: str | None) -> BuildOutcome:
    secrets = secret_values(dockerfile)
    context = _context_tar(labelled(apply_mirror(dockerfile, settings), label))
    limits = {
        "memory": settings.build_memory_mb * 1024 * 1024,
        "memswap": settings.build_memory_mb * 1024 * 1024,
        "cpusetcpus": f"0-{settings.build_cpus - 1}" if settings.build_cpus > 1 else "0",
    }
    deadline = time.monotonic() + settings.build_timeout
    log: list[str] = []
    image_id = None
    try:
        params = {
            "t": tag,
            "rm": True,
            "forcerm": True,
            "pull": False,
            "networkmode": None if settings.build_network else "none",
            "labels": json.dumps({BUILD_LABEL: label}),
            "cgroupparent": cgroup,
            **limits,
        }
        stream = _post_build(client.api, context, params, settings.build_timeout)
        for chunk in stream:
            if "stream" in chunk:
                log += [line for line in chunk["stream"].splitlines() if line.strip()]
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if "error" in chunk:
                log.append(chunk["error"].strip())
                return BuildOutcome(None, tag, _tail(log, secrets), scrub(_first_line(chunk["error"]), secrets))
            if time.monotonic() > deadline:
                stream.close() if hasattr(stream, "close") else None
                return BuildOutcome(
                    None,
                    tag,
                    _tail(log, secrets),
                    f"The build took longer than {settings.build_timeout} seconds and was stopped.",
                )
    except docker.errors.APIError as exc:
        return BuildOutcome(None, tag, _tail(log, secrets), scrub(_first_line(str(exc.explanation or exc)), secrets))
    except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):
        # Closing the stream disconnects us; dockerd then cancels the build and stops its container.
        return BuildOutcome(
            None,
            tag,
            _tail(log, secrets),
            f"The build took longer than {settings.build_timeout} seconds and was stopped.",
        )
    except (requests.exceptions.ConnectionError, docker.errors.DockerException):
        raise ScanError.of(ErrorKind.DOCKER_UNAVAILABLE, "build") from None
    if image_id is None:
        try:
            image_id = client.images.get(tag).id
        except docker.errors.ImageNotFound:
            return BuildOutcome(None, tag, _tail(log, secrets), "The build ended without producing an image.")
    return BuildOutcome(image_id, tag, _tail(log, secrets))


def image_refusal(dockerfile: str, settings: Settings) -> str | None:
    """Why an image the Dockerfile names (``FROM``, ``COPY --from``) may not be pulled, as one sentence naming
    its line; None when every one may. The registry policy first, then the addresses the name resolves to."""
    for line, image in named_images(dockerfile):
        if "$" in image:
            return f"Line {line}: the image `{image}` is named by an ARG without a default, so it cannot be checked."
        try:
            admit(parse_reference(image), settings.registry_policy)
        except RegistryRefused as refused:
            return f"Line {line}: {refused}"
        except InvalidReference:
            return f"Line {line}: `{image}` is not an image reference."
    return None


def remove(client: docker.DockerClient, tag: str) -> None:
    """Remove a built image (best effort: the daemon's disk is not ours to fill)."""
    try:
        client.images.remove(tag, force=True, noprune=False)
    except docker.errors.DockerException:
        pass


def remove_build(client: docker.DockerClient, tag: str, label: str) -> None:
    """Remove the image and every container and intermediate image labelled ``label`` (best effort)."""
    remove(client, tag)
    selector = {"label": f"{BUILD_LABEL}={label}"}
    for container in _quietly(lambda: client.containers.list(all=True, filters=selector)) or []:
        _quietly(lambda c=container: c.remove(force=True))
    _quietly(lambda: client.images.prune(filters={**selector, "dangling": False}))
    for image in _quietly(lambda: client.images.list(all=True, filters=selector)) or []:
        _quietly(lambda i=image: client.images.remove(i.id, force=True, noprune=False))


def _quietly(call):
    try:
        return call()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None


def _post_build(api: docker.APIClient, context: io.BytesIO, params: dict, timeout: int):
    """``POST /build`` as ``APIClient.build`` sends it, plus ``cgroupparent``, which docker-py's build() does not
    take; the decoded chunk stream."""
    params = {key: value for key, value in params.items() if value is not None}
    headers = {"Content-Type": "application/tar"}
    api._set_auth_headers(headers)
    response = api._post(api._url("/build"), data=context, params=params, headers=headers, stream=True, timeout=timeout)
    return api._stream_helper(response, decode=True)


def _context_tar(dockerfile: str) -> io.BytesIO:
    data = dockerfile.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def _tail(log: list[str], secrets: list[str]) -> list[str]:
    return [scrub(line, secrets)[:300] for line in log[-LOG_TAIL:]]


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "the build failed"
    return line[:300]
