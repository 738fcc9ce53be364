#!/usr/bin/env bash
# THE demo command: sets everything up, then runs the whole pipeline with
# simulated traffic and the wall (`fengqiao up`). Ctrl-C stops everything.
#   bash scripts/demo.sh [fengqiao up options, e.g. --wall-port 8502 --rate 5]
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$FQ" up "$@"
