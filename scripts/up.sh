#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the embedded farm (a coordinator and
# two workers as separate processes over ZeroMQ/TCP) on the bundled example until the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
data=$(mktemp -d -t edgefarm-up.XXXXXX)
exec build/cli/edgefarm up --once --data "$data" --pipeline examples/stories/.edgefarm.yml "$@"
