#!/usr/bin/env bash
# Regenerates requirements.lock (every dependency of the project and its test extras, pinned with
# hashes) after a change to pyproject.toml. Both README commands install from the lock
# (scripts/bootstrap.sh), so a fresh machine gets the versions CI tested.
#   bash scripts/lock.sh            # keep the versions in .venv where they still fit
#   bash scripts/lock.sh --upgrade  # newest versions that fit pyproject.toml
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.cache/lock-tools"
[ -x "$TOOLS/bin/uv" ] || { python3 -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q uv; }
args=()
if [ "${1:-}" != "--upgrade" ] && [ -x .venv/bin/pip ]; then
  .venv/bin/pip freeze --exclude-editable | grep -v '^-e' > "$TOOLS/installed.txt"
  args=(-c "$TOOLS/installed.txt")
fi
"$TOOLS/bin/uv" pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
  --no-annotate --custom-compile-command "bash scripts/lock.sh" "${args[@]}" -o requirements.lock -q
echo "requirements.lock: $(grep -c '==' requirements.lock) packages"
