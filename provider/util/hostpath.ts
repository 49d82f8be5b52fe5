/**
 * Host-side path operations that no unprivileged user can redirect: THE way every root-run step acts on a host path.
 *
 * Why: `chown`, `chmod`, `install -d`, `rmdir`, `mv` and `cat` resolve every component of the path they are given and
 * follow symlinks in all but (sometimes) the last one. A jailed user owns the inside of their writable directories,
 * so they can rename a root-owned directory there and put a symlink to /var in its place, or swap a checked directory
 * for a symlink between the check and the change. Here a path is never handed to such a command. Instead the shell
 * walks from `/` one component at a time: `lstat` the component by name (a symlink or non-directory is refused), `cd`
 * into it, then compare `stat .` (device:inode) with what the lstat saw, so a swap between check and cd is detected
 * and nothing is touched. The command then acts on `.` (or on one plain name inside the pinned directory), so a swap
 * after the walk changes nothing: the shell holds the directory it checked, by inode.
 *
 * The same checks usually cost one process: `cd -P` to the path, then one `stat` of every component by its absolute
 * path, of `.` and of the name the caller looks at next (see `sj_fast` for why that is as strong); the walk above runs
 * only when that finds anything amiss, and refuses with the reason.
 *
 * "Trusted" components are root-owned and not writable by group or others: only root can rename or replace what is
 * inside them. Writes and the jail's own structure require a trusted chain; paths below a user's writable directory
 * only need to be real directories all the way down.
 *
 * Every function runs in a subshell (`f() ( ... )`) so its `cd` never leaks; a refusal prints
 * "sftp-jail: refused: ..." on stderr and exits 77. Plain POSIX sh (dash, busybox ash, bash) and GNU coreutils
 * (`stat -c`, `dd iflag=nofollow`), which every supported host has.
 */
import { quote, quoteArg } from "./shell";

/** Exit code of a refusal (sysexits' EX_NOPERM): the path was not what it must be, and nothing was changed. */
export const REFUSED = 77;

/** What sj_id prints of a path (lstat): device, inode, uid, octal mode, links, birth time (`%.9W`, 0 when the
 * filesystem keeps none) and, last because it may contain spaces, the type. */
const SJ_ID_FMT = "%d:%i:%u:%a:%h:%.9W:%F";

/**
 * The shell library (defined once, prepended to every script sftp-jail runs on a host).
 *
 * - `sj_cd PATH [N [NAME]]` (call only inside a subshell): walks to PATH as described above; the first N components
 *   below `/` must be trusted (default: all). Sets `sj_trusted=1` when every component was trusted, and `sj_s` to the
 *   lstat of NAME inside PATH (empty when missing), taken by the walk's last stat. One stat process for the whole
 *   walk (`sj_fast`); one per component (`sj_walk`) only when that finds something wrong, to refuse with the reason.
 * - `sj_dir PATH N OWNER GROUP MODE`: creates PATH (in its pinned parent) if missing, then sets owner and mode on
 *   the directory itself. N applies to the parent's walk; PATH itself need not be trusted (it may be fixed here).
 * - `sj_chmod_dir PATH N MODE`: chmod (e.g. `go-w`) of the directory itself.
 * - `sj_rmdir PATH N`: removes PATH if it is an empty directory; never follows a symlink.
 * - `sj_rmdir_root PATH N`: the same, only while PATH is still root's (a directory sftp-jail made, not one since
 *   handed to someone); exit 0 when PATH is gone already, non-zero when it stays.
 * - `sj_rm PATH N`: removes the file PATH (a symlink there is removed, never followed).
 * - `sj_rmtree PATH N`: removes the directory PATH and everything in it (`rm -rf --one-file-system` on one name);
 *   refused when a mount point is at or below PATH.
 * - `sj_mvdir PATH N DEST`: renames the directory PATH to DEST (missing), a path inside a trusted directory on the
 *   same filesystem; refused when a mount point is at or below PATH.
 * - `sj_read PATH [N]`: prints the regular file PATH base64-encoded; exit 1 when missing. Opened with O_NOFOLLOW and
 *   O_NONBLOCK (a FIFO cannot hang the probe); a file with several hard links below an untrusted directory is refused
 *   (it may be a link to a file the user cannot read).
 * - `sj_read_in DIR N NAME...`: for each NAME, a regular file in DIR (plain names), prints `DIR/NAME<TAB>base64`,
 *   checked as `sj_read` checks it; one walk to DIR serves them all.
 * - `sj_file_ok PATH`: refuses unless PATH is a regular file owned by root, not writable by group or others, in a
 *   trusted directory chain (a file root serves to others).
 */
/** The largest key file sftp-jail reads (bytes; a multiple of dd's 64 KiB block): 1000 keys of 4 KiB fit. */
export const KEY_FILE_MAX = 4 * 1048576;

export const HOSTPATH_LIB = [
  "unset CDPATH",
  // A newline, for splitting the output of one stat of two names without another process.
  "sj_nl='\n'",
  // A tab, for the NAME/SIZE list of files read together (sj_read_in) without another process.
  "sj_tab='\t'",
  "sj_die() { printf 'sftp-jail: refused: %s\\n' \"$*\" >&2; exit 77; }",
  // One lstat: device:inode:uid:octal mode:links:birth time:type (type last; it may contain spaces). The format is
  // SJ_ID_FMT; sj_split takes it apart.
  `sj_id() { stat -c '${SJ_ID_FMT}' -- "$1" 2>/dev/null; }`,
  "sj_split() { sj_dev=${1%%:*}; sj_r=${1#*:}; sj_ino=${sj_r%%:*}; sj_r=${sj_r#*:}; sj_uid=${sj_r%%:*}; sj_r=${sj_r#*:}; sj_mode=${sj_r%%:*}; sj_r=${sj_r#*:}; sj_links=${sj_r%%:*}; sj_r=${sj_r#*:}; sj_birth=${sj_r%%:*}; sj_type=${sj_r#*:}; }",
  "sj_safe() { [ \"$sj_uid\" = 0 ] && [ $((0$sj_mode & 022)) -eq 0 ]; }",
  // Enters component $1 of the current directory, whose lstat the caller left in sj_s: a real directory, and the same
  // inode after the cd. The one stat after the cd also lstat()s $3 (the next component, when given) inside the
  // directory just entered and leaves it in sj_s, so a walk costs one process per component.
  "sj_step() {",
  "  [ -n \"$sj_s\" ] || sj_die \"$2 does not exist\"",
  "  sj_split \"$sj_s\"",
  "  case \"$sj_type\" in directory) ;; 'symbolic link') sj_die \"$2 is a symbolic link\";; *) sj_die \"$2 is not a directory ($sj_type)\";; esac",
  "  cd -P -- \"$1\" 2>/dev/null || sj_die \"cannot enter $2\"",
  `  sj_wo=$(stat -c '${SJ_ID_FMT}' -- . \${3:+"$3"} 2>/dev/null)`,
  "  case \"$sj_wo\" in *\"$sj_nl\"*) sj_s=${sj_wo#*\"$sj_nl\"}; sj_wo=${sj_wo%%\"$sj_nl\"*};; *) sj_s=;; esac",
  // device:inode of "." (the first two of its seven fields) must be what the lstat saw.
  "  [ \"${sj_wo%:*:*:*:*:*}\" = \"$sj_dev:$sj_ino\" ] || sj_die \"$2 was replaced while it was being checked\"",
  "}",
  // Takes the next component of sj_rest into sj_c (empty at the end); '', . and .. are refused.
  "sj_next() {",
  "  if [ -z \"$sj_rest\" ]; then sj_c=; return 0; fi",
  "  sj_c=${sj_rest%%/*}",
  "  case \"$sj_rest\" in */*) sj_rest=${sj_rest#*/};; *) sj_rest=;; esac",
  "  case \"$sj_c\" in ''|.|..) sj_die \"$sj_wp is not a normalised path\";; esac",
  "}",
  // The walk in one process (sj_fast below), else component by component (sj_walk), which refuses with the reason.
  'sj_cd() { case "$1" in /*) ;; *) sj_die "$1 is not an absolute path";; esac; sj_fast "$@" || sj_walk "$@"; }',
  // The fast walk: `cd -P` to PATH, then ONE stat of "/", every component by its absolute path (lstat), "." and NAME.
  // It succeeds only when every component is a real directory, the first N are trusted, "." is the very directory
  // PATH names (device:inode) and getcwd() is PATH; anything else (a link, a swap, a vanished name, an untrusted
  // component) returns 1 and sj_walk walks again, refusing with the reason or succeeding on what is there now. Why it
  // is as strong as the walk: a trusted component's lstat is true (no one but root can change the entries of the
  // trusted components above it, and "/" is root's), so a trusted chain is root's all the way; below a user's
  // directory the user can flip names at will, but every flip ends in a refusal or in the directory at PATH, as the
  // getcwd check pins it, which is all the walk promises there too. Sets what sj_walk sets (sj_trusted, sj_s).
  "sj_fast() {",
  "  sj_wp=$1; sj_rest=${1#/}; sj_n=${2:-4096}; sj_fn=${3:-}; sj_trusted=1; sj_s=; sj_at=",
  "  set -- /",
  // sj_next refuses '', . and .. components as sj_walk would.
  "  while [ -n \"$sj_rest\" ]; do sj_next; sj_at=$sj_at/$sj_c; set -- \"$@\" \"$sj_at\"; done",
  "  cd -P -- \"$sj_wp\" 2>/dev/null || return 1",
  `  sj_fl=$(stat -c '${SJ_ID_FMT}' -- "$@" . \${sj_fn:+"$sj_fn"} 2>/dev/null)$sj_nl`,
  // Line 0 is "/"; lines 1..k the components, then ".", then NAME's (absent when NAME is missing).
  "  sj_fp=${sj_fl%%\"$sj_nl\"*}; sj_fl=${sj_fl#*\"$sj_nl\"}; sj_fi=1",
  "  while [ \"$sj_fi\" -lt $# ]; do",
  "    [ -n \"$sj_fl\" ] || return 1",
  "    sj_fp=${sj_fl%%\"$sj_nl\"*}; sj_fl=${sj_fl#*\"$sj_nl\"}",
  "    sj_split \"$sj_fp\"; [ \"$sj_type\" = directory ] || return 1",
  "    if ! sj_safe; then sj_trusted=0; [ \"$sj_fi\" -gt \"$sj_n\" ] || return 1; fi",
  "    sj_fi=$((sj_fi + 1))",
  "  done",
  "  [ -n \"$sj_fl\" ] || return 1",
  "  sj_fd=${sj_fl%%\"$sj_nl\"*}; sj_fl=${sj_fl#*\"$sj_nl\"}",
  "  [ \"${sj_fd%:*:*:*:*:*}\" = \"${sj_fp%:*:*:*:*:*}\" ] || return 1",
  "  sj_s=${sj_fl%\"$sj_nl\"}",
  "  case \"$sj_s\" in *\"$sj_nl\"*) sj_s=; return 1;; esac",
  "  { cd -P . 2>/dev/null && [ \"$PWD\" = \"${sj_wp:-/}\" ]; } || { sj_s=; return 1; }",
  "}",
  // $3 (optional): a name to lstat inside PATH once there, left in sj_s (empty when missing): what callers check next.
  "sj_walk() {",
  "  case \"$1\" in /*) ;; *) sj_die \"$1 is not an absolute path\";; esac",
  "  sj_wp=$1; sj_rest=${1#/}; sj_n=${2:-4096}; sj_at=; sj_k=0; sj_trusted=1; sj_s=",
  "  cd / || sj_die 'cannot enter /'",
  "  sj_next",
  "  if [ -n \"$sj_c\" ]; then sj_s=$(sj_id \"$sj_c\"); elif [ -n \"${3:-}\" ]; then sj_s=$(sj_id \"$3\"); fi",
  "  while [ -n \"$sj_c\" ]; do",
  "    sj_wc=$sj_c; sj_at=$sj_at/$sj_wc; sj_k=$((sj_k + 1))",
  "    sj_next",
  "    sj_step \"$sj_wc\" \"$sj_at\" \"${sj_c:-${3:-}}\"",
  "    if ! sj_safe; then",
  "      sj_trusted=0",
  "      [ \"$sj_k\" -gt \"$sj_n\" ] || sj_die \"$sj_at must be owned by root and not writable by group or others (uid $sj_uid, mode $sj_mode)\"",
  "    fi",
  "  done",
  // Belt and braces: the kernel's idea of where we are must be the path asked for (no symlink was followed). `cd -P .`
  // sets PWD from getcwd(), as `pwd -P` prints it, without a subshell.
  "  { cd -P . 2>/dev/null && [ \"$PWD\" = \"${1:-/}\" ]; } || sj_die \"$1 resolves elsewhere ($(pwd -P))\"",
  "}",
  "sj_parent() { sj_pp=${1%/*}; [ -n \"$sj_pp\" ] || sj_pp=/; sj_base=${1##*/}; }",
  // Enters NAME ($1; $2 the path, for messages) from the directory a walk pinned. In a trusted directory only root can
  // change its entries, so the walk's lstat of NAME (sj_s) still holds and a plain `cd -P` enters what it saw (one
  // process fewer); elsewhere sj_step compares device:inode after the cd.
  "sj_enter() {",
  "  if [ \"$sj_trusted\" = 1 ] && [ -n \"$sj_s\" ]; then",
  "    sj_split \"$sj_s\"",
  "    case \"$sj_type\" in directory) ;; 'symbolic link') sj_die \"$2 is a symbolic link\";; *) sj_die \"$2 is not a directory ($sj_type)\";; esac",
  "    cd -P -- \"$1\" 2>/dev/null || sj_die \"cannot enter $2\"",
  "  else sj_step \"$1\" \"$2\"; fi",
  "}",
  "sj_dir() (",
  "  sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\" \"$sj_base\"",
  // Made here: in a trusted parent it is the directory mkdir made (nobody else can swap it); elsewhere checked.
  "  if [ -z \"$sj_s\" ]; then",
  "    mkdir -m 0700 -- \"$sj_base\" || exit",
  "    if [ \"$sj_trusted\" = 1 ]; then cd -P -- \"$sj_base\" 2>/dev/null || sj_die \"cannot enter $1\"; else sj_s=$(sj_id \"$sj_base\"); sj_step \"$sj_base\" \"$1\"; fi",
  "  else sj_enter \"$sj_base\" \"$1\"; fi",
  // Owner then mode, on the directory the shell stands in (one process: install -d sets both on an existing one, by fd).
  // The extra leading 0 ("00755") makes GNU install clear a directory's setuid/setgid bits, which it keeps on a mode of
  // four digits: a jailed user's `chmod 6755 upload` is then put back, not reported fixed and left.
  "  install -d -o \"$3\" -g \"$4\" -m \"0$5\" .",
  ")",
  "sj_chmod_dir() ( sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\" \"$sj_base\"; sj_enter \"$sj_base\" \"$1\"; chmod -- \"$3\" . )",
  "sj_chown_dir() ( sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\" \"$sj_base\"; sj_enter \"$sj_base\" \"$1\"; chown -h -- \"$3\" . )",
  "sj_rmdir() ( sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\"; rmdir -- \"$sj_base\" 2>/dev/null )",
  "sj_rmdir_root() (",
  "  sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\" \"$sj_base\"",
  "  [ -n \"$sj_s\" ] || exit 0",
  "  sj_split \"$sj_s\"; [ \"$sj_type\" = directory ] && [ \"$sj_uid\" = 0 ] || exit 1",
  "  rmdir -- \"$sj_base\" 2>/dev/null",
  ")",
  "sj_rm() ( sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\"; rm -f -- \"$sj_base\" )",
  // A mount at or below PATH (a bind mount of shared data, a user's volume): `rm --one-file-system` tells mounts apart
  // only by device, so a bind mount of the same filesystem would be emptied. Mount points are compared raw: a path of
  // ours has no character mountinfo escapes. A mount table that cannot be read counts as a mount (refused).
  "sj_mounted() { sj_mp=$1 awk '$5 == ENVIRON[\"sj_mp\"] || index($5, ENVIRON[\"sj_mp\"] \"/\") == 1 { f = 1 } END { exit f ? 0 : 1 }' /proc/self/mountinfo; [ $? -ne 1 ]; }",
  "sj_rmtree() (",
  "  sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\" \"$sj_base\"",
  "  [ -n \"$sj_s\" ] || exit 0",
  "  sj_split \"$sj_s\"; [ \"$sj_type\" = directory ] || sj_die \"$1 is not a directory ($sj_type)\"",
  "  ! sj_mounted \"$1\" || sj_die \"$1 is or holds a mount point: not deleted (unmount it first)\"",
  "  rm -rf --one-file-system -- \"$sj_base\"",
  ")",
  // A rename only: across filesystems `mv` would copy the tree as root (reading names a user can swap, filling the
  // target filesystem), so a directory on another filesystem than DEST's parent is refused.
  // Ends every process whose root directory is DEV:INO (`stat -c %d:%i`): the SFTP sessions chrooted into a jail that
  // is being moved or deleted, which would otherwise go on reading and writing it where it went (retained/ is root's).
  // One stat for all of /proc; a process that ends meanwhile is no error.
  "sj_endroot() { stat -L -c '%d:%i %n' /proc/[0-9]*/root 2>/dev/null | while read -r sj_ri sj_rp; do [ \"$sj_ri\" = \"$1\" ] || continue; sj_rp=${sj_rp#/proc/}; kill -KILL \"${sj_rp%/root}\" 2>/dev/null; done; true; }",
  "sj_mvdir() (",
  "  sj_parent \"$3\"; sj_dd=$(sj_cd \"$sj_pp\" && stat -c %d -- .) || exit",
  "  sj_parent \"$1\"; sj_cd \"$sj_pp\" \"$2\" \"$sj_base\"",
  "  [ -n \"$sj_s\" ] || sj_die \"$1 does not exist\"",
  "  sj_split \"$sj_s\"; [ \"$sj_type\" = directory ] || sj_die \"$1 is not a directory ($sj_type)\"",
  "  [ \"$sj_dev\" = \"$sj_dd\" ] || sj_die \"$1 is on another filesystem than $3: not moved (a move across filesystems copies)\"",
  "  ! sj_mounted \"$1\" || sj_die \"$1 is or holds a mount point: not moved (unmount it first)\"",
  "  [ ! -e \"$3\" ] && [ ! -L \"$3\" ] || sj_die \"$3 exists already\"",
  "  mv -T -- \"$sj_base\" \"$3\"",
  ")",
  // Prints the regular file NAME of the pinned directory base64-encoded, whose lstat the caller left in sj_s (empty:
  // missing, exit 1); LABEL names it in refusals. The one check and read behind sj_read and sj_read_in.
  "sj_read_here() (",
  "  [ -n \"$sj_s\" ] || exit 1",
  "  sj_split \"$sj_s\"",
  "  case \"$sj_type\" in 'regular file'|'regular empty file') ;; *) sj_die \"$2 is not a regular file ($sj_type)\";; esac",
  "  [ \"$sj_trusted\" = 1 ] || [ \"$sj_links\" = 1 ] || sj_die \"$2 has $sj_links hard links and its directory is not root's alone\"",
  // At most KEY_FILE_MAX bytes are read: a key file a jailed user can write (an adopted one in a hand-made jail) could
  // be a sparse file of gigabytes, read as root and shipped to the provider at every snapshot.
  `  sj_b=$(dd if="$1" iflag=nofollow,nonblock bs=65536 count=${KEY_FILE_MAX / 65536 + 1} 2>/dev/null | base64 -w0) || sj_die "cannot read $2"`,
  `  [ \${#sj_b} -le ${4 * Math.ceil(KEY_FILE_MAX / 3)} ] || sj_die \"$2 is larger than ${KEY_FILE_MAX / 1048576} MiB: not read (a key file holds at most 1000 keys)\"`,
  // Below an untrusted directory someone else could swap the name while it is read; in a trusted one (root's alone,
  // as the hard-link rule above already relies on) only root can rename or link there: no second stat.
  "  [ \"$sj_trusted\" = 1 ] || [ \"$(sj_id \"$1\")\" = \"$sj_s\" ] || sj_die \"$2 was replaced while it was being read\"",
  "  printf '%s' \"$sj_b\"",
  ")",
  "sj_read() ( sj_parent \"$1\"; sj_cd \"$sj_pp\" \"${2:-0}\" \"$sj_base\"; sj_read_here \"$sj_base\" \"$1\" )",
  // Several files of one directory with one walk and one lstat of them all (plain names: no `/`, no newline, so each
  // line is NAME/SIZE/ID); a refusal (on stderr) costs that file only. In a trusted directory, the regular files only
  // root can write (root's, not group/other-writable) and within the cap are read together: one `cat`, one `base64`,
  // one `stat` after, instead of processes per file (CPU on every host at every snapshot). Only root can rename, link
  // or grow them (the hard-link rule's reasoning); if the stat after differs anyway, each is read alone. Printed as
  // `@concat<TAB>DIR<TAB>NAME/SIZE<TAB>…<TAB>base64 of them in that order` (pathFacts.ts decodeFiles splits it).
  "sj_read_in() (",
  // One file alone (its lstat in sj_s), printed as DIR/NAME<TAB>base64; a refusal costs it only.
  "  sj_read_one() { if sj_b=$(sj_read_here \"$1\" \"$sj_rp/$1\"); then printf '%s\\t%s\\n' \"$sj_rp/$1\" \"$sj_b\"; fi; }",
  "  sj_rp=${1%/}; sj_cd \"$1\" \"$2\"; shift 2",
  `  sj_ids="$sj_nl$(stat -c '%n/%s/${SJ_ID_FMT}' -- "$@" 2>/dev/null)$sj_nl"`,
  "  sj_cat=; sj_cl=",
  "  for sj_f; do",
  "    case \"$sj_ids\" in *\"$sj_nl$sj_f/\"*) sj_s=${sj_ids#*\"$sj_nl$sj_f/\"}; sj_s=${sj_s%%\"$sj_nl\"*} ;; *) sj_s= ;; esac",
  "    sj_sz=${sj_s%%/*}; sj_s=${sj_s#*/}",
  "    if [ \"$sj_trusted\" = 1 ] && [ -n \"$sj_s\" ]; then",
  "      sj_split \"$sj_s\"",
  "      case \"$sj_type\" in 'regular file'|'regular empty file')",
  `        if sj_safe && [ "$sj_sz" -le ${KEY_FILE_MAX} ]; then sj_cat="$sj_cat$sj_nl$sj_f"; sj_cl="$sj_cl$sj_tab$sj_f/$sj_sz"; continue; fi ;;`,
  "      esac",
  "    fi",
  "    sj_read_one \"$sj_f\"",
  "  done",
  "  [ -n \"$sj_cat\" ] || exit 0",
  "  set -f; IFS=$sj_nl; set -- $sj_cat; unset IFS; set +f",
  "  sj_b=$(cat -- \"$@\" 2>/dev/null | base64 -w0)",
  `  sj_after="$sj_nl$(stat -c '%n/%s/${SJ_ID_FMT}' -- "$@" 2>/dev/null)$sj_nl"`,
  "  for sj_f; do",
  "    sj_s=${sj_ids#*\"$sj_nl$sj_f/\"}; sj_s=${sj_s%%\"$sj_nl\"*}",
  "    case \"$sj_after\" in *\"$sj_nl$sj_f/$sj_s$sj_nl\"*) ;; *) sj_cl= ;; esac",
  "  done",
  "  if [ -n \"$sj_cl\" ]; then printf '@concat\\t%s%s\\t%s\\n' \"$sj_rp\" \"$sj_cl\" \"$sj_b\"; exit 0; fi",
  "  for sj_f; do",
  "    sj_s=$(sj_id \"$sj_f\")",
  "    sj_read_one \"$sj_f\"",
  "  done",
  ")",
  "sj_file_ok() (",
  "  sj_parent \"$1\"; sj_cd \"$sj_pp\" '' \"$sj_base\"",
  "  [ -n \"$sj_s\" ] || sj_die \"$1 does not exist\"",
  "  sj_split \"$sj_s\"",
  "  case \"$sj_type\" in 'regular file'|'regular empty file') ;; *) sj_die \"$1 is not a regular file ($sj_type)\";; esac",
  "  sj_safe || sj_die \"$1 must be owned by root and not writable by group or others (uid $sj_uid, mode $sj_mode)\"",
  ")",
].join("\n");

/** Number of components below `/` (the depth argument of the library's walks). */
export const depth = (p: string) => p.split("/").filter(Boolean).length;

/** Absolute path `p` is `dir` itself or a path below it (by name: no link is resolved). */
export const atOrBelow = (p: string, dir: string) => p === dir || dir === "/" || p.startsWith(`${dir}/`);

/** The library call `fn path n ...args` as one quoted command line. */
const call = (fn: string, path: string, n: number, ...args: Array<string | number>) => quote([fn, path, n, ...args]);

/**
 * Builders for steps: each returns one command line that calls the library. `trusted` is how many components below
 * `/` must be root's (the chroot and its ancestors; everything for files root reads or writes outside the jails).
 */
export const hp = {
  /** Create (if missing) and set owner:group and mode of a directory, acting on the directory itself. */
  dir: (path: string, trusted: number, owner: string | number, group: string | number, mode: string) => call("sj_dir", path, trusted, owner, group, mode),
  chmodDir: (path: string, trusted: number, mode: string) => call("sj_chmod_dir", path, trusted, mode),
  chownDir: (path: string, trusted: number, owner: string) => call("sj_chown_dir", path, trusted, owner),
  /** Remove an empty directory; a non-empty or swapped one is left (exit status non-zero). */
  rmdir: (path: string, trusted: number) => call("sj_rmdir", path, trusted),
  /** Remove an empty directory that is still root's; a non-empty, swapped or re-owned one is left (non-zero). */
  rmdirRoot: (path: string, trusted: number) => call("sj_rmdir_root", path, trusted),
  rm: (path: string, trusted: number) => call("sj_rm", path, trusted),
  rmtree: (path: string, trusted: number) => call("sj_rmtree", path, trusted),
  mvdir: (path: string, trusted: number, dest: string) => call("sj_mvdir", path, trusted, dest),
  fileOk: (path: string) => quote(["sj_file_ok", path]),
  /** The pinned-parent prefix of a script that then acts on the plain name (see files.ts's atomicWrite). */
  enterParent: (path: string) => `sj_cd ${quoteArg(path.slice(0, path.lastIndexOf("/")) || "/")}`,
};
