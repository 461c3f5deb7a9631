#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what dbco needs, start dockerd, build dbco, and run
# `dbco image --docker` on the default recipe. RECIPE=... and DBCO_MIRROR=... override the defaults.
# With neither set and ../shared/tc-mirror beside the checkout, it builds recipes/offline.yaml from
# that folder: no network needed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${RECIPE:-}" ] && [ -z "${DBCO_MIRROR:-}" ] && [ -d ../shared/tc-mirror ]; then
  export DBCO_MIRROR=../shared/tc-mirror
  RECIPE=recipes/offline.yaml
  echo "demo: building $RECIPE from the local mirror folder $DBCO_MIRROR (set RECIPE=... and DBCO_MIRROR=... for another)" >&2
fi
bash scripts/install-deps.sh
bash scripts/start-dockerd.sh
npm run build --silent
recipe=${RECIPE:-recipes/microcore.yaml}
./bin/dbco.js image --docker "$recipe" "$@"
