#!/usr/bin/env bash
# Installs the real servers and the browser the test suite starts on 127.0.0.1: Debian's chromium
# (browser tests), redis-server and PostgreSQL (the distributed Celery run), and Azurite from npm
# (Azure Blob lake and delivery) into .tools/. Idempotent; CI runs it before `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v redis-server >/dev/null || need+=(redis-server)
{ command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ ! -x .tools/node_modules/.bin/azurite ]; then
  npm install --silent --no-audit --no-fund --prefix .tools azurite@3.37.0
fi
