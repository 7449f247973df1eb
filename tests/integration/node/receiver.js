'use strict';
// A real HTTP receiver for delivery tests: http.createServer on 127.0.0.1:0 that records
// every request (raw body bytes, headers, arrival time) and answers from a script.
//
//   const r = await new Receiver('hook').start();
//   r.respond({ status: 500 }, { status: 500 });        // the next two requests; then 200
//   r.respond({ status: 429, headers: { 'Retry-After': '1' } });
//   r.respond({ status: 200, delayMs: 3000 });          // answer late (a slow/hanging target)
//   await r.waitForRequests(3, 10000);
//   const ev = parseCloudEvent(r.requests[0]);          // npm cloudevents SDK, validated
//   verifyWebhook(r.requests[0], secret);               // npm standardwebhooks + our own HMAC
//
// CloudEvents HTTP binding percent-encoding helpers are here too (ceEncode / ceDecode).

const crypto = require('node:crypto');
const { HTTP } = require('cloudevents');
const { Webhook } = require('standardwebhooks');
const { RecordingServer } = require('./recorder');

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Scripted answers (respond(...specs), then defaultResponse) are each
// { status, headers, body, delayMs } or a function (record) -> such an object.
class Receiver extends RecordingServer {
  constructor(name = 'receiver') {
    super('receiver', name);
    this.defaultResponse = { status: 200, body: 'ok' };
  }

  url(pathAndQuery = '/hook') {
    return `http://127.0.0.1:${this.port}${pathAndQuery}`;
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const record = {
        n: this.requests.length + 1,
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
        t: Date.now(),
        status: null,      // what we answered
        answeredAt: null,
        aborted: false,    // the client went away before our answer
      };
      this.requests.push(record);
      let spec = this.queue.length ? this.queue.shift() : this.defaultResponse;
      if (typeof spec === 'function') spec = spec(record) || this.defaultResponse;
      res.on('close', () => {
        if (!res.writableFinished) record.aborted = true;
      });
      const answer = () => {
        if (res.destroyed || req.socket.destroyed) {
          record.aborted = true;
          return;
        }
        const headers = { 'content-type': 'text/plain', ...(spec.headers || {}) };
        res.writeHead(spec.status || 200, headers);
        res.end(spec.body === undefined ? '' : spec.body);
        record.status = spec.status || 200;
        record.answeredAt = Date.now();
      };
      if (spec.delayMs) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          answer();
        }, spec.delayMs);
        this.timers.add(t);
      } else {
        answer();
      }
      this.notify();
    });
  }

  describe() {
    return this.requests.map((r) => `  #${r.n} t=${r.t} ${r.method} ${r.url} ` +
      `webhook-id=${r.headers['webhook-id']} ce-id=${r.headers['ce-id']} -> ${r.status}` +
      `${r.aborted ? ' (aborted)' : ''}`).join('\n') || '  (no requests)';
  }
}

// The npm cloudevents SDK's reading of a recorded request (binary or structured mode),
// then validate() (throws on a spec violation). Returns the CloudEvent.
// (The SDK, 8.0.x, looks the structured-mode Content-Type up verbatim, so the spec's own
// `application/cloudevents+json; charset=UTF-8` is "invalid content type" to it; the media
// type without its parameters is what it is given. Tests assert the raw header themselves.)
function parseCloudEvent(record) {
  const headers = { ...record.headers };
  const ct = headers['content-type'];
  if (ct && /^application\/cloudevents\+json\s*(;|$)/i.test(ct)) {
    headers['content-type'] = 'application/cloudevents+json';
  }
  const ev = HTTP.toEvent({ headers, body: record.body.toString('utf8') });
  if (Array.isArray(ev)) throw new Error(`expected one CloudEvent, got a batch of ${ev.length}`);
  ev.validate();
  return ev;
}

// Standard Webhooks verification of a recorded request with the npm standardwebhooks
// package, plus an independent HMAC over the raw body bytes (node:crypto), so a body that is
// not valid UTF-8 cannot hide a signing bug. Throws with a reason on failure.
function verifyWebhook(record, secret) {
  const h = record.headers;
  const id = h['webhook-id'];
  const ts = h['webhook-timestamp'];
  const sig = h['webhook-signature'];
  if (!id || !ts || !sig) {
    throw new Error(`missing Standard Webhooks headers: webhook-id=${id} ` +
      `webhook-timestamp=${ts} webhook-signature=${sig}`);
  }
  // the package's own check (±5 minutes, v1 signature list)
  new Webhook(secret).verify(record.body.toString('utf8'),
    { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig },
    { jsonParse: false });
  // ours, over the raw bytes
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = crypto.createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${id}.${ts}.`), record.body])).digest('base64');
  const listed = sig.split(' ').filter((s) => s.startsWith('v1,')).map((s) => s.slice(3));
  if (!listed.includes(mac)) {
    throw new Error(`no v1 signature over the raw body matches: got ${sig}, expected v1,${mac}`);
  }
  return { id, timestamp: Number(ts) };
}

// CloudEvents HTTP binding header encoding: percent-encode space, '"', '%' and every byte
// of the UTF-8 encoding outside U+0021..U+007E, with upper-case hex.
function ceEncode(s) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b > 0x20 && b < 0x7f && b !== 0x22 && b !== 0x25) out += String.fromCharCode(b);
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function ceDecode(s) {
  return decodeURIComponent(s);
}

module.exports = {
  Receiver, parseCloudEvent, verifyWebhook, ceEncode, ceDecode, sleep,
};
