#!/usr/bin/env node
// Parses a Prometheus text exposition (the file named on the command line) with the npm
// parse-prometheus-text-format parser, independent of our own, and prints the families as
// JSON on stdout: [{name, type, metrics: [{labels, value | buckets, count, sum}]}].
// Exit 1 (message on stderr) when the text does not parse. Used by
// tests/integration/python/test_metrics.py.
'use strict';
const fs = require('node:fs');
const parse = require('parse-prometheus-text-format');

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: check_metrics.js FILE\n');
  process.exit(2);
}
try {
  const families = parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(families) || families.length === 0) throw new Error('no metric families');
  process.stdout.write(JSON.stringify(families));
} catch (e) {
  process.stderr.write(`parse-prometheus-text-format: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
}
