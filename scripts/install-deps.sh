#!/usr/bin/env bash
# Installs, when missing, every system tool dbco's tests and outputs use, and the npm packages.
# Safe to run again: it only installs what is not there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have dockerd     || need+=(docker.io)
have mksquashfs  || need+=(squashfs-tools)
have cpio        || need+=(cpio)
have packer      || need+=(packer)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have qemu-img    || need+=(qemu-utils)
[ -f /usr/lib/grub/i386-pc/boot.img ] || need+=(grub-pc-bin)
have grub-mkimage || need+=(grub-common)
have xorriso     || need+=(xorriso)
have genisoimage || need+=(genisoimage)
have mke2fs      || need+=(e2fsprogs)
have skopeo      || need+=(skopeo)
have umoci       || need+=(umoci)
[ -x /bin/busybox ] || need+=(busybox-static)
have curl        || need+=(curl)
have hyperfine   || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# squashfs tests put xattrs on their source trees so mksquashfs writes extended inodes.
if ! have setfattr; then
  echo "install-deps: apt-get install attr"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends attr >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends attr >/dev/null; }
fi
