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
have gcc         || need+=(gcc)    # test/docker compiles libc-free x86_64 fixture programs
[ -e /usr/lib/x86_64-linux-gnu/libc.so ] || need+=(libc6-dev)
have setfattr    || need+=(attr)   # squashfs tests put xattrs on trees so mksquashfs writes extended inodes
have htpasswd    || need+=(apache2-utils)  # test/registry: htpasswd -B for the registry's basic auth
# test/disk/vm-formats: independent readers of dbco's VM formats and the OVA
have vmdkinfo    || need+=(libvmdk-utils)
/usr/bin/python3 -c 'import pyvmdk' 2>/dev/null || need+=(python3-libvmdk)
have xmllint     || need+=(libxml2-utils)
have virt-v2v    || need+=(virt-v2v)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)  # virt-v2v's appliance (supermin) boots the host's kernel
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# test/disk boots a 32-bit x86 disk whose fixture base is an i386 busybox (the host has no i386 binaries).
I386_BUSYBOX_DIR=/var/cache/dbco-test/busybox-i386
if [ ! -x "$I386_BUSYBOX_DIR/bin/busybox" ]; then
  echo "install-deps: busybox-static:i386 into $I386_BUSYBOX_DIR"
  dpkg --print-foreign-architectures | grep -qx i386 || dpkg --add-architecture i386
  apt-get update -qq || true
  dl=$(mktemp -d)
  (cd "$dl" && apt-get download -qq busybox-static:i386)
  mkdir -p "$I386_BUSYBOX_DIR"
  dpkg-deb -x "$dl"/busybox-static_*_i386.deb "$I386_BUSYBOX_DIR"
  rm -rf "$dl"
fi

# test/registry starts Debian's docker-registry (distribution 2.8) itself, on a free port. Unpacked, not
# installed: the package's postinst would start a system registry on :5000.
REGISTRY_DIR=/var/cache/dbco-test/docker-registry
if [ ! -x "$REGISTRY_DIR/usr/bin/docker-registry" ]; then
  echo "install-deps: docker-registry into $REGISTRY_DIR"
  apt-get update -qq || true
  dl=$(mktemp -d)
  (cd "$dl" && apt-get download -qq docker-registry)
  mkdir -p "$REGISTRY_DIR"
  dpkg-deb -x "$dl"/docker-registry_*.deb "$REGISTRY_DIR"
  rm -rf "$dl"
fi
