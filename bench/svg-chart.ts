/** Two small SVG charts for bench summaries: readable at a glance, no dependency. */

const W = 640;
const H = 300;
const PAD = { left: 60, right: 20, top: 36, bottom: 70 };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

function frame(title: string, max: number, body: string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = PAD.top + (1 - f) * (H - PAD.top - PAD.bottom);
    return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${+(max * f).toPrecision(3)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    ...ticks,
    body,
    '</svg>',
    '',
  ].join('\n');
}

/** A label in lines of at most 14 characters, split at spaces. */
function lines(label: string): string[] {
  const out: string[] = [];
  for (const word of label.split(' ')) {
    if (out.length && (out[out.length - 1] + ' ' + word).length <= 14) out[out.length - 1] += ` ${word}`;
    else out.push(word);
  }
  return out;
}

export function barChart(title: string, bars: Array<{ label: string; value: number }>): string {
  const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))) * 1.1;
  const slot = (W - PAD.left - PAD.right) / bars.length;
  const plotH = H - PAD.top - PAD.bottom;
  const body = bars.map((b, i) => {
    const h = (Number.isFinite(b.value) ? b.value / max : 0) * plotH;
    const x = PAD.left + i * slot + slot * 0.15;
    const y = PAD.top + plotH - h;
    return `<rect x="${x}" y="${y}" width="${slot * 0.7}" height="${h}" fill="${COLOURS[0]}"/>` +
      `<text x="${x + slot * 0.35}" y="${y - 4}" text-anchor="middle" font-size="11">${b.value}</text>` +
      lines(b.label).map((l, j) => `<text x="${x + slot * 0.35}" y="${H - PAD.bottom + 16 + 13 * j}" text-anchor="middle" font-size="11">${esc(l)}</text>`).join('');
  });
  return frame(title, max, body.join('\n'));
}

export function lineChart(title: string, xs: number[], series: Record<string, number[]>): string {
  const max = Math.max(1, ...Object.values(series).flat()) * 1.1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  // x on a log scale: ticket counts span 1,000 to 50,000.
  const lx = xs.map((x) => Math.log10(Math.max(1, x)));
  const [x0, x1] = [Math.min(...lx), Math.max(...lx)];
  const px = (i: number) => PAD.left + (x1 === x0 ? plotW / 2 : ((lx[i] - x0) / (x1 - x0)) * plotW);
  const py = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const body = Object.entries(series).map(([name, ys], s) => {
    const pts = ys.map((y, i) => `${px(i)},${py(y)}`).join(' ');
    const dots = ys.map((y, i) => `<circle cx="${px(i)}" cy="${py(y)}" r="3" fill="${COLOURS[s]}"/><text x="${px(i)}" y="${py(y) - 6}" text-anchor="middle" font-size="10">${y}</text>`).join('');
    return `<polyline points="${pts}" fill="none" stroke="${COLOURS[s]}" stroke-width="2"/>${dots}<text x="${PAD.left + 10 + s * 120}" y="${H - 12}" font-size="12" fill="${COLOURS[s]}">— ${esc(name)}</text>`;
  });
  const xlabels = xs.map((x, i) => `<text x="${px(i)}" y="${H - PAD.bottom + 16}" text-anchor="middle" font-size="11">${x}</text>`);
  return frame(title, max, [...body, ...xlabels].join('\n'));
}
