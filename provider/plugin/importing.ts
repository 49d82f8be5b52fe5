/**
 * `pulumi import` (and the `import` resource option): the engine calls read(id) with no state. These functions turn
 * an ID plus what the host has into the state the adapter's own `read` expects, so import is the adapter's read too.
 * Imported things were made by hand: they are recorded as adopted (destroy leaves an account or group that existed
 * before, and puts a hand-written Match block back as it was) — the same promise the dynamic resources make.
 */
import { NEUTRAL_ADDR, sameShell } from "../observe/facts";
import { JAIL_OPT_OUT, jailContexts } from "../plan/jail";
import { observe } from "../observe/snapshot";
import { sessionFor } from "../adapters/base";
import { DEFAULT_KEYS_DIR } from "../plan/jailedUser";
import { blocksFor, parseCriteria } from "../plan/sshdAdopt";
import { MAIN_CONFIG, MatchCriteria } from "../plan/sshdRender";
import { SftpJailError } from "../util/errors";
import { PlanError } from "../plan/types";
import { FIREWALL_IMPORT_ID, importedRule, parseFirewallId } from "./firewallImport";
import { adoptedState } from "../adapters/firewallRule";

type Seed = Record<string, unknown>;

const bad = (type: string, id: string, want: string, problem?: string) =>
  new SftpJailError({ resource: `${type} ${JSON.stringify(id)}` }, `cannot import this ID${problem ? `: ${problem}` : ""}`, `give the ID as ${want}`);

/** The prior state to read an imported resource with, or an error naming the ID format. `urn`: the resource's. */
export async function seedFor(type: string, id: string, connection: unknown, urn = ""): Promise<Seed> {
  switch (type) {
    case "SftpGroup": {
      const m = /^group\/(.+)$/.exec(id);
      if (!m) throw bad(type, id, "group/<name>");
      return { name: m[1], system: false, adopted: true, connection };
    }
    case "ChrootDir": {
      const m = /^chroot(\/.+)$/.exec(id);
      if (!m) throw bad(type, id, "chroot<path>, e.g. chroot/srv/sftp/alice");
      // Adopted, as every import is: destroy leaves the hand-made jail and its files where they are.
      return { path: m[1], owner: "root", fixAncestors: false, subdirs: [], onDelete: "retain", createdAncestors: [], adopted: true, createdSubdirs: [], connection };
    }
    case "JailedUser": {
      const m = /^user\/(.+)$/.exec(id);
      if (!m) throw bad(type, id, "user/<name>");
      const name = m[1];
      const s = sessionFor(connection, `JailedUser "${name}"`);
      const first = await observe(s);
      const u = first.users.find((x) => x.name === name);
      if (!u) throw new SftpJailError({ host: s.target, resource: `JailedUser "${name}"` }, `no account "${name}" on the host`, "check the name (pulumi import ... user/<name>)");
      // Keys: sftp-jail's own file if there is one, else the hand-made jail's ~/.ssh/authorized_keys (adopted read-only).
      const own = `${DEFAULT_KEYS_DIR}/${name}`;
      const home = `${u.home}/.ssh/authorized_keys`;
      // sshd's evaluation too: the keywords a hand-made block leaves to sshd's defaults become jailOptOut, so the
      // imported program describes the jail exactly as it is and converges with no change.
      const f = await observe(s, { files: [own, home], jail: jailContexts({ name, reachedFrom: [] }) });
      const ev = f.jail.find((j) => j.user === name && j.addr === NEUTRAL_ADDR);
      const jailOptOut = ev?.ok ? JAIL_OPT_OUT.filter((k) => ev.values[k.toLowerCase()] !== "no") : [];
      const primary = f.groups.find((g) => g.gid === u.gid)?.name ?? String(u.gid);
      return {
        name,
        group: primary,
        extraGroups: f.groups.filter((g) => g.gid !== u.gid && g.members.includes(name)).map((g) => g.name),
        home: u.home,
        // Compared by what the paths resolve to (/sbin/nologin on merged /usr is the host's nologin).
        ...(f.nologin && sameShell(u.shell, f.nologin, f) ? {} : { shell: u.shell }),
        keysDir: DEFAULT_KEYS_DIR,
        ...(f.files[own] === undefined && f.files[home] !== undefined ? { authorizedKeysFile: home } : {}),
        keyOnly: f.shadow[name] === "*",
        ...(jailOptOut.length ? { jailOptOut } : {}),
        uidActual: u.uid,
        defaultShell: f.nologin ?? "",
        adopted: true,
        connection,
      };
    }
    case "SshdMatchBlock": {
      const m = /^(\/[^#]+)#Match (.+)$/.exec(id);
      if (!m) throw bad(type, id, "<file>#Match <criteria>, e.g. /etc/ssh/sshd_config#Match Group sftp");
      const [, file, criteria] = m;
      const match = parseCriteria(criteria) as MatchCriteria & Record<string, unknown>;
      const s = sessionFor(connection, `SshdMatchBlock "${id}"`);
      const facts = await observe(s);
      const text = file === MAIN_CONFIG ? facts.sshd.main?.content : facts.sshd.dropins.find((d) => d.path === file)?.content;
      const found = text === undefined ? [] : blocksFor(text, match);
      if (found.length !== 1) {
        throw new SftpJailError({ host: s.target, resource: `SshdMatchBlock "${id}"` }, `found ${found.length} "Match ${criteria}" blocks in ${file}`, "name the file and the criteria exactly as the Match line has them");
      }
      const b = found[0];
      const subsystem = (facts.sshd.effective.subsystem ?? []).some((v) => /^sftp\s+internal-sftp(\s|$)/.test(v));
      const label = Object.entries(match).map(([k, v]) => `${k}-${Array.isArray(v) ? v.join("-") : v}`).join("-").toLowerCase();
      return {
        name: label.replace(/[^a-z0-9_-]/g, "-").slice(0, 64),
        order: 50,
        match: b.match,
        directives: b.directives,
        subsystemInternalSftp: subsystem,
        path: file,
        content: b.text,
        inPlace: { file, original: b.text, written: b.text },
        connection,
      };
    }
    case "FirewallRule": {
      const parsed = parseFirewallId(id);
      if (typeof parsed === "string") throw bad(type, id, FIREWALL_IMPORT_ID, parsed);
      const resource = `FirewallRule ${JSON.stringify(id)}`;
      const s = sessionFor(connection, resource);
      const facts = await observe(s);
      let f;
      try {
        f = importedRule(parsed, facts, urn.split("::").pop() ?? "");
      } catch (e) {
        if (e instanceof PlanError) throw new SftpJailError({ host: s.target, resource }, e.what, e.fix);
        throw e;
      }
      return { ...adoptedState(f, connection, facts, parsed.backend) };
    }
    default:
      throw new SftpJailError({ resource: `${type} ${JSON.stringify(id)}` }, `${type} cannot be imported`);
  }
}
