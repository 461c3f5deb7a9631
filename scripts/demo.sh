#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what dbco needs, start dockerd, build dbco, and run
# `dbco image --docker` on the default recipe. RECIPE=... and DBCO_MIRROR=... override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/start-dockerd.sh
npm run build --silent
recipe=${RECIPE:-recipes/microcore.yaml}
./bin/dbco.js image --docker "$recipe" "$@"
