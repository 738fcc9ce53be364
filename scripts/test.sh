#!/usr/bin/env bash
# THE test command: sets everything up (venv, packages, Kafka jars, Chromium),
# starts a real Kafka broker, runs pytest, and stops the broker even when tests fail.
#   bash scripts/test.sh                 # all tests
#   bash scripts/test.sh -m unit         # any pytest arguments
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

# Headless Chromium for the browser tests (Debian's packages, plus a CJK font for
# readable screenshots), when we may install it.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto.*cjk"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium and chromium-driver (Debian)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei >/dev/null) \
      || echo "warning: could not install chromium; the browser tests will be skipped" >&2
  else
    echo "warning: chromium/chromedriver missing and not root; the browser tests will be skipped" >&2
  fi
fi
# Debian's docker-compose validates docker/docker-compose.yml without a Docker engine (tests/integration/test_compose.py).
if ! command -v docker-compose >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing docker-compose (Debian)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null) \
      || echo "warning: could not install docker-compose; the compose file test will be skipped" >&2
  else
    echo "warning: docker-compose missing and not root; the compose file test will be skipped" >&2
  fi
fi

KAFKA_PORT="${FENGQIAO_TEST_KAFKA_PORT:-29092}"
KAFKA_DIR="$ROOT/.data/test-kafka"
"$FQ" kafka stop --data-dir "$KAFKA_DIR" >/dev/null 2>&1 || true
rm -rf "$KAFKA_DIR"
cleanup() { "$FQ" kafka stop --data-dir "$KAFKA_DIR" || true; }
trap cleanup EXIT
echo "== starting Kafka on 127.0.0.1:$KAFKA_PORT"
"$FQ" kafka start --port "$KAFKA_PORT" --data-dir "$KAFKA_DIR"
export FENGQIAO_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
export FENGQIAO_DATA_DIR="$ROOT/.data/test"

set +e
"$PY" -m pytest "$@"
rc=$?
set -e
exit $rc
