#!/usr/bin/env bash
# Starts dockerd in the background when no engine answers, and waits until it does.
set -euo pipefail
if docker version >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null; then echo "start-dockerd: dockerd is not installed (apt-get install docker.io)" >&2; exit 1; fi
mkdir -p /var/log
nohup dockerd --storage-driver=overlay2 >/var/log/dbco-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker version >/dev/null 2>&1; then echo "start-dockerd: engine up"; exit 0; fi
  sleep 0.5
done
echo "start-dockerd: dockerd did not come up; see /var/log/dbco-dockerd.log" >&2
tail -20 /var/log/dbco-dockerd.log >&2 || true
exit 1
