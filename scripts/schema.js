#!/usr/bin/env node
// Writes the provider plugin's package schema, provider/plugin/schema.json, from the zod schemas (types, defaults,
// required fields) and the TSDoc of the TypeScript API (descriptions), so the schema has no second source of truth.
// `--check` fails when the checked-in file is out of date (CI runs it through test/unit/pluginSchema.test.ts).
// Run after scripts/build.js (bash scripts/env.sh node scripts/schema.js).
"use strict";
const fs = require("fs");
const path = require("path");
const ts = require("typescript");

const root = path.resolve(__dirname, "..");
const out = path.join(root, "provider", "plugin", "schema.json");

/** Interface (and class) docs: { Name: { $: the declaration's doc, prop: the property's doc } }. */
function docsOf(files) {
  const docs = {};
  // The raw comment text: TS's own JSDoc parser would cut "@pulumi/command" short as if it were a tag.
  const text = (node) =>
    (node.jsDoc ?? [])
      .map((d) => d.getText().replace(/^\/\*\*|\*\/$/g, "").split("\n").map((l) => l.replace(/^\s*\* ?/, "").trim()).join(" ").trim())
      .join(" ")
      .replace(/\s+/g, " ")
      .trim();
  for (const f of files) {
    const src = ts.createSourceFile(f, fs.readFileSync(f, "utf8"), ts.ScriptTarget.ES2022, true);
    const visit = (node) => {
      // The zod shapes (`export const fooShape = { /** doc */ field: ... }`, or `z.strictObject({ ... })`): the field
      // docs live there, next to the validators; the Args interfaces derived from them have none of their own.
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
        // The shape itself, or the object given to z.strictObject/object/looseObject somewhere in a method chain.
        const find = (n) =>
          ts.isObjectLiteralExpression(n)
            ? n
            : ts.isCallExpression(n) && /Object$/.test(n.expression.getText(src)) && n.arguments[0] && ts.isObjectLiteralExpression(n.arguments[0])
              ? n.arguments[0]
              : ts.isCallExpression(n) || ts.isPropertyAccessExpression(n)
                ? find(n.expression)
                : undefined;
        const init = find(node.initializer);
        if (init) {
          const d = (docs[node.name.text] ??= {});
          for (const m of init.properties) if (ts.isPropertyAssignment(m) && text(m)) d[m.name.getText(src)] = text(m).replace(/\{@link ([^}]+)\}/g, "$1");
        }
      }
      // Type literals of type aliases (ResourceArgs: the `connection` every resource takes).
      if (ts.isTypeAliasDeclaration(node)) {
        const d = (docs[node.name.text] ??= {});
        const lits = [];
        const collect = (t) => (ts.isTypeLiteralNode(t) ? lits.push(t) : ts.forEachChild(t, collect));
        collect(node.type);
        for (const l of lits) for (const m of l.members) if (ts.isPropertySignature(m) && text(m)) d[m.name.getText(src)] = text(m);
      }
      if ((ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) && node.name) {
        const d = (docs[node.name.text] ??= {});
        if (text(node)) d.$ = text(node).replace(/\{@link ([^}]+)\}/g, "$1");
        for (const m of node.members) {
          if ((ts.isPropertySignature(m) || ts.isPropertyDeclaration(m)) && m.name && text(m)) {
            d[m.name.getText(src)] = text(m).replace(/\{@link ([^}]+)\}/g, "$1");
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return docs;
}

/** TypeScript interface -> the zod shape(s) it is derived from (see provider/schema/inputs.ts). */
const DERIVED = {
  ConnectionArgs: ["connectionBaseShape", "connectionSchema"],
  ProxyConnectionArgs: ["connectionBaseShape", "proxySchema"],
  SftpGroupArgs: "sftpGroupShape",
  JailedUserArgs: "jailedUserShape",
  ChrootDirArgs: "chrootDirShape",
  ChrootSubdir: "chrootSubdirShape",
  SshdMatchBlockArgs: "sshdMatchBlockShape",
  SshdMatchCriteria: "matchSchema",
  FirewallRuleArgs: "firewallRuleShape",
  SftpJailHostArgs: "jailShape",
  SftpJailUser: "jailUserShape",
  SftpJailDir: "jailDirShape",
  SftpJailFirewall: ["firewallRuleShape", "jailFirewallShape"],
};

function render() {
  const dir = (d) => fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith(".ts")).map((f) => path.join(root, d, f));
  const docs = docsOf([...dir("provider/resources"), ...dir("provider/components"), ...dir("provider/schema"), ...dir("provider/connection")]);
  // Each TypeScript interface derived from a shape documents its fields with the shape's docs (its own win).
  for (const [iface, shapes] of Object.entries(DERIVED)) {
    const from = [shapes].flat().map((s) => docs[s]);
    docs[iface] = { ...docs.ResourceArgs, ...Object.assign({}, ...from), ...docs[iface] };
  }
  const { buildSchema, finish } = require(path.join(root, "bin", "provider", "plugin", "schema.js"));
  const version = require(path.join(root, "package.json")).version;
  return JSON.stringify(finish(buildSchema(docs, version)), null, 2) + "\n";
}

if (require.main === module) {
  const want = render();
  if (process.argv.includes("--check")) {
    const have = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "";
    if (have !== want) {
      console.error("provider/plugin/schema.json is out of date: run `bash scripts/env.sh node scripts/schema.js`");
      process.exit(1);
    }
  } else {
    fs.writeFileSync(out, want);
    console.error(`wrote ${path.relative(root, out)}`);
  }
}
module.exports = { render };
