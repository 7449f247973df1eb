'use strict';
// Helpers shared by the delivery tests (delivery.test.js, delivery_policy.test.js): reading
// TraceEvent, a test's "world" (its ISV, org, actions and connections), receivers owned by
// a suite.

const assert = require('node:assert/strict');

const {
  Client, TYPE_CUSTOMER, TYPE_PRODUCT, unique, until, entry, createKey, newIsv, describeResp,
} = require('./harness');
const { Receiver } = require('./receiver');

const ALLOW_LOOPBACK = ['--allow-target-cidr', '127.0.0.0/8'];

// A CUSTOM policy with small delays so retries are quick (no jitter: predictable gaps).
const FAST_RETRY = {
  strategy: 'CUSTOM', max_attempts: 5, base_delay_ms: 200, max_delay_ms: 1000, jitter: 0,
};

// ---------------------------------------------------------------------------------------
// trace helpers

function describeTrace(resp) {
  if (!resp) return '(no trace)';
  return resp.steps.map((s, i) => `  ${i}: ${s.stage} t=${s.time}` +
    (s.connection_id ? ` conn=${s.connection_id}` : '') +
    (s.stage === 'FILTER' ? ` matched=${s.matched}` : '') +
    (s.delivery_id ? ` delivery=${s.delivery_id}` : '') +
    (s.stage === 'DELIVER' ? ` attempt=${s.attempt} outcome=${s.outcome} http=${s.http_status}` +
      ` errcode=${s.errcode} latency=${s.latency_ms} error=${JSON.stringify(s.error)}` : '') +
    (s.detail ? ` detail=${JSON.stringify(s.detail)}` : '')).join('\n');
}

function deliverSteps(resp, connectionId) {
  return resp.steps.filter((s) => s.stage === 'DELIVER' &&
    (connectionId === undefined || s.connection_id === connectionId));
}

const FINAL = new Set(['DELIVERED', 'DEAD']);

function lastOutcome(resp, connectionId) {
  const ds = deliverSteps(resp, connectionId);
  return ds.length ? ds[ds.length - 1].outcome : null;
}

// Every DELIVER step of one connection must name one delivery; returns its id.
function oneDelivery(trace, connectionId) {
  const ids = [...new Set(deliverSteps(trace, connectionId).map((s) => s.delivery_id))];
  assert.equal(ids.length, 1, `one delivery expected on ${connectionId}:\n${describeTrace(trace)}`);
  assert.ok(ids[0], `empty delivery_id:\n${describeTrace(trace)}`);
  return ids[0];
}

// ---------------------------------------------------------------------------------------

// A test's world: its ISV (key, client, connector), its org (org-admin key and client).
// The clients go to track (closed by the suite). opts.prefix starts the names of the org,
// actions and connections; opts.http holds defaults of every HTTP action's target.
async function world(server, admin, track, { prefix = 'd', http: httpDefaults = {} } = {}) {
  const isv = await newIsv(server, admin, [TYPE_CUSTOMER, TYPE_PRODUCT]);
  track.push(isv.client);
  const org = unique(`${prefix}org`);
  const k = await createKey(admin, 'org-admin', org);
  const orgClient = new Client(server.target, k.key);
  track.push(orgClient);
  const w = {
    server,
    isv: isv.isv,
    isvClient: isv.client,
    connector: isv.conn.name,
    org,
    orgClient,
    createAction(action, owner) {
      if (owner === 'isv') {
        action.isv = w.isv;
        return w.isvClient.unary('connectors', 'CreateAction', { action });
      }
      action.org = w.org;
      return w.orgClient.unary('connectors', 'CreateAction', { action });
    },
    async httpAction(http, { owner = 'org', name = unique(`${prefix}act`) } = {}) {
      return w.createAction({ name, kind: 'HTTP', http: { method: 'POST', ...httpDefaults, ...http } },
        owner);
    },
    async robotAction(robot, { owner = 'org', name = unique(`${prefix}rob`) } = {}) {
      return w.createAction({ name, kind: 'DINGTALK_ROBOT', robot }, owner);
    },
    async connection(action, fields = {}) {
      return w.orgClient.unary('connectors', 'CreateConnection', {
        connection: {
          org: w.org,
          name: unique(`${prefix}cn`),
          connector: w.connector,
          action,
          retry: FAST_RETRY,
          dead_letter: true,
          ...fields,
        },
      });
    },
    // Publishes the entries (fields objects) in ONE PutEvents call (ISV key); returns the
    // event ids.
    async publishMany(list, type = TYPE_CUSTOMER) {
      const r = await w.isvClient.putEvents(w.connector, list.map((f) => entry(w.org, type, f)));
      assert.equal(r.failed_entry_count, 0, describeResp(r));
      return r.results.map((x) => {
        assert.equal(x.status, 'PUBLISHED', describeResp(r));
        return x.event_id;
      });
    },
    // Publishes one event; returns its id.
    async publish(fields = {}, type = TYPE_CUSTOMER) {
      return (await w.publishMany([fields], type))[0];
    },
    trace(eventId) {
      return w.orgClient.unary('events', 'TraceEvent',
        { event_id: eventId, org: w.org, connector: w.connector });
    },
    // Polls TraceEvent until pred(trace) holds.
    async waitTrace(eventId, pred, what, timeoutMs = 20000) {
      let last = null;
      return until(what, async () => {
        last = await w.trace(eventId);
        return pred(last) ? last : null;
      }, {
        timeoutMs,
        describe: () => `trace of ${eventId}:\n${describeTrace(last)}\n${server.logText(4000)}`,
      });
    },
    // Polls until the last outcome of the delivery of eventId on connectionId is one of outcomes.
    async waitOutcome(eventId, connectionId, outcomes, timeoutMs = 20000) {
      const want = new Set(outcomes);
      return w.waitTrace(eventId, (t) => want.has(lastOutcome(t, connectionId)),
        `the delivery of ${eventId} on ${connectionId} to become ${outcomes.join(' or ')}`, timeoutMs);
    },
    // Polls until the delivery of eventId on connectionId is DELIVERED or DEAD.
    async waitFinal(eventId, connectionId, timeoutMs = 20000) {
      return w.waitOutcome(eventId, connectionId, [...FINAL], timeoutMs);
    },
  };
  return w;
}

// A started Receiver, closed by the suite (serverSuite's closers).
async function startReceiver(suite, name) {
  const r = await new Receiver(name).start();
  suite.closers.push(r);
  return r;
}

module.exports = {
  ALLOW_LOOPBACK,
  FAST_RETRY,
  describeTrace,
  deliverSteps,
  FINAL,
  lastOutcome,
  oneDelivery,
  world,
  startReceiver,
};
