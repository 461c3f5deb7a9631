#!/bin/sh
# Independent reference for the resolver tests: tce-load's dependency walk in POSIX sh + sed over a
# mirror folder. Usage: tce-walk.sh TCZ_DIR KERNEL_VERSION EXT...
# Prints the install order (dependencies first), one name a line; "MISSING name" for an absent .tcz;
# "CYCLE name" on stderr where a cycle is cut.
dir=$1; kver=$2; shift 2
done_list=' '
active=' '
stack=''

scan() {
  name=$(printf '%s\n' "$1" | sed -e 's/[[:space:]]//g' -e "s/-KERNEL\.tcz/-$kver.tcz/")
  [ -n "$name" ] || return 0
  case $name in *.tcz) ;; *) name=$name.tcz ;; esac
  case $done_list in *" $name "*) return 0 ;; esac
  case $active in *" $name "*) echo "CYCLE $name" >&2; return 0 ;; esac
  if [ ! -f "$dir/$name" ]; then
    echo "MISSING $name"
    done_list="$done_list$name "
    return 0
  fi
  active="$active$name "
  stack="$name $stack"
  if [ -f "$dir/$name.dep" ]; then
    for d in $(sed -e 's/[[:space:]]//g' -e '/^$/d' "$dir/$name.dep"); do
      scan "$d"
    done
  fi
  name=${stack%% *}
  stack=${stack#* }
  active=$(printf '%s' "$active" | sed "s| $name | |")
  done_list="$done_list$name "
  echo "$name"
}

for ext in "$@"; do scan "$ext"; done
