'use strict';
// Combines validate_bench --json and bench.js outputs into the Markdown table of
// docs/benchmarks.md ("Validation"). Files may hold any subset of the payloads and the same
// payload may come several times (rounds): each figure is the best one seen. Ratio =
// evbridge ops/s / ajv ops/s (above 1: evbridge is faster). Fails when the tools disagree on
// the payloads or on an outcome.
//
// usage: node report.js FILE.json...      prints Markdown on stdout

const fs = require('fs');

const STAGES = [
  ['parse', 'parse'],
  ['validate', 'validate'],
  ['parse_validate', 'parse + validate'],
];

const ops = (x) => Math.round(x).toLocaleString('en-US');
const us = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

// Best (highest) figure of each payload and stage over all files of one tool.
function collect(files, tool) {
  const best = new Map();
  for (const f of files) {
    if (f.tool !== tool) continue;
    for (const c of f.cases) {
      const b = best.get(c.name);
      if (!b) {
        best.set(c.name, c);
        continue;
      }
      if (b.bytes !== c.bytes || b.valid !== c.valid) throw new Error(`${c.name}: payload differs`);
      for (const [key] of STAGES) if (c[key].ops_per_s > b[key].ops_per_s) b[key] = c[key];
    }
  }
  return best;
}

function main() {
  const files = process.argv.slice(2).map((p) => JSON.parse(fs.readFileSync(p, 'utf8')));
  if (files.length < 2) throw new Error('usage: node report.js FILE.json... (validate_bench --json and bench.js outputs)');
  const evb = collect(files, 'evbridge');
  const ajv = collect(files, 'ajv');
  const rows = [
    '| payload | bytes | stage | evbridge ops/s | evbridge µs/op | ajv ops/s | ajv µs/op | evbridge / ajv |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const e of evb.values()) {
    const a = ajv.get(e.name);
    if (!a || a.bytes !== e.bytes || a.valid !== e.valid)
      throw new Error(`${e.name}: the two tools did not measure the same payload`);
    STAGES.forEach(([key, label], i) => {
      const x = e[key];
      const y = a[key];
      const name = i === 0 ? e.name : '';
      const bytes = i === 0 ? String(e.bytes) : '';
      rows.push(`| ${name} | ${bytes} | ${label} | ${ops(x.ops_per_s)} | ${us(x.us_per_op)} | ` +
                `${ops(y.ops_per_s)} | ${us(y.us_per_op)} | ${(x.ops_per_s / y.ops_per_s).toFixed(2)}× |`);
    });
  }
  if (evb.size === 0 || ajv.size !== evb.size) throw new Error('the tools measured different payloads');
  process.stdout.write(rows.join('\n') + '\n');
}

try {
  main();
} catch (e) {
  process.stderr.write(`report: ${e.message}\n`);
  process.exit(1);
}
