'use strict';
// evbridge integration-test harness (Node, @grpc/grpc-js + @grpc/proto-loader).
//
// Starts a real evbridged on 127.0.0.1 with a temporary data dir, waits for the port file
// and Health/Check SERVING, and gives promise-based helpers for unary and bidi calls.
//
// Environment: EVB_BIN_DIR (default <repo>/build/bin), EVB_PROTO_DIR (default <repo>/proto),
// EVB_READY_TIMEOUT seconds (default 20), EVB_KEEP_TMP=1 keeps temp dirs.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { before, after } = require('node:test');
const assert = require('node:assert/strict');

let grpc;
let protoLoader;
try {
  grpc = require('@grpc/grpc-js');
  protoLoader = require('@grpc/proto-loader');
} catch (e) {
  throw new Error(`cannot load @grpc/grpc-js / @grpc/proto-loader (${e.message}); ` +
    `run "npm ci" in ${__dirname} (or "make test-deps")`);
}

const REPO = path.resolve(__dirname, '..', '..', '..');
const BIN_DIR = process.env.EVB_BIN_DIR || path.join(REPO, 'build', 'bin');
const PROTO_DIR = process.env.EVB_PROTO_DIR || path.join(REPO, 'proto');
const READY_TIMEOUT_MS = 1000 * Number(process.env.EVB_READY_TIMEOUT || 20);
const KEEP_TMP = process.env.EVB_KEEP_TMP === '1';

const PROTO_FILES = [
  'evbridge/v1/common.proto',
  'evbridge/v1/events.proto',
  'evbridge/v1/registry.proto',
  'evbridge/v1/connector.proto',
  'evbridge/v1/admin.proto',
  'io/cloudevents/v1/cloudevents.proto',
  'grpc/health/v1/health.proto',
];

const LOADER_OPTIONS = {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let loaded = null;
function protos() {
  if (!loaded) {
    for (const f of PROTO_FILES) {
      if (!fs.existsSync(path.join(PROTO_DIR, f))) {
        throw new Error(`proto file missing: ${path.join(PROTO_DIR, f)} (EVB_PROTO_DIR)`);
      }
    }
    const def = protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
    loaded = grpc.loadPackageDefinition(def);
  }
  return loaded;
}

const TYPE_CUSTOMER = 'com.example.crm.customer.changed';
const TYPE_PRODUCT = 'com.example.crm.product.changed';
const TYPE_CONTRACT = 'com.example.crm.contract.changed';

let counter = 0;
const runTag = Math.random().toString(36).slice(2, 8);
function unique(prefix) {
  counter += 1;
  return `${prefix}-${runTag}-${counter}`;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls fn() (async, returns a value or undefined/false) until it gives something truthy.
async function until(what, fn, { timeoutMs = 20000, intervalMs = 100, describe } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastErr = null;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const more = describe ? await Promise.resolve(describe()).catch((e) => `${e}`) : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastErr ? `; last error: ${lastErr.code || ''} ${lastErr.details || lastErr.message}` : '') +
        (more ? `\n${more}` : ''));
    }
    await sleep(intervalMs);
  }
}

function serverBinary() {
  const bin = path.join(BIN_DIR, 'evbridged');
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch (e) {
    throw new Error(`evbridged not found or not executable at ${bin} (set EVB_BIN_DIR, or ` +
      'build with `cmake -S . -B build && cmake --build build`)');
  }
  return bin;
}

function metadataFor(key) {
  const md = new grpc.Metadata();
  if (key !== null && key !== undefined) md.set('authorization', `Bearer ${key}`);
  return md;
}

const CHANNEL_OPTIONS = {
  'grpc.max_send_message_length': 32 * 1024 * 1024,
  'grpc.max_receive_message_length': 32 * 1024 * 1024,
};

// A client of every service, bound to one key (null = no authorization metadata).
class Client {
  constructor(target, key) {
    const p = protos();
    const creds = grpc.credentials.createInsecure();
    this.key = key;
    this.events = new p.evbridge.v1.EventService(target, creds, CHANNEL_OPTIONS);
    this.connectors = new p.evbridge.v1.ConnectorService(target, creds, CHANNEL_OPTIONS);
    this.admin = new p.evbridge.v1.AdminService(target, creds, CHANNEL_OPTIONS);
    this.health = new p.grpc.health.v1.Health(target, creds, CHANNEL_OPTIONS);
  }

  // unary(service, method, request[, {key, timeoutMs}]) -> Promise<response>
  unary(service, method, request, opts = {}) {
    const key = Object.prototype.hasOwnProperty.call(opts, 'key') ? opts.key : this.key;
    const deadline = new Date(Date.now() + (opts.timeoutMs || 30000));
    const stub = this[service];
    return new Promise((resolve, reject) => {
      stub[method](request, metadataFor(key), { deadline }, (err, resp) => {
        if (err) reject(err);
        else resolve(resp);
      });
    });
  }

  putEvents(connector, entries, opts = {}) {
    return this.unary('events', 'PutEvents',
      { connector, entries, request_id: opts.requestId || '' }, opts);
  }

  getEvent(eventId, org = '', connector = '', opts = {}) {
    return this.unary('events', 'GetEvent', { event_id: eventId, org, connector }, opts);
  }

  // Sends every request over one PublishStream (honouring back-pressure), half-closes,
  // and resolves with every reply in arrival order.
  publishStream(requests, opts = {}) {
    const key = Object.prototype.hasOwnProperty.call(opts, 'key') ? opts.key : this.key;
    const deadline = new Date(Date.now() + (opts.timeoutMs || 180000));
    return new Promise((resolve, reject) => {
      const call = this.events.PublishStream(metadataFor(key), { deadline });
      const replies = [];
      let failed = false;
      let i = 0;
      call.on('data', (r) => replies.push(r));
      call.on('error', (e) => {
        failed = true;
        e.replies = replies;
        e.message = `${e.message} (after ${replies.length} replies to ${i} sent of ` +
          `${requests.length} requests)`;
        reject(e);
      });
      call.on('end', () => {
        if (!failed) resolve(replies);
      });
      const pump = () => {
        while (i < requests.length) {
          const ok = call.write(requests[i]);
          i += 1;
          if (!ok) {
            call.once('drain', pump);
            return;
          }
        }
        call.end();
      };
      pump();
    });
  }

  close() {
    for (const s of [this.events, this.connectors, this.admin, this.health]) s.close();
  }
}

class Server {
  constructor(extraArgs = [], name = 'node') {
    this.extraArgs = extraArgs;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `evb-integ-${name}-`));
    this.dataDir = path.join(this.root, 'data');
    fs.mkdirSync(this.dataDir, { mode: 0o700 });
    this.portFile = path.join(this.root, 'port');
    this.logPath = path.join(this.root, 'server.log');
    this.proc = null;
    this.exit = null; // { code, signal } once exited
    this.port = null;
  }

  get target() {
    return `127.0.0.1:${this.port}`;
  }

  get adminKeyPath() {
    return path.join(this.dataDir, 'admin.key');
  }

  adminKey() {
    const text = fs.readFileSync(this.adminKeyPath, 'utf8');
    const key = text.trim();
    if (!key || key.includes('\n')) throw new Error(`admin.key is not one line: ${JSON.stringify(text)}`);
    return key;
  }

  logText(limit = 20000) {
    let text = '';
    try {
      text = fs.readFileSync(this.logPath, 'utf8');
    } catch (e) {
      text = `(no log: ${e.message})`;
    }
    if (text.length > limit) text = `...\n${text.slice(-limit)}`;
    return `---- evbridged output (${this.logPath}) ----\n${text}\n---- end ----`;
  }

  async start() {
    const bin = serverBinary();
    fs.rmSync(this.portFile, { force: true });
    const logFd = fs.openSync(this.logPath, 'a');
    // the admin listener (/metrics) on a free port: its default 9464 would collide
    const args = ['--listen', '127.0.0.1:0', '--data-dir', this.dataDir, '--port-file',
      this.portFile, '--log-level', 'warn', '--admin-listen', '127.0.0.1:0', ...this.extraArgs];
    this.exit = null;
    this.proc = spawn(bin, args, { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (err) => {
        this.exit = { code: null, signal: null, error: err };
        resolve(this.exit);
      });
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    try {
      this.port = await this.waitPort(deadline);
      await this.waitServing(deadline);
    } catch (e) {
      this.kill();
      throw e;
    }
    return this;
  }

  async waitPort(deadline) {
    while (Date.now() < deadline) {
      if (this.exit) {
        throw new Error(`evbridged exited (${JSON.stringify(this.exit)}) before writing the ` +
          `port file\n${this.logText()}`);
      }
      let text = '';
      try {
        text = fs.readFileSync(this.portFile, 'utf8');
      } catch (e) {
        text = '';
      }
      if (text.endsWith('\n') && /^\d+$/.test(text.trim())) {
        const port = Number(text.trim());
        if (port > 0 && port < 65536) return port;
        throw new Error(`port file holds an invalid port: ${JSON.stringify(text)}`);
      }
      await sleep(50);
    }
    throw new Error(`timed out waiting for the port file ${this.portFile}\n${this.logText()}`);
  }

  async waitServing(deadline) {
    const c = new Client(this.target, null);
    let last = '';
    try {
      while (Date.now() < deadline) {
        if (this.exit) {
          throw new Error(`evbridged exited (${JSON.stringify(this.exit)}) during start-up\n` +
            this.logText());
        }
        try {
          const r = await c.unary('health', 'Check', { service: '' }, { timeoutMs: 1000 });
          if (r.status === 'SERVING') return;
          last = `status ${r.status}`;
        } catch (e) {
          last = `${e.code}: ${e.details}`;
        }
        await sleep(100);
      }
    } finally {
      c.close();
    }
    throw new Error(`timed out waiting for Health/Check SERVING (last: ${last})\n${this.logText()}`);
  }

  // SIGTERM; resolves with the exit code ("signal X" when a signal ended it, null when it
  // had to be killed after the timeout).
  async stop(timeoutMs = 30000) {
    if (!this.proc) return null;
    if (!this.exit) this.proc.kill('SIGTERM');
    let handle;
    const timer = new Promise((resolve) => { handle = setTimeout(() => resolve('timeout'), timeoutMs); });
    const r = await Promise.race([this.exited, timer]);
    clearTimeout(handle);
    if (r === 'timeout') {
      this.kill();
      await this.exited;
      return null;
    }
    return r.code !== null ? r.code : `signal ${r.signal}`;
  }

  kill() {
    if (this.proc && !this.exit) this.proc.kill('SIGKILL');
  }

  cleanup() {
    this.kill();
    if (KEEP_TMP) process.stderr.write(`EVB_KEEP_TMP: kept ${this.root}\n`);
    else fs.rmSync(this.root, { recursive: true, force: true });
  }

  client(key) {
    return new Client(this.target, key === undefined ? this.adminKey() : key);
  }
}

function entry(org, type = TYPE_CUSTOMER, fields = {}) {
  return {
    id: '',
    org,
    type,
    data: Buffer.from('{"k":1}'),
    ...fields,
  };
}

async function createKey(admin, role, scope = '') {
  const r = await admin.unary('admin', 'CreateApiKey', { role, scope, description: 'node test' });
  if (!r.key || !r.key_id) throw new Error(`CreateApiKey returned an empty key: ${JSON.stringify(r)}`);
  return r;
}

async function createConnector(client, isv, types = [TYPE_CUSTOMER, TYPE_PRODUCT], source = '') {
  const name = unique('nconn');
  return client.unary('connectors', 'CreateConnector', {
    connector: {
      name,
      display_name: `Node test ${name}`,
      isv,
      source,
      event_types: types.map((t) => ({ type: t, subject: '', version: 0 })),
    },
  });
}

// A fresh ISV: its key, a client bound to it and one connector.
async function newIsv(server, admin, types) {
  const isv = unique('nisv');
  const k = await createKey(admin, 'isv', isv);
  const client = new Client(server.target, k.key);
  const conn = await createConnector(client, isv, types);
  return { isv, key: k.key, client, conn };
}

// Registers, in the describe() block it is called from, a before hook that starts a server
// (new Server(extraArgs, name)) and an after hook that stops it with SIGTERM and asserts exit
// code 0. Returns the suite's state, filled in by the before hook: { server, admin, clients,
// closers }. admin: a client with the admin key (unless opts.admin is false), in clients.
// The after hook first awaits close() of every closer (receivers, ...), then, when the server
// started, closes every client before the SIGTERM.
function serverSuite(extraArgs, name, opts = {}) {
  const suite = { server: null, admin: null, clients: [], closers: [] };
  before(async () => {
    const server = new Server(extraArgs, name);
    try {
      await server.start();
    } catch (e) {
      server.cleanup();
      throw e;
    }
    suite.server = server;
    if (opts.admin !== false) {
      suite.admin = server.client();
      suite.clients.push(suite.admin);
    }
  });
  after(async () => {
    for (const c of suite.closers) await c.close();
    const { server } = suite;
    if (!server) return;
    for (const c of suite.clients) c.close();
    const code = await server.stop();
    const log = server.logText();
    server.cleanup();
    assert.equal(code, 0, `evbridged exit code after SIGTERM: ${code}\n${log}`);
  });
  return suite;
}

function describeResp(resp) {
  return `failed=${resp.failed_entry_count} [` + resp.results.map((r, i) =>
    `${i}:${r.status} ${r.event_id} ${r.error_code} ${r.error_message}`).join('; ') + ']';
}

module.exports = {
  grpc,
  protos,
  Client,
  Server,
  TYPE_CUSTOMER,
  TYPE_PRODUCT,
  TYPE_CONTRACT,
  unique,
  sleep,
  until,
  entry,
  createKey,
  createConnector,
  newIsv,
  serverSuite,
  describeResp,
  metadataFor,
};
