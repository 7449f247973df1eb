#!/usr/bin/env node
'use strict';
// Publish events to an evbridge connector and print the result of every entry.
//
//   npm ci                                              # once
//   export EVB_ADDR=127.0.0.1:50051 EVB_API_KEY=evb_... # an isv key of the connector's ISV
//   node publish.js -c xbongbong-crm events.jsonl       # or JSON lines on stdin
//
// Each line is one PutEventsEntry -- id, org, type, subject, time, datacontenttype,
// extensions -- with the payload under "data" (any JSON value) or "data_base64". Empty
// lines and lines starting with '#' are skipped; --org and --type fill lines that have none.
// Exit 0 when every entry was accepted, 2 when any was rejected, 1 when a call failed.

const fs = require('node:fs');
const { options, eventService, auth, statusName } = require('./client');

const USAGE = 'usage: node publish.js -c CONNECTOR [--org ORG] [--type TYPE] [--addr HOST:PORT] ' +
  '[--key KEY] [FILE]\n';
const MAX_ENTRIES = 100; // PutEvents takes 1..100 entries per call

function readEntries(text, org, type) {
  const entries = [];
  text.split('\n').forEach((line, i) => {
    line = line.trim();
    if (!line || line.startsWith('#')) return;
    const obj = JSON.parse(line);
    let data = Buffer.alloc(0);
    if (obj.data_base64 !== undefined) data = Buffer.from(obj.data_base64, 'base64');
    else if (obj.data !== undefined) data = Buffer.from(JSON.stringify(obj.data));
    entries.push({
      line: i + 1,
      entry: {
        id: obj.id || '', org: obj.org || org, type: obj.type || type,
        subject: obj.subject || '', time: obj.time || '',
        datacontenttype: obj.datacontenttype || '', data,
        extensions: obj.extensions || {},
      },
    });
  });
  return entries;
}

function putEvents(client, request, metadata) {
  return new Promise((resolve, reject) => {
    client.PutEvents(request, metadata, { deadline: Date.now() + 30000 },
      (err, response) => (err ? reject(err) : resolve(response)));
  });
}

async function main() {
  const { values, positionals } = options(USAGE, {
    connector: { type: 'string', short: 'c' },
    org: { type: 'string', default: '' },
    type: { type: 'string', default: '' },
  });
  if (!values.connector) {
    process.stderr.write(USAGE);
    return 1;
  }
  const file = positionals[0] || '-';
  const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  const entries = readEntries(text, values.org, values.type);
  if (entries.length === 0) {
    process.stderr.write('no events to publish\n');
    return 1;
  }

  const client = eventService(values.addr);
  const metadata = auth(values.key);
  let rejected = 0;
  try {
    for (let i = 0; i < entries.length; i += MAX_ENTRIES) {
      const batch = entries.slice(i, i + MAX_ENTRIES);
      let response;
      try {
        response = await putEvents(client, {
          connector: values.connector, entries: batch.map((b) => b.entry),
        }, metadata);
      } catch (err) { // the whole call failed: nothing of it was stored
        process.stderr.write(`publish failed: ${statusName(err.code)}: ${err.details}\n`);
        return 1;
      }
      // one result per entry, in request order; a rejected entry never blocks the others
      response.results.forEach((r, j) => {
        const line = batch[j].line;
        if (r.status === 'REJECTED') {
          rejected++;
          console.log(`line ${line}: REJECTED ${r.error_code}: ${r.error_message}`);
          for (const v of r.violations) {
            console.log(`  ${v.instance_path || '/'}: ${v.message} (${v.keyword_location})`);
          }
        } else {
          console.log(`line ${line}: ${r.status} ${r.event_id}`);
        }
      });
    }
  } finally {
    client.close();
  }
  console.log(`${entries.length - rejected} published or deduplicated, ${rejected} rejected`);
  return rejected ? 2 : 0;
}

main().then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exitCode = 1;
});
