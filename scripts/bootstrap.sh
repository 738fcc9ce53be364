#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: checks the prerequisites,
# creates .venv and installs the project (again only when pyproject.toml changed).
# Sourced, not run: it exports ROOT, PY and FQ.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

die() { echo "error: $*" >&2; exit 1; }

PYTHON_BIN="${PYTHON:-python3}"
command -v "$PYTHON_BIN" >/dev/null || die "python3 not found (need Python >= 3.11)"
"$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "Python >= 3.11 needed, found $("$PYTHON_BIN" --version 2>&1)"
if { ! command -v java >/dev/null || ! command -v mvn >/dev/null; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing JDK 17 and Maven (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null \
    || echo "warning: apt-get could not install java/maven" >&2
fi
command -v java >/dev/null || die "java not found: install JDK 17 (e.g. apt-get install openjdk-17-jdk-headless)"
command -v mvn >/dev/null || die "mvn not found: install Maven (e.g. apt-get install maven)"

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PYTHON_BIN" -m venv .venv
fi
PY="$ROOT/.venv/bin/python"
FQ="$ROOT/.venv/bin/fengqiao"
stamp=".venv/.fengqiao-installed"
# Dependencies come from requirements.lock (pinned, with hashes: the versions CI tested); the
# project itself is installed on top without resolving anything again.
[ -f requirements.lock ] || die "requirements.lock missing: run bash scripts/lock.sh"
want="$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$FQ" ]; then
  echo "== installing the locked dependencies and the project into .venv"
  { "$PY" -m pip install -q --upgrade pip \
      && "$PY" -m pip install -q --require-hashes -r requirements.lock \
      && "$PY" -m pip install -q --no-deps -e . \
      && "$PY" -m pip check; } > .venv/pip.log 2>&1 \
    || { tail -30 .venv/pip.log >&2; die "pip install failed (full log: .venv/pip.log); after changing pyproject.toml run bash scripts/lock.sh"; }
  echo "$want" > "$stamp"
fi
export ROOT PY FQ
