#!/usr/bin/env node
'use strict';
// Receive the events of a STREAM connection over EventService.Subscribe and ack them.
//
//   npm ci                                              # once
//   export EVB_ADDR=127.0.0.1:50051 EVB_API_KEY=evb_... # a subscriber key of the org
//   node subscribe.js --connection 01J... --count 10
//
// Prints each event as one JSON line, {"delivery_id", "attempt", "event"} with the event
// in the CloudEvents JSON format, then acks it. An event not acked within the ack deadline
// (or whose subscriber goes away) is delivered again with the same delivery_id. Runs until
// --count events (or Ctrl-C, or --timeout seconds); then it sends the last ack and
// half-closes the stream.

const { grpc, options, eventService, auth, statusName } = require('./client');

const USAGE = 'usage: node subscribe.js -c CONNECTION_ID [-n COUNT] [--max-in-flight N] ' +
  '[--ack-deadline-ms MS] [--timeout S] [--addr HOST:PORT] [--key KEY]\n';

// io.cloudevents.v1.CloudEvent (protobuf, as proto-loader decodes it) -> CloudEvents JSON.
function cloudEventJson(ce) {
  const out = { specversion: ce.spec_version, id: ce.id, source: ce.source, type: ce.type };
  for (const [name, v] of Object.entries(ce.attributes)) {
    if (v.attr === 'ce_timestamp') {
      const ms = Number(v.ce_timestamp.seconds) * 1000 + Math.floor(v.ce_timestamp.nanos / 1e6);
      out[name] = new Date(ms).toISOString();
    } else if (v.attr === 'ce_bytes') {
      out[name] = v.ce_bytes.toString('base64');
    } else {
      out[name] = v[v.attr];
    }
  }
  if (ce.data === 'text_data') {
    const ctype = out.datacontenttype || 'application/json';
    const isJson = ctype.startsWith('application/json') || ctype.includes('+json');
    out.data = isJson ? JSON.parse(ce.text_data) : ce.text_data;
  } else if (ce.data === 'binary_data') {
    out.data_base64 = ce.binary_data.toString('base64');
  }
  return out;
}

function main() {
  const { values } = options(USAGE, {
    connection: { type: 'string', short: 'c' },
    count: { type: 'string', short: 'n', default: '0' },
    'max-in-flight': { type: 'string', default: '16' },
    'ack-deadline-ms': { type: 'string', default: '30000' },
    timeout: { type: 'string' },
  });
  if (!values.connection) {
    process.stderr.write(USAGE);
    process.exit(1);
  }
  const count = Number(values.count);
  const client = eventService(values.addr);
  const callOptions = values.timeout ? { deadline: Date.now() + 1000 * Number(values.timeout) } : {};
  const call = client.Subscribe(auth(values.key), callOptions);

  let received = 0;
  call.write({
    start: {
      connection_id: values.connection,
      max_in_flight: Number(values['max-in-flight']),
      ack_deadline_ms: Number(values['ack-deadline-ms']),
    },
  });
  call.on('data', (delivery) => {
    if (count && received >= count) return; // after half-close: not acked, delivered again later
    console.log(JSON.stringify({
      delivery_id: delivery.delivery_id,
      attempt: delivery.attempt,
      event: cloudEventJson(delivery.event),
    }));
    // Process the event, then ack it (one id per ack here; acks may carry many).
    call.write({ ack: { delivery_ids: [delivery.delivery_id] } });
    received++;
    if (count && received >= count) call.end(); // half-close; the server then ends the stream
  });
  call.on('error', (err) => {
    if (err.code !== grpc.status.CANCELLED) {
      process.stderr.write(`subscribe failed: ${statusName(err.code)}: ${err.details}\n`);
      process.exitCode = 1;
    }
  });
  call.on('end', () => {
    process.stderr.write(`received and acked ${received} events\n`);
    client.close();
  });
  process.once('SIGINT', () => { call.end(); call.cancel(); });
}

main();
