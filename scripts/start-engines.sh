#!/usr/bin/env bash
# Starts the two engines the Docker suites run against besides the default dockerd (20.10, graph driver):
#   Docker 26 with the containerd image store  unix:///run/dbco-docker26.sock
#   Podman 4.3's Docker-compatible API          unix:///run/dbco-podman.sock
# Docker 26 comes from Debian trixie's packages, unpacked (dpkg -x) into .engines/ of the project with a
# private apt config, so the system stays on bookworm. Podman comes from bookworm. Idempotent: an engine
# that already answers is left alone. The default dockerd is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD/.engines
D26_SOCK=/run/dbco-docker26.sock
PODMAN_SOCK=/run/dbco-podman.sock
mkdir -p "$ROOT" /var/log

answers() { curl -sf --max-time 3 --unix-socket "$1" http://x/_ping >/dev/null 2>&1; }

# The default bridge: a second dockerd has been seen to delete the first one's docker0.
keep_docker0() {
  if ! ip link show docker0 >/dev/null 2>&1; then
    echo "start-engines: docker0 is gone; recreating it for the default dockerd"
    ip link add docker0 type bridge
    ip addr add 172.17.0.1/16 dev docker0
    ip link set docker0 up
  fi
}

fetch_trixie() {
  # runc stays bookworm's: trixie's needs glibc 2.38, which bookworm lacks (dockerd and containerd run here).
  local pkgs=(docker.io containerd)
  [ -x "$ROOT/trixie/usr/sbin/dockerd" ] && [ -x "$ROOT/trixie/usr/bin/containerd" ] && return 0
  echo "start-engines: fetching trixie's ${pkgs[*]} into $ROOT/trixie"
  local apt=$ROOT/apt
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-trixie-stable.gpg] http://deb.debian.org/debian trixie main" >"$apt/sources.list"
  local opts=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$apt/lists"
              -o Dir::Cache="$apt/cache" -o APT::Get::List-Cleanup=0 -o Acquire::Languages=none -o APT::Architectures=amd64)
  [ -n "$(ls "$apt/lists" 2>/dev/null | grep -v partial)" ] || apt-get "${opts[@]}" update -qq
  (cd "$apt/debs" && rm -f ./*.deb && apt-get "${opts[@]}" download -qq "${pkgs[@]}")
  rm -rf "$ROOT/trixie.tmp" && mkdir -p "$ROOT/trixie.tmp"
  for deb in "$apt/debs"/*.deb; do dpkg -x "$deb" "$ROOT/trixie.tmp"; done
  rm -rf "$ROOT/trixie" && mv "$ROOT/trixie.tmp" "$ROOT/trixie"
}

start_docker26() {
  if answers "$D26_SOCK"; then return 0; fi
  fetch_trixie
  local state=$ROOT/docker26
  mkdir -p "$state/data" "$state/exec"
  cat >"$state/daemon.json" <<JSON
{ "features": { "containerd-snapshotter": true }, "bridge": "none", "iptables": false, "ip6tables": false,
  "storage-driver": "overlayfs" }
JSON
  # Its own containerd (the system's is bookworm's 1.6, the default dockerd's): started by dockerd itself
  # from PATH, with state under --exec-root/--data-root, so nothing is shared with the default engine.
  local bin=$ROOT/trixie/usr/bin:$ROOT/trixie/usr/sbin
  echo "start-engines: starting dockerd $("$ROOT/trixie/usr/sbin/dockerd" --version | sed 's/,.*//') at $D26_SOCK"
  rm -f "$state/docker.pid"
  PATH="$bin:$PATH" nohup "$ROOT/trixie/usr/sbin/dockerd" --config-file "$state/daemon.json" -H "unix://$D26_SOCK" \
    --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/docker.pid" \
    >/var/log/dbco-docker26.log 2>&1 &
  for _ in $(seq 1 120); do
    if answers "$D26_SOCK"; then keep_docker0; return 0; fi
    sleep 0.5
  done
  echo "start-engines: Docker 26 did not come up; see /var/log/dbco-docker26.log" >&2
  tail -20 /var/log/dbco-docker26.log >&2 || true
  return 1
}

start_podman() {
  if answers "$PODMAN_SOCK"; then return 0; fi
  if ! command -v podman >/dev/null; then
    echo "start-engines: apt-get install podman"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends podman crun uidmap fuse-overlayfs >/dev/null
  fi
  # Podman raises a container's RLIMIT_NOFILE (and NPROC) to 1048576 by default, which a host without
  # CAP_SYS_RESOURCE (this CI's sandbox) refuses: "error setting rlimit type 7: operation not permitted".
  # Its default ulimits are set to limits it may set instead: this shell's hard limit of open files, and
  # for processes at most 32768 (the service lowers its own limit to that; crun then refuses more).
  local conf=$ROOT/podman/containers.conf nofile nproc
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
  [ "$nofile" = unlimited ] && nofile=1048576
  mkdir -p "$(dirname "$conf")"
  # crun refuses this host's hybrid cgroup layout (v1 controllers plus an empty v2 mount): runc, the
  # runtime the default dockerd uses here, with cgroupfs (no systemd here) and file-based events.
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
    "$nofile" "$nofile" "$nproc" "$nproc" >"$conf"
  echo "start-engines: starting $(podman --version) service at $PODMAN_SOCK"
  rm -f "$PODMAN_SOCK"
  CONTAINERS_CONF=$conf nohup podman system service --time=0 "unix://$PODMAN_SOCK" >/var/log/dbco-podman.log 2>&1 &
  for _ in $(seq 1 60); do
    if answers "$PODMAN_SOCK"; then return 0; fi
    sleep 0.5
  done
  echo "start-engines: podman's service did not come up; see /var/log/dbco-podman.log" >&2
  tail -20 /var/log/dbco-podman.log >&2 || true
  return 1
}

start_docker26
keep_docker0
start_podman
echo "start-engines: engines up: unix://$D26_SOCK unix://$PODMAN_SOCK"
