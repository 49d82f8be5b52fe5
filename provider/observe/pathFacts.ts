/**
 * Facts about the paths and files resources ask about (stats with identity, contents, what shells resolve to), and
 * the decoder of the "path<TAB>base64" framing every file-reading fact uses. Commands only read; see facts.ts.
 */
import type { Fact, FileContent, PathStat } from "./facts";

/** Decodes "path<TAB>base64" lines. */
export function decodeFiles(out: string): FileContent[] {
  const files: FileContent[] = [];
  for (const l of out.split("\n")) {
    if (!l.includes("\t")) continue;
    const fields = l.split("\t");
    if (fields[0] !== "@concat") {
      files.push({ path: fields[0], content: Buffer.from(fields[1].trim(), "base64").toString("utf8") });
      continue;
    }
    // Files of one directory read together (util/hostpath.ts sj_read_in): @concat, DIR, NAME/SIZE…, base64 of them in
    // that order. Lengths that do not add up to what was read (a read cut short) leave them all unread, as a failed
    // read of one leaves that one.
    const [, dir, ...rest] = fields;
    const all = Buffer.from((rest.pop() ?? "").trim(), "base64");
    const parts = rest.map((e) => ({ name: e.slice(0, e.lastIndexOf("/")), size: Number(e.slice(e.lastIndexOf("/") + 1)) }));
    if (parts.some((p) => !p.name || !Number.isSafeInteger(p.size) || p.size < 0) || parts.reduce((n, p) => n + p.size, 0) !== all.length) continue;
    let at = 0;
    for (const p of parts) {
      files.push({ path: `${dir === "/" ? "" : dir}/${p.name}`, content: all.subarray(at, at + p.size).toString("utf8") });
      at += p.size;
    }
  }
  return files;
}

/** Paths whose resolution decides whether a shell is a non-login shell (merged /usr makes several the same file). */
export const NON_LOGIN_SHELLS = ["/usr/sbin/nologin", "/sbin/nologin", "/usr/bin/nologin", "/bin/false", "/usr/bin/false"];

/**
 * What the given paths (quoted by the caller) and the non-login shell candidates resolve to; missing ones are absent.
 * One `readlink -e` for all of them: it prints one result per argument when every one resolves, and a path that
 * vanishes in between makes it fail, so each is then asked alone.
 *
 * A resolution is the host's to name, and a jailed user names some (a symlink in their upload directory, a directory
 * called "x\n@@sftp-jail:files"): results are NUL-terminated (`-z`) and `tr` turns each terminator into the line end
 * and any newline inside a name into \x01, so every result is exactly one line, never a forged section, and a name
 * with \x01 or a tab resolves to a path that equals none sftp-jail expects. `readlink` failing is told by a marker
 * after its output (the pipe's status is `tr`'s): `//sj-failed`, which no canonical path contains.
 */
export function realpathsFact(quotedPaths: string[]): Fact<"realpaths"> {
  const resolve = (args: string) => `{ readlink -z -e -- ${args} 2>/dev/null || printf '//sj-failed\\000'; } | tr '\\n\\000' '\\001\\n'`;
  return {
    key: "realpaths",
    // Shell fields of /etc/passwd are data: read line by line by the shell (no process), each passed as one argument;
    // only absolute ones are resolved. A name listed twice is resolved twice (the parse keeps one).
    command: [
      `{ printf '%s\\n' ${[...NON_LOGIN_SHELLS, ...quotedPaths].join(" ")}; while IFS=: read -r sj_x sj_x sj_x sj_x sj_x sj_x sj_sh; do printf '%s\\n' "$sj_sh"; done < /etc/passwd; } | (`,
      `  set --; while IFS= read -r p; do case "$p" in /*) if [ -e "$p" ]; then set -- "$@" "$p"; fi ;; esac; done`,
      "  [ $# -gt 0 ] || exit 0",
      `  sj_rs=$(${resolve('"$@"')})`,
      `  case "$sj_rs" in *//sj-failed) for p; do r=$(${resolve('"$p"')}); case "$r" in *//sj-failed) ;; *) printf '%s\\t%s\\n' "$p" "$r" ;; esac; done ;;`,
      `  *) printf '%s\\n' "$sj_rs" | for p; do IFS= read -r r; printf '%s\\t%s\\n' "$p" "$r"; done ;; esac`,
      ")",
    ].join("\n"),
    parse(out) {
      const r: Record<string, string> = {};
      for (const line of out.split("\n")) {
        const tab = line.indexOf("\t");
        if (tab <= 0 || tab === line.length - 1) continue;
        r[line.slice(0, tab)] = line.slice(tab + 1); // the asked path never has a tab; the result keeps any it has
      }
      return r;
    },
  };
}

/** All ancestors of a path and the path itself, root first. */
export function withAncestors(p: string): string[] {
  const parts = p.split("/").filter(Boolean);
  const out = ["/"];
  for (let i = 1; i <= parts.length; i++) out.push("/" + parts.slice(0, i).join("/"));
  return out;
}

/** Paths per stat process: well under any host's argument limit (a manifest may list thousands of paths). */
const STAT_CHUNK = 256;

/**
 * Stats of the given paths (and their ancestors). Paths come from validated schemas and are quoted by the caller.
 * One stat process for up to {@link STAT_CHUNK} paths; a missing one is printed as such without a process.
 */
export function pathsFact(quotedPaths: string[], more?: string): Fact<"paths"> {
  const fmt = "'%n|%u|%g|%a|%F|%i:%.9W'";
  const stat = [
    "(",
    `  set --; while IFS= read -r p; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; if [ $# -ge ${STAT_CHUNK} ]; then stat -c ${fmt} -- "$@"; set --; fi; else printf '%s|missing\\n' "$p"; fi; done`,
    `  [ $# -eq 0 ] || stat -c ${fmt} -- "$@"`,
    ")",
  ].join("\n");
  const list = quotedPaths.length ? `printf '%s\\n' ${quotedPaths.join(" ")}` : "";
  return {
    key: "paths",
    // `more`: a command printing further paths, one a line (the host's manifest, observe/snapshot.ts).
    command: more ? `{ ${list ? `${list}; ` : ""}${more}; } | sort -u | ${stat}` : list ? `${list} | ${stat}` : "true",
    parse(out) {
      const r: Record<string, PathStat> = {};
      for (const line of out.split("\n")) {
        const f = line.split("|");
        if (f.length === 2 && f[1] === "missing") {
          r[f[0]] = { path: f[0], exists: false, uid: -1, gid: -1, mode: 0, type: "missing" };
        } else if (f.length === 5 || f.length === 6) {
          const t = f[4];
          r[f[0]] = {
            path: f[0],
            exists: true,
            uid: Number(f[1]),
            gid: Number(f[2]),
            mode: parseInt(f[3], 8),
            type: t === "directory" ? "directory" : /regular/.test(t) ? "file" : t === "symbolic link" ? "symlink" : "other",
            ...(f.length === 6 && /^\d+:\d+(\.\d+)?$/.test(f[5]) ? { ident: f[5] } : {}),
          };
        }
      }
      return r;
    },
  };
}

/**
 * Contents of the given files (quoted by the caller), base64 so any byte survives the section parser. Read through
 * the no-follow library (util/hostpath.ts): no symlink in any component is followed, a FIFO cannot hang the probe,
 * and a file that is not a plain regular file is reported as absent (its refusal goes to the probe's stderr). Files
 * of one directory (adjacent once sorted) share one walk to it.
 */
export function filesFact(quotedPaths: string[], more?: string): Fact<"files"> {
  const read = [
    "(",
    "  set --; sj_gd=",
    `  while IFS= read -r f; do d=\${f%/*}; [ -n "$d" ] || d=/; if [ "$d" != "$sj_gd" ] && [ $# -gt 0 ]; then sj_read_in "$sj_gd" 0 "$@"; set --; fi; sj_gd=$d; set -- "$@" "\${f##*/}"; done`,
    `  [ $# -eq 0 ] || sj_read_in "$sj_gd" 0 "$@"`,
    ")",
  ].join("\n");
  const list = quotedPaths.length ? `printf '%s\\n' ${quotedPaths.join(" ")}` : "";
  return {
    key: "files",
    command: more ? `{ ${list ? `${list}; ` : ""}${more}; } | sort -u | ${read}` : list ? `${list} | sort -u | ${read}` : "true",
    parse(out) {
      return Object.fromEntries(decodeFiles(out).map((f) => [f.path, f.content]));
    },
  };
}
