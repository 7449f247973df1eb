'use strict';
// Shared set-up of the examples: command-line options, and the evbridge EventService
// client loaded at run time from the .proto files with @grpc/proto-loader (no code
// generation step).

const path = require('node:path');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// The public contract, in this repository's proto/ (copy it next to your code otherwise).
const PROTO_DIR = process.env.EVB_PROTO_DIR || path.join(__dirname, '..', '..', '..', 'proto');

function options(usage, spec) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      addr: { type: 'string', default: process.env.EVB_ADDR || '127.0.0.1:50051' },
      key: { type: 'string', default: process.env.EVB_API_KEY },
      help: { type: 'boolean', short: 'h' },
      ...spec,
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  if (!values.key) {
    process.stderr.write('no API key: give --key or set EVB_API_KEY\n' + usage);
    process.exit(1);
  }
  return { values, positionals };
}

function eventService(addr) {
  const def = protoLoader.loadSync('evbridge/v1/events.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,   // field names as in the .proto (event_id, delivery_ids, ...)
    enums: String,    // status: 'PUBLISHED', not 1
    longs: String,
    defaults: true,
    oneofs: true,     // event.data tells which of text_data / binary_data is set
  });
  const { EventService } = grpc.loadPackageDefinition(def).evbridge.v1;
  return new EventService(addr, grpc.credentials.createInsecure()); // createSsl() for TLS
}

function auth(key) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key}`);
  return md;
}

// 16 -> 'UNAUTHENTICATED'
function statusName(code) {
  return Object.keys(grpc.status).find((k) => grpc.status[k] === code) || String(code);
}

module.exports = { grpc, options, eventService, auth, statusName };
