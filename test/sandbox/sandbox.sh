#!/usr/bin/env bash
# sandbox.sh — isolated Debian hosts (11, 12 or 13) running the real OpenSSH sshd, for sftp-jail tests. No Docker: each host is an
# overlayfs over one cached rootfs, in its own net/mount/uts/ipc/pid namespaces behind pivot_root, reachable from the
# real machine only on 127.0.0.1:<port> (socat: TCP -> UNIX socket -> socat inside the host's netns -> 127.0.0.1:22).
#
#   sandbox.sh rootfs [SUITE]              build (once, cached) the rootfs of SUITE; prints its path
#   sandbox.sh up [--json] [--net] [--fresh] [--suite SUITE] NAME...
#                                          start hosts (NAME = hostname, [a-z0-9-], <= 32 chars); prints "NAME PORT";
#                                          a running host is kept as it is, unless --fresh (then it is recreated)
#   sandbox.sh console NAME [CMD...]       root shell / command inside the host (out of band, no ssh); exit code kept
#   sandbox.sh down NAME...|--all          stop hosts, remove their state; idempotent
#   sandbox.sh status [--json]             list hosts
#   sandbox.sh net NAME                    add a veth path: host eth0 198.18.N.1/30 <-> client netns eth0 198.18.N.2/30
#   sandbox.sh client NAME CMD...          run CMD (on the real machine's filesystem) inside NAME's client netns
#   sandbox.sh info NAME [--json]          one host's details
#
# SUITE is a Debian generation, each with its own OpenSSH: bullseye (Debian 11, OpenSSH 8.4), bookworm (12, 9.2; the
# default) or trixie (13, 10.0, where sshd is split into sshd, sshd-session and sshd-auth).
# Environment: SFTPJAIL_SANDBOX_SUITE (default bookworm) is the suite when none is given; SFTPJAIL_CACHE (default
# /var/cache/sftp-jail) holds the rootfs; SFTPJAIL_SANDBOX_STATE (default
# /run/sftp-jail-sandbox) holds keys/ (client keys, passphrase, opsudo's sudo password) and hosts/NAME/;
# SFTPJAIL_SANDBOX_PORT_BASE (default 22200) is the first port tried.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
CACHE="${SFTPJAIL_CACHE:-/var/cache/sftp-jail}"
STATE="${SFTPJAIL_SANDBOX_STATE:-/run/sftp-jail-sandbox}"
PORT_BASE="${SFTPJAIL_SANDBOX_PORT_BASE:-22200}"
SUITES=(bullseye bookworm trixie)
SUITE="${SFTPJAIL_SANDBOX_SUITE:-bookworm}"
PACKAGES=(openssh-server openssh-sftp-server openssh-client iptables nftables passwd login procps util-linux mount
          sudo iproute2)
# The archive lines of a suite (the same three for every generation: main, its updates, its security updates).
mirrors() {
  printf '%s\n' "deb http://deb.debian.org/debian $1 main" "deb http://deb.debian.org/debian $1-updates main" \
    "deb http://deb.debian.org/debian-security $1-security main"
}
CUSTOMIZE="$HERE/rootfs-customize.sh"
# sshd runs with these options (also written to /etc/default/ssh so `service ssh restart` keeps them); sshd_config
# itself stays Debian's default. A HUP re-execs sshd with its original argv, so they survive reloads.
SSHD_OPTS="-E /var/log/sshd.log -o LogLevel=VERBOSE"

log() { echo "sandbox: $*" >&2; }
die() { echo "sandbox: error: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (namespaces, mounts and pivot_root need it): sudo $0 $*"; }
need_cmds() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]} (apt-get install mmdebstrap socat iproute2 util-linux openssh-client)"
}

# ---------------------------------------------------------------------------------------------------------- rootfs
valid_suite() { [[ " ${SUITES[*]} " == *" $1 "* ]] || die "unknown suite '$1': use one of ${SUITES[*]}"; }
recipe_hash() {
  { printf '%s\n' "$1" minbase "${PACKAGES[@]}"; mirrors "$1"; printf '%s\n' "$SSHD_OPTS"; cat "$CUSTOMIZE"; } |
    sha256sum | cut -c1-12
}
rootfs_dir() { echo "$CACHE/rootfs-$1-$(recipe_hash "$1")"; }

cmd_rootfs() {
  local suite="${1:-$SUITE}"
  valid_suite "$suite"
  need_root rootfs; need_cmds mmdebstrap flock
  local dir; dir="$(rootfs_dir "$suite")"
  if [ -d "$dir" ]; then echo "$dir"; return 0; fi
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.rootfs.lock"
  flock 8
  if [ -d "$dir" ]; then echo "$dir"; return 0; fi  # built meanwhile by another run
  local tmp="$CACHE/.tmp-rootfs-$suite-$$" t0=$SECONDS
  rm -rf "$tmp"
  log "building $dir with mmdebstrap (once; takes ~20-60 s)"
  local pkgs mirror_lines=(); pkgs="$(IFS=,; echo "${PACKAGES[*]}")"
  mapfile -t mirror_lines < <(mirrors "$suite")
  if ! mmdebstrap --quiet --variant=minbase --format=directory --include="$pkgs" \
        --customize-hook="bash '$CUSTOMIZE' \"\$1\"" \
        --customize-hook="printf 'SSHD_OPTS=\"%s\"\\n' '$SSHD_OPTS' >\"\$1/etc/default/ssh\"" \
        "$suite" "$tmp" "${mirror_lines[@]}" >&2 8>&-; then
    rm -rf "$tmp"
    die "mmdebstrap failed; see the messages above (it needs deb.debian.org reachable)"
  fi
  echo "$(recipe_hash "$suite")" >"$tmp/.sandbox-recipe"
  mv -T "$tmp" "$dir"
  log "rootfs ready in $((SECONDS - t0)) s: $dir ($(du -sh "$dir" | cut -f1))"
  echo "$dir"
}

# ------------------------------------------------------------------------------------------------------- helpers
hdir() { echo "$STATE/hosts/$1"; }
valid_name() { [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] || die "bad host name '$1': use [a-z0-9-], 1-32 chars"; }
# start time of a process (field 22 of /proc/PID/stat), to tell our process from a later one reusing its pid
pstart() { local s; s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1; s="${s##*) }"; set -- $s; echo "${20}"; }
pstate() { local s; s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1; s="${s##*) }"; echo "${s%% *}"; }
alive() { local st; st="$(pstate "$1")" && [ "$st" != Z ] && [ "$st" != X ]; }
# record "PID STARTTIME" of a process we started
record() { echo "$2 $(pstart "$2")" >"$1"; }
# the recorded pid if it is still the same process, else nothing
recorded_pid() {
  local f="$1" pid st
  [ -s "$f" ] || return 1
  read -r pid st <"$f" || return 1
  [ -n "$pid" ] && [ "$(pstart "$pid" 2>/dev/null)" = "$st" ] || return 1
  echo "$pid"
}
init_pid() { recorded_pid "$(hdir "$1")/init.pid"; }
host_running() {  # init and both forwarders alive
  local d p f; d="$(hdir "$1")"
  for f in init fwd-tcp fwd-unix; do p="$(recorded_pid "$d/$f.pid")" && alive "$p" || return 1; done
}
json_str() { local s="$1"; s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
lock_state() { mkdir -p "$STATE/hosts"; chmod 700 "$STATE"; exec 9>"$STATE/.lock"; flock 9; }

ensure_keys() {
  local k="$STATE/keys"
  install -d -m 700 "$k"
  [ -s "$k/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C sftp-jail-sandbox -f "$k/id_ed25519"
  [ -s "$k/passphrase" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$k/passphrase"; chmod 600 "$k/passphrase"; }
  [ -s "$k/id_ed25519_pp" ] ||
    ssh-keygen -q -t ed25519 -N "$(cat "$k/passphrase")" -C sftp-jail-sandbox-pp -f "$k/id_ed25519_pp"
  [ -s "$k/sudo-password" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$k/sudo-password"; chmod 600 "$k/sudo-password"; }
}

used_ports() {
  ss -Htan 2>/dev/null | awk '{n=split($4,a,":"); print a[n]}'
  cat "$STATE"/hosts/*/port 2>/dev/null || true
}
alloc_port() {
  local used p; used=" $(used_ports | sort -u | tr '\n' ' ') "
  for ((p = PORT_BASE; p < PORT_BASE + 2000 && p < 65536; p++)); do
    [[ "$used" == *" $p "* ]] || { echo "$p"; return 0; }
  done
  die "no free port from $PORT_BASE (set SFTPJAIL_SANDBOX_PORT_BASE)"
}
alloc_index() {
  local used i; used=" $(cat "$STATE"/hosts/*/index 2>/dev/null | tr '\n' ' ') "
  for ((i = 0; i < 512; i++)); do [[ "$used" == *" $i "* ]] || { echo "$i"; return 0; }; done
  die "more than 512 sandbox hosts"
}
# true when something listens on 127.0.0.1:$2 (or 0.0.0.0) in the netns of process $1 (hex port in /proc/PID/net/tcp)
listening_tcp() {
  local hex; hex="$(printf '%04X' "$2")"
  awk -v p=":$hex" '$4 == "0A" && (substr($2, length($2)-4) == p) {f=1} END {exit !f}' \
    "/proc/$1/net/tcp" "/proc/$1/net/tcp6" 2>/dev/null
}
# /proc/PID/net/unix lists the sockets of PID's netns with the path as bound (ours: relative "ssh.sock")
listening_unix() { awk -v p="$2" '$NF == p && $6 == "01" {f=1} END {exit !f}' "/proc/$1/net/unix" 2>/dev/null; }

# ------------------------------------------------------------------------------------------- inside a new host
# Runs as PID 1 of the host's new pid namespace, in its private mount namespace, still on the real filesystem.
stage_host() {
  local name="$1" lower="$2" d="$3" M="$3/root"
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$M"
  mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
  # kernel-wide knobs stay read-only (as in Docker): a test must not change the real machine through /proc/sys
  local ro
  for ro in sys sysrq-trigger; do
    [ -e "$M/proc/$ro" ] || continue
    mount --bind "$M/proc/$ro" "$M/proc/$ro"; mount -o remount,bind,ro "$M/proc/$ro"
  done
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$M/sys"
  mount -t tmpfs -o nosuid,noexec,mode=755,size=1m tmpfs "$M/dev"
  local n spec
  for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r n a b <<<"$spec"
    if ! mknod -m 666 "$M/dev/$n" c "$a" "$b" 2>/dev/null; then
      touch "$M/dev/$n"; mount --bind "/dev/$n" "$M/dev/$n"
    fi
  done
  mkdir -p "$M/dev/pts" "$M/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$M/dev/pts"
  ln -s pts/ptmx "$M/dev/ptmx"
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$M/dev/shm"
  ln -s /proc/self/fd "$M/dev/fd"
  ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
  mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs "$M/run"
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$M/tmp"
  mkdir -p "$M/run/lock" "$M/run/sandbox"
  echo "$name" >/proc/sys/kernel/hostname
  ip link set lo up

  # first start of this host: identity, keys, passwords
  if [ ! -e "$M/etc/.sandbox-host" ]; then
    echo "$name" >"$M/etc/hostname"
    printf '127.0.1.1\t%s\n' "$name" >>"$M/etc/hosts"
    install -m 600 "$STATE/keys/id_ed25519.pub" "$M/root/.ssh/authorized_keys"
    local u
    for u in operator opsudo; do
      install -d -m 700 "$M/home/$u/.ssh"
      cat "$STATE/keys/id_ed25519.pub" "$STATE/keys/id_ed25519_pp.pub" >"$M/home/$u/.ssh/authorized_keys"
      chmod 600 "$M/home/$u/.ssh/authorized_keys"
      chroot "$M" chown -R "$u:$u" "/home/$u/.ssh"
    done
    printf 'opsudo:%s\n' "$(cat "$STATE/keys/sudo-password")" | chroot "$M" chpasswd
    echo "$name" >"$M/etc/.sandbox-host"
  fi
  cat >"$M/run/sandbox/init" <<'INIT'
# PID 1 of a sandbox host: generate host keys, start sshd as a daemon, then reap zombies forever.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
cd /
for t in ed25519 ecdsa; do
  [ -s /etc/ssh/ssh_host_${t}_key ] ||
    ssh-keygen -q -t $t -N '' -C "root@$(cat /etc/hostname)" -f /etc/ssh/ssh_host_${t}_key
done
install -d -m 755 /run/sshd
. /etc/default/ssh
/usr/sbin/sshd $SSHD_OPTS
echo started >/run/sandbox/ready
# bash reaps every child (also orphans re-parented to PID 1) in its SIGCHLD handler
while :; do sleep 3600 & wait $!; done
INIT
  cd "$M"
  mkdir run/.oldroot
  pivot_root . run/.oldroot
  cd /
  umount -l /run/.oldroot
  rmdir /run/.oldroot
  exec env -i /bin/bash /run/sandbox/init </dev/null >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------------------- up
launch_host() {
  local name="$1" lower="$2" d; d="$(hdir "$1")"
  install -d -m 700 "$d"
  mkdir -p "$d/upper" "$d/work" "$d/root"
  alloc_index >"$d/index"
  echo "$3" >"$d/suite"
  alloc_port >"$d/port"
  setsid unshare --net --mount --uts --ipc --pid --fork --kill-child --propagation private -- \
    bash "$SELF" __stage "$name" "$lower" "$d" </dev/null >"$d/stage.log" 2>&1 9>&- &
  record "$d/unshare.pid" $!
}

# wait until the host's sshd listens, then start the forwarders and wait until they listen
finish_host() {
  local name="$1" d u pid="" port i
  d="$(hdir "$name")"; port="$(cat "$d/port")"
  u="$(recorded_pid "$d/unshare.pid")" || die "host $name: unshare died at once: $(tail -5 "$d/stage.log")"
  for ((i = 0; i < 1000; i++)); do
    read -r pid _ <"/proc/$u/task/$u/children" 2>/dev/null || true
    [ -n "$pid" ] && break
    sleep 0.005
  done
  [ -n "$pid" ] || die "host $name: no init process: $(tail -5 "$d/stage.log")"
  record "$d/init.pid" "$pid"
  for ((i = 0; i < 1000; i++)); do
    listening_tcp "$pid" 22 && break
    alive "$pid" || die "host $name: init died: $(tail -5 "$d/stage.log")"
    sleep 0.005
  done
  listening_tcp "$pid" 22 || die "host $name: sshd does not listen after 5 s: $(tail -5 "/proc/$pid/root/var/log/sshd.log" 2>&1)"
  (cd "$d" && exec setsid nsenter -t "$pid" -n -- socat UNIX-LISTEN:ssh.sock,fork,unlink-early,mode=600 \
    TCP:127.0.0.1:22,nodelay </dev/null >"$d/fwd-unix.log" 2>&1 9>&-) &
  record "$d/fwd-unix.pid" $!
  local fu ft attempt
  fu="$(recorded_pid "$d/fwd-unix.pid")"
  for ((attempt = 0; attempt < 5; attempt++)); do
    (cd "$d" && exec setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr,nodelay" UNIX-CONNECT:ssh.sock \
      </dev/null >"$d/fwd-tcp.log" 2>&1 9>&-) &
    record "$d/fwd-tcp.pid" $!
    ft="$(recorded_pid "$d/fwd-tcp.pid")" || true
    for ((i = 0; i < 1000; i++)); do
      listening_tcp "$ft" "$port" && break
      alive "$ft" || break
      sleep 0.005
    done
    listening_tcp "$ft" "$port" && break
    alive "$ft" && die "host $name: forwarder does not listen on 127.0.0.1:$port after 5 s"
    grep -q 'Address already in use' "$d/fwd-tcp.log" || die "host $name: forwarder on 127.0.0.1:$port died: $(cat "$d/fwd-tcp.log")"
    log "host $name: port $port was taken meanwhile; trying another"
    port="$(alloc_port)"; echo "$port" >"$d/port"
  done
  listening_tcp "$ft" "$port" || die "host $name: no free port found for the forwarder"
  for ((i = 0; i < 1000; i++)); do
    listening_unix "$fu" ssh.sock && break
    alive "$fu" || die "host $name: forwarder in the netns died: $(cat "$d/fwd-unix.log")"
    sleep 0.005
  done
  listening_unix "$fu" ssh.sock || die "host $name: forwarder in the netns does not listen after 5 s"
  local k="/proc/$pid/root/etc/ssh"
  for i in ed25519 ecdsa; do cut -d' ' -f1,2 "$k/ssh_host_${i}_key.pub" >"$d/host_${i}.pub"; done
}

host_json() {
  local name="$1" d pid; d="$(hdir "$name")"
  pid="$(init_pid "$name" || echo 0)"
  printf '{"name":%s,"suite":%s,"port":%s,"pid":%s,"hostKeyEd25519":%s,"hostKeyEcdsa":%s,"stateDir":%s,"running":%s' \
    "$(json_str "$name")" "$(json_str "$(cat "$d/suite" 2>/dev/null || echo bookworm)")" \
    "$(cat "$d/port" 2>/dev/null || echo 0)" "$pid" \
    "$(json_str "$(cat "$d/host_ed25519.pub" 2>/dev/null)")" "$(json_str "$(cat "$d/host_ecdsa.pub" 2>/dev/null)")" \
    "$(json_str "$d")" "$(host_running "$name" && echo true || echo false)"
  if [ -s "$d/net" ]; then
    local h c; read -r h c <"$d/net"
    printf ',"hostAddress":%s,"clientAddress":%s' "$(json_str "$h")" "$(json_str "$c")"
  fi
  printf '}'
}
print_hosts() {
  local json="$1"; shift
  local name first=1
  if [ "$json" = 1 ]; then
    printf '['
    for name in "$@"; do [ $first = 1 ] || printf ','; first=0; host_json "$name"; done
    printf ']\n'
  else
    for name in "$@"; do echo "$name $(cat "$(hdir "$name")/port")"; done
  fi
}

cmd_up() {
  local json=0 net=0 fresh=0 names=() n suite="$SUITE"
  while [ $# -gt 0 ]; do
    case "$1" in
      --json) json=1 ;; --net) net=1 ;; --fresh) fresh=1 ;;
      --suite) [ $# -ge 2 ] || die "--suite needs a value"; suite="$2"; valid_suite "$suite"; shift ;;
      -*) die "unknown option $1 (up [--json] [--net] [--fresh] [--suite SUITE] NAME...)" ;;
      *) valid_name "$1"; [[ " ${names[*]-} " != *" $1 "* ]] || die "name $1 given twice"; names+=("$1") ;;
    esac
    shift
  done
  [ ${#names[@]} -gt 0 ] || die "usage: $0 up [--json] [--net] [--fresh] [--suite SUITE] NAME..."
  need_root up; need_cmds unshare nsenter socat ssh-keygen ip ss flock setsid
  local lower; lower="$(cmd_rootfs "$suite")"
  lock_state
  ensure_keys
  local start=()
  UP_STARTED=()
  trap 'rc=$?; if [ $rc -ne 0 ]; then for n in ${UP_STARTED[@]+"${UP_STARTED[@]}"}; do down_one "$n"; done; fi' EXIT
  for n in "${names[@]}"; do
    # a running host of another suite is not the host asked for
    if [ $fresh = 0 ] && host_running "$n" && [ "$(cat "$(hdir "$n")/suite" 2>/dev/null || echo bookworm)" = "$suite" ]; then continue; fi
    [ -d "$(hdir "$n")" ] && down_one "$n"
    UP_STARTED+=("$n")
    launch_host "$n" "$lower" "$suite"
    start+=("$n")
  done
  for n in ${start[@]+"${start[@]}"}; do finish_host "$n"; done
  if [ $net = 1 ]; then for n in "${names[@]}"; do net_one "$n" >/dev/null; done; fi
  print_hosts "$json" "${names[@]}"
  trap - EXIT
  exec 9>&-
}

# -------------------------------------------------------------------------------------------------------- down
# Kill the process group we started (its leader's pid is recorded with its start time). When the leader is gone but
# pid N is not reused, processes still in group N can only be ours: a pid is never reused while a group has its id.
kill_recorded() {
  local f="$1" pid st
  [ -s "$f" ] || return 0
  read -r pid st <"$f" || return 0
  [ -n "$pid" ] || return 0
  if [ "$(pstart "$pid" 2>/dev/null)" = "$st" ] || [ ! -e "/proc/$pid" ]; then
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "$pid"
  fi
}
# non-zombie processes in one of the process groups "$@"
survivors() {
  awk -v g=" $* " '{ pid = $1; s = $0; sub(/.*\) /, "", s); split(s, f, " ");
                     if (f[1] != "Z" && f[1] != "X" && index(g, " " f[3] " ")) print pid }' \
    /proc/[0-9]*/stat 2>/dev/null || true
}
down_one() {
  local name="$1" d groups=() p i left=""
  d="$(hdir "$name")"
  [ -d "$d" ] || return 0
  # killing PID 1 of the host's pid namespace kills everything inside it
  p="$(recorded_pid "$d/init.pid")" && { kill -KILL "$p" 2>/dev/null || true; }
  for f in unshare fwd-tcp fwd-unix client; do
    p="$(kill_recorded "$d/$f.pid")" && [ -n "$p" ] && groups+=("$p")
  done
  for ((i = 0; i < 300 && ${#groups[@]} > 0; i++)); do
    left="$(survivors "${groups[@]}")"
    if p="$(recorded_pid "$d/init.pid")" && alive "$p"; then left="$left $p"; fi
    [ -z "$left" ] && break
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
    sleep 0.01
  done
  [ -z "$left" ] || log "warning: host $name: processes $left survived SIGKILL"
  # the overlay was mounted only inside the host's mount namespace, which died with its last process
  if findmnt -rn -o TARGET | grep -qxF "$d/root"; then umount -l "$d/root" || true; fi
  rm -rf "$d"
}
cmd_down() {
  need_root down
  [ $# -gt 0 ] || die "usage: $0 down NAME...|--all"
  lock_state
  local n names=()
  if [ "$1" = --all ]; then
    for n in "$STATE"/hosts/*/; do [ -d "$n" ] && names+=("$(basename "$n")"); done
  else
    for n in "$@"; do valid_name "$n"; names+=("$n"); done
  fi
  for n in ${names[@]+"${names[@]}"}; do down_one "$n"; done
}

# ------------------------------------------------------------------------------------------- console / status
cmd_console() {
  [ $# -ge 1 ] || die "usage: $0 console NAME [CMD...]"
  need_root console
  local name="$1" pid; shift; valid_name "$name"
  pid="$(init_pid "$name")" && alive "$pid" || die "host $name is not running (start it: $0 up $name)"
  local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root
              LANG=C.UTF-8 "TERM=${TERM:-dumb}")
  if [ $# -eq 0 ]; then
    exec nsenter -t "$pid" -a -r -w -- /usr/bin/env -i "${envs[@]}" /bin/bash -l
  fi
  exec nsenter -t "$pid" -a -r -w -- /usr/bin/env -i "${envs[@]}" /bin/bash -c "$*"
}

cmd_status() {
  local json=0; [ "${1:-}" = --json ] && json=1
  local names=() n
  for n in "$STATE"/hosts/*/; do [ -d "$n" ] && names+=("$(basename "$n")"); done
  if [ $json = 1 ]; then print_hosts 1 ${names[@]+"${names[@]}"}; return 0; fi
  for n in ${names[@]+"${names[@]}"}; do
    printf '%s %s pid=%s %s\n' "$n" "$(cat "$(hdir "$n")/port" 2>/dev/null)" "$(init_pid "$n" || echo -)" \
      "$(host_running "$n" && echo running || echo dead)"
  done
}

cmd_info() {
  [ $# -ge 1 ] || die "usage: $0 info NAME [--json]"
  valid_name "$1"; [ -d "$(hdir "$1")" ] || die "no host $1"
  if [ "${2:-}" = --json ]; then host_json "$1"; echo; else print_hosts 0 "$1"; fi
}

# ---------------------------------------------------------------------------------------------------- net/client
net_one() {
  local name="$1" d pid idx cpid; d="$(hdir "$name")"
  pid="$(init_pid "$name")" && alive "$pid" || die "host $name is not running"
  if [ -s "$d/net" ] && recorded_pid "$d/client.pid" >/dev/null; then echo "$name $(cat "$d/net")"; return 0; fi
  idx="$(cat "$d/index")"
  local h="198.$((18 + idx / 256)).$((idx % 256)).1" c="198.$((18 + idx / 256)).$((idx % 256)).2"
  setsid unshare --net -- sleep infinity </dev/null >/dev/null 2>&1 9>&- &
  local sp=$!
  for ((i = 0; i < 200; i++)); do [ "$(readlink "/proc/$sp/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.005; done
  # unshare execs sleep in the same process, so $! is the holder of the client netns
  record "$d/client.pid" "$sp"
  # created inside the client netns with its peer straight in the host's netns: nothing touches the real netns
  nsenter -t "$sp" -n -- ip link add eth0 type veth peer name eth0 netns "$pid"
  nsenter -t "$sp" -n -- ip addr add "$c/30" dev eth0
  nsenter -t "$sp" -n -- ip link set eth0 up
  nsenter -t "$sp" -n -- ip link set lo up
  nsenter -t "$pid" -n -- ip addr add "$h/30" dev eth0
  nsenter -t "$pid" -n -- ip link set eth0 up
  echo "$h $c" >"$d/net"
  echo "$name $h $c"
}
cmd_net() {
  [ $# -eq 1 ] || die "usage: $0 net NAME"
  need_root net; valid_name "$1"; lock_state; net_one "$1"
}
cmd_client() {
  [ $# -ge 2 ] || die "usage: $0 client NAME CMD..."
  need_root client
  local name="$1" cp; shift; valid_name "$name"
  cp="$(recorded_pid "$(hdir "$name")/client.pid")" || die "host $name has no client netns (run: $0 net $name)"
  exec nsenter -t "$cp" -n -- "$@"
}

# ---------------------------------------------------------------------------------------------------------- main
cmd="${1:-}"; shift || true
case "$cmd" in
  rootfs) cmd_rootfs "$@" ;;
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  console) cmd_console "$@" ;;
  status) cmd_status "$@" ;;
  info) cmd_info "$@" ;;
  net) cmd_net "$@" ;;
  client) cmd_client "$@" ;;
  __stage) stage_host "$@" ;;
  *) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
