'use strict';
// ajv side of evbridge's validation benchmark (docs/benchmarks.md, "Validation").
//
// Reads the directory written by `validate_bench --dump DIR` (manifest.json, the std model
// schemas and the payloads, byte for byte the ones the C program measures) and runs the same
// three stages for the same time, on one thread:
//   parse           JSON.parse(text)
//   validate        the compiled ajv validator on a pre-parsed value
//   parse_validate  validate(JSON.parse(text))
// Schemas are compiled with Ajv2020 (they are 2020-12) in annotation mode for "format"
// (validateFormats: false, as evbridge's default) and stop at the first error (allErrors:
// false, as validate_bench's limit 1). Each stage warms up, then runs ten slices of batches
// (about a millisecond each) timed with process.hrtime.bigint(); the figure is the median
// slice rate. Every call's outcome is checked. Garbage collection of parsed values falls
// inside the measured time, as freeing does in C.
//
// usage: node bench.js --dir DIR [--seconds S] [--case NAME]...
//        prints the figures as JSON on stdout; --case keeps only the named payloads

const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020');

function parseArgs(argv) {
  const opt = { dir: null, seconds: 2, cases: [] };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--dir' && i + 1 < argv.length) opt.dir = argv[++i];
    else if (argv[i] === '--case' && i + 1 < argv.length) opt.cases.push(argv[++i]);
    else if (argv[i] === '--seconds' && i + 1 < argv.length) opt.seconds = Number(argv[++i]);
    else throw new Error(`usage: node bench.js --dir DIR [--seconds S] (bad argument ${argv[i]})`);
  }
  if (!opt.dir) throw new Error('usage: node bench.js --dir DIR [--seconds S]');
  if (!(opt.seconds > 0 && opt.seconds <= 3600)) throw new Error('--seconds wants (0, 3600]');
  return opt;
}

const now = () => process.hrtime.bigint();

// Runs batches until `span` nanoseconds have passed; returns [ops, nanoseconds].
function runFor(op, batch, span) {
  let ops = 0;
  const start = now();
  let t;
  do {
    for (let i = 0; i < batch; i++) op();
    ops += batch;
    t = now();
  } while (t - start < span);
  return [ops, t - start];
}

// Warm up for a tenth of the time (at most 0.5 s) while growing the batch until one lasts
// about a millisecond, then measure SLICES slices of seconds / SLICES; the figure is the
// median slice rate, as in validate_bench.
const SLICES = 10;
function measure(op, seconds) {
  let batch = 1;
  const warm = BigInt(Math.round(Math.min(seconds / 10, 0.5) * 1e9));
  const t0 = now();
  let t = t0;
  while (t - t0 < warm) {
    const b0 = t;
    for (let i = 0; i < batch; i++) op();
    t = now();
    if (t - b0 < 1000000n && batch < 2 ** 30) batch *= 2;
  }
  const span = BigInt(Math.round((seconds / SLICES) * 1e9));
  const rates = [];
  let ops = 0;
  let ns = 0n;
  for (let i = 0; i < SLICES; i++) {
    const [n, d] = runFor(op, batch, span);
    rates.push(n / (Number(d) / 1e9));
    ops += n;
    ns += d;
  }
  rates.sort((a, b) => a - b);
  const median = (rates[(SLICES - 1) >> 1] + rates[SLICES >> 1]) / 2;
  return { ops, secs: Number(ns) / 1e9, ops_per_s: median, us_per_op: 1e6 / median };
}

function main() {
  const opt = parseArgs(process.argv);
  const manifest = JSON.parse(fs.readFileSync(path.join(opt.dir, 'manifest.json'), 'utf8'));
  const compiled = new Map(); // subject -> validator (one Ajv per schema: each has its own $id)
  const out = {
    tool: 'ajv',
    version: require('ajv/package.json').version,
    node: process.version,
    seconds: opt.seconds,
    cases: [],
  };
  let sink = 0;
  for (const name of opt.cases)
    if (!manifest.cases.some((c) => c.name === name)) throw new Error(`unknown case ${name}`);
  for (const c of manifest.cases) {
    if (opt.cases.length && !opt.cases.includes(c.name)) continue;
    if (!compiled.has(c.subject)) {
      const ajv = new Ajv2020({ validateFormats: false, allErrors: false, strict: true });
      const schema = JSON.parse(fs.readFileSync(path.join(opt.dir, c.schema), 'utf8'));
      compiled.set(c.subject, ajv.compile(schema));
    }
    const validate = compiled.get(c.subject);
    const text = fs.readFileSync(path.join(opt.dir, c.payload), 'utf8');
    const value = JSON.parse(text);
    const expect = c.valid;
    if (validate(value) !== expect)
      throw new Error(`${c.name}: ajv says ${!expect}, validate_bench says ${expect}: ` +
                      JSON.stringify(validate.errors));
    const check = (ok) => {
      if (ok !== expect) throw new Error(`${c.name}: outcome changed`);
    };
    const r = { name: c.name, subject: c.subject, bytes: Buffer.byteLength(text), valid: expect };
    r.parse = measure(() => { sink += Object.keys(JSON.parse(text)).length; }, opt.seconds);
    r.validate = measure(() => check(validate(value)), opt.seconds);
    r.parse_validate = measure(() => check(validate(JSON.parse(text))), opt.seconds);
    out.cases.push(r);
    process.stderr.write(`ajv: ${c.name} done\n`);
  }
  if (sink < 0) console.error(sink); // keeps the parse results observable
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}

try {
  main();
} catch (e) {
  process.stderr.write(`ajv bench: ${e.message}\n`);
  process.exit(1);
}
