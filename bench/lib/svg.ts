import { METRICS, type ScenarioResult } from './results.ts';
import { PEER_LABELS, type PeerName } from './servers.ts';

/**
 * A small hand-written SVG: one row per scenario, one panel per key metric, bars grouped by step
 * (rate), one colour per peer.
 */

const CHARTS: Record<string, string[]> = {
  fanout: ['deliveriesPerCpuSec', 'p99Ms'],
  smallrooms: ['deliveriesPerCpuSec', 'p99Ms'],
  ramp: ['connectsPerSec', 'kibPerConnection'],
  cluster: ['deliveriesPerCpuSec', 'crossP99Ms'],
};

const COLORS: Record<PeerName, string> = { flametalk: '#e4572e', uws: '#4c72b0', socketio: '#55a868' };
/** A second run of a peer (`memory` storage, the `1 node` reference) in a lighter shade; its name is in latest.md. */
const VARIANT_COLORS: Record<PeerName, string> = { flametalk: '#f2a48f', uws: '#a6b9d8', socketio: '#aad4b4' };
const PANEL_W = 460;
const PANEL_H = 230;
const TITLE_H = 34;
const PAD = { left: 56, right: 12, top: 34, bottom: 40 };

const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function short(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(abs >= 1e4 ? 0 : 1)}k`;
  if (abs >= 10 || value === 0) return value.toFixed(0);
  return value.toFixed(abs >= 1 ? 1 : 2);
}

/** Linear axis: four or five gridline steps of 1, 2 or 5 × 10^k. */
function linearTicks(max: number): number[] {
  const raw = Math.max(max, 1e-9) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw)!;
  return Array.from({ length: Math.ceil(max / step) + 1 }, (_, i) => i * step);
}

/** Log axis (latencies span milliseconds to seconds): one gridline per power of ten. */
function logTicks(min: number, max: number): number[] {
  const low = Math.floor(Math.log10(Math.max(min, 0.01)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(max, 0.01))));
  return Array.from({ length: high - low + 1 }, (_, i) => 10 ** (low + i));
}

function panel(result: ScenarioResult, metric: string, x0: number, y0: number): string {
  const info = METRICS[metric] ?? { label: metric };
  const peers = result.peers.filter((p) => p.steps.length > 0);
  const steps = [...new Set(peers.flatMap((p) => p.steps.map((s) => s.label)))];
  const values = peers.flatMap((p) => p.steps.map((s) => s.metrics[metric] ?? 0));
  const w = PANEL_W - PAD.left - PAD.right;
  const h = PANEL_H - PAD.top - PAD.bottom;
  const log = metric.endsWith('Ms');
  const ticks = log ? logTicks(Math.min(...values.filter((v) => v > 0)), Math.max(...values)) : linearTicks(Math.max(0, ...values));
  const bottom = ticks[0]!;
  const top = ticks[ticks.length - 1]!;
  /** Height of a bar of `value`, pixels. */
  const scale = (value: number): number => (log
    ? (h * (Math.log10(Math.max(value, bottom)) - Math.log10(bottom))) / (Math.log10(top) - Math.log10(bottom))
    : (h * value) / top);
  const out: string[] = [`<g transform="translate(${x0},${y0})">`];
  const hint = `${info.better ? ` (${info.better} is better)` : ''}${log ? ', log scale' : ''}`;
  out.push(`<text x="${PAD.left}" y="18" class="t">${esc(info.label)}${hint}</text>`);
  for (const tick of ticks) {
    const y = PAD.top + h - scale(tick);
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + w}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="g"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${(y + 4).toFixed(1)}" class="a" text-anchor="end">${short(tick)}</text>`);
  }
  const groupW = w / Math.max(1, steps.length);
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, peers.length));
  steps.forEach((label, s) => {
    const gx = PAD.left + s * groupW + (groupW - barW * peers.length) / 2;
    peers.forEach((peer, p) => {
      const value = peer.steps.find((st) => st.label === label)?.metrics[metric];
      if (value === undefined) return;
      const bh = scale(value);
      const x = gx + p * barW;
      out.push(`<rect x="${x.toFixed(1)}" y="${(PAD.top + h - bh).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${(peer.variant ? VARIANT_COLORS : COLORS)[peer.peer]}"/>`);
      out.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(PAD.top + h - bh - 3).toFixed(1)}" class="v" text-anchor="middle">${short(value)}</text>`);
    });
    out.push(`<text x="${(PAD.left + s * groupW + groupW / 2).toFixed(1)}" y="${PAD.top + h + 16}" class="a" text-anchor="middle">${esc(label.replace(/ \(.*\)$/, ''))}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

export function renderSvg(results: ScenarioResult[]): string {
  // A search run has probes, not steps: its numbers are in latest.md only.
  const rows = results.filter((r) => CHARTS[r.scenario] && r.peers.some((p) => p.steps.length > 0));
  const width = PANEL_W * 2;
  const legendH = 30;
  const height = legendH + rows.length * (TITLE_H + PANEL_H);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.t{font-size:13px;font-weight:600}.h{font-size:15px;font-weight:700}.a{font-size:11px;fill:#555}.v{font-size:10px;fill:#222}.g{stroke:#ddd}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  (Object.keys(COLORS) as PeerName[]).forEach((peer, i) => {
    out.push(`<rect x="${16 + i * 130}" y="10" width="12" height="12" fill="${COLORS[peer]}"/><text x="${32 + i * 130}" y="20" class="a">${PEER_LABELS[peer]}</text>`);
  });
  out.push(`<text x="${16 + 3 * 130}" y="20" class="a">lighter: a second run of the peer (storage or one-node reference, see latest.md)</text>`);
  rows.forEach((result, r) => {
    const y = legendH + r * (TITLE_H + PANEL_H);
    out.push(`<text x="16" y="${y + 22}" class="h">${esc(result.section ?? result.scenario)} — ${esc(result.startedAt.slice(0, 16).replace('T', ' '))}</text>`);
    CHARTS[result.scenario]!.forEach((metric, i) => out.push(panel(result, metric, i * PANEL_W, y + TITLE_H)));
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
