// Hand-written SVG: median seconds per scenario, one bar per tool, side by side, value on each bar; a run-to-run
// range (min–max) whisker when a scenario has more than one sample. No dependencies.
"use strict";

const COLORS = { ours: "#2f6fdf", ansible: "#d9534f", pyinfra: "#f0a020" };
const LABELS = { ours: "sftp-jail (pulumi)", ansible: "Ansible", pyinfra: "pyinfra" };

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * groups: [{ title, subtitle?, bars: [{ tool, median, min, max, n, note? }] }]
 */
function chart(groups, { title, footer = [] } = {}) {
  const tools = ["ours", "ansible", "pyinfra"];
  const barW = 34;
  const gap = 8;
  const groupW = tools.length * (barW + gap) + 56;
  const left = 64;
  const top = 64;
  const plotH = 300;
  const width = left + groups.length * groupW + 24;
  const noteLines = Math.max(0, ...groups.map((g) => (g.notes ?? []).length));
  const height = top + plotH + 70 + noteLines * 14 + footer.length * 16 + 20;
  const max = Math.max(1, ...groups.flatMap((g) => g.bars.map((b) => b.max ?? b.median ?? 0)));
  const step = niceStep(max / 5);
  const yMax = Math.ceil(max / step) * step;
  const y = (v) => top + plotH - (v / yMax) * plotH;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${left}" y="22" font-size="16" font-weight="bold">${esc(title ?? "")}</text>`);
  // legend
  tools.forEach((t, i) => {
    const lx = left + i * 170;
    out.push(`<rect x="${lx}" y="34" width="12" height="12" fill="${COLORS[t]}"/><text x="${lx + 17}" y="45">${esc(LABELS[t])}</text>`);
  });
  // axis + grid
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${left}" x2="${width - 16}" y1="${yy}" y2="${yy}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 6}" y="${(+yy + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(v)}</text>`);
  }
  out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">seconds (median)</text>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#888"/>`);
  out.push(`<line x1="${left}" x2="${width - 16}" y1="${top + plotH}" y2="${top + plotH}" stroke="#888"/>`);
  groups.forEach((g, gi) => {
    const gx = left + 18 + gi * groupW;
    tools.forEach((t, ti) => {
      const b = g.bars.find((x) => x.tool === t);
      const bx = gx + ti * (barW + gap);
      if (!b || b.median == null) {
        out.push(`<text x="${bx + barW / 2}" y="${top + plotH - 6}" text-anchor="middle" fill="#999" font-size="10">n/a</text>`);
        return;
      }
      const yy = y(b.median);
      out.push(`<rect x="${bx}" y="${yy.toFixed(1)}" width="${barW}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[t]}"><title>${esc(LABELS[t])}: median ${fmt(b.median)} s over ${b.n} run(s)</title></rect>`);
      if (b.n > 1 && b.max > b.min) {
        const cx = bx + barW / 2;
        out.push(`<line x1="${cx}" x2="${cx}" y1="${y(b.max).toFixed(1)}" y2="${y(b.min).toFixed(1)}" stroke="#222" stroke-width="1"/>`);
        for (const v of [b.min, b.max]) out.push(`<line x1="${cx - 5}" x2="${cx + 5}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#222"/>`);
      }
      out.push(`<text x="${bx + barW / 2}" y="${(Math.min(yy, b.n > 1 ? y(b.max) : yy) - 5).toFixed(1)}" text-anchor="middle" font-size="11">${fmt(b.median)}</text>`);
    });
    const cx = gx + (tools.length * (barW + gap) - gap) / 2;
    out.push(`<text x="${cx}" y="${top + plotH + 20}" text-anchor="middle" font-weight="bold">${esc(g.title)}</text>`);
    if (g.subtitle) out.push(`<text x="${cx}" y="${top + plotH + 36}" text-anchor="middle" fill="#555" font-size="11">${esc(g.subtitle)}</text>`);
    (g.notes ?? []).forEach((n, i) => out.push(`<text x="${cx}" y="${top + plotH + 52 + i * 14}" text-anchor="middle" fill="#333" font-size="10">${esc(n)}</text>`));
  });
  footer.forEach((line, i) => out.push(`<text x="${left}" y="${top + plotH + 66 + noteLines * 14 + i * 16}" fill="#444" font-size="11">${esc(line)}</text>`));
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmt(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

module.exports = { chart };
