'use strict';
// Delivery through a real evbridged to REAL receivers (Node http servers on 127.0.0.1):
//  - HTTP actions, binary and structured CloudEvents (read back with the npm cloudevents SDK,
//    validated), Standard Webhooks signatures (npm standardwebhooks + our own HMAC), a stable
//    webhook-id per delivery across retries, percent-encoded non-ASCII extension round trip;
//  - scripted failures: 500s then success, 429 + Retry-After (seconds), 503 + Retry-After
//    (HTTP-date), 410 (connection DISABLED), 400 (dead at once), a hanging target
//    (timeout_ms, retried), redirects never followed; CUSTOM / EXPONENTIAL_DECAY / default
//    BACKOFF schedules; an unsigned action (webhook-id only) with auth and a transform;
//  - TraceEvent: Receive -> Filter -> Deliver with attempts, outcomes, HTTP status, errors;
//  - dead letters: ListDeadLetters / RedriveDeadLetters (UNIMPLEMENTED fails, with a message);
//  - SSRF guard: a server without --allow-target-cidr refuses loopback targets; the allow-list
//    of the other server does not open link-local / private ranges;
//  - DingTalk robot (fake robot checking timestamp + sign): text / markdown rendering from a
//    template with ${vars} bound by JSONPath, errcode 130101 retried, 310000 dead + action
//    disabled;
//  - kill -9 with deliveries in flight, restart on the same data dir: every event delivered at
//    least once, duplicates only with the same webhook-id.
// Every test makes its own ISV key + connector, org-admin key, actions and connections.
// Waiting is polling (TraceEvent, receiver counts) against deadlines, never long fixed sleeps.
// Run: node --test delivery.test.js   (EVB_BIN_DIR / EVB_PROTO_DIR as in harness.js)

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const {
  grpc, Client, TYPE_CUSTOMER, TYPE_PRODUCT, unique, until, entry, createKey, describeResp,
  serverSuite,
} = require('./harness');
const {
  ALLOW_LOOPBACK, describeTrace, deliverSteps, lastOutcome, oneDelivery, world, startReceiver,
} = require('./delivery_harness');
const { parseCloudEvent, verifyWebhook, ceEncode, ceDecode } = require('./receiver');
const { FakeRobot } = require('./robot');

function newSecret() {
  return `whsec_${crypto.randomBytes(24).toString('base64')}`;
}

// ---------------------------------------------------------------------------------------
// trace helpers (more in delivery_harness.js)

// The attempt steps (outcome of a finished attempt: RETRY, DELIVERED, DEAD) in order.
function attempts(trace, connectionId) {
  return deliverSteps(trace, connectionId)
    .filter((s) => ['RETRY', 'DELIVERED', 'DEAD'].includes(s.outcome));
}

function summary(trace, connectionId) {
  return attempts(trace, connectionId).map((s) => [s.attempt, s.outcome, s.http_status]);
}

async function expectUnimplementedIsFailure(promise, rpc) {
  try {
    return await promise;
  } catch (e) {
    if (e.code === grpc.status.UNIMPLEMENTED) {
      assert.fail(`${rpc} answered UNIMPLEMENTED (${e.details}): the dispatcher issue requires it`);
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------

// The tests of this suite are independent (own ISV, org, actions, connections, receivers), so
// they run concurrently against one server: quicker, and the dispatcher juggles them all.
describe('delivery to HTTP and robot targets (server with --allow-target-cidr 127.0.0.0/8)',
  { concurrency: true }, () => {
  const suite = serverSuite(ALLOW_LOOPBACK, 'deliv');
  const newWorld = () => world(suite.server, suite.admin, suite.clients);
  const receiver = (name) => startReceiver(suite, name);

  it('binary mode: ce-* headers (percent-encoded extension), data, signature, webhook-id', async () => {
    const w = await newWorld();
    const rcv = await receiver('binary');
    const secret = newSecret();
    const action = await w.httpAction({
      url: rcv.url('/hook/binary?x=1'), content_mode: 'BINARY', timeout_ms: 5000,
      signing_secret: secret, headers: { 'x-tenant': 'acme' },
    }, { owner: 'isv' });
    assert.equal(action.http.signing_secret, '', 'the signing secret is write-only');
    assert.equal(action.http.has_signing_secret, true);
    const conn = await w.connection(action.name);
    const label = 'Euro € 😀 李四 "q" 100% a+b';
    const data = { customerId: 'c-42', name: '张三', tags: ['vip'], amount: 12.5 };
    const eventId = await w.publish({
      id: unique('bin-ev'), subject: 'customer/c-42', time: '2024-05-01T10:20:30Z',
      data: Buffer.from(JSON.stringify(data)), extensions: { label, region: 'cn-hz' },
    });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'DELIVERED', 200]], describeTrace(t));
    const deliveryId = oneDelivery(t, conn.id);
    assert.equal(rcv.count, 1, rcv.describe());
    const req = rcv.requests[0];
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/hook/binary?x=1', 'the path and query as configured');
    const h = req.headers;
    // CloudEvents binary mode, as sent on the wire
    assert.equal(h['ce-specversion'], '1.0');
    assert.equal(h['ce-id'], eventId);
    assert.equal(h['ce-source'], `/connectors/${w.connector}`);
    assert.equal(h['ce-type'], TYPE_CUSTOMER);
    assert.equal(h['ce-subject'], 'customer/c-42');
    assert.equal(Date.parse(h['ce-time']), Date.parse('2024-05-01T10:20:30Z'), `ce-time ${h['ce-time']}`);
    assert.equal(h['ce-orgid'], w.org);
    assert.equal(h['ce-connector'], w.connector);
    assert.equal(h['ce-region'], 'cn-hz');
    assert.equal(h['ce-label'], ceEncode(label),
      'a non-ASCII extension is percent-encoded as the HTTP binding says (upper-case hex)');
    assert.equal(ceDecode(h['ce-label']), label, 'percent-decoding gives the value back');
    assert.match(h['content-type'], /^application\/json\b/, 'Content-Type = datacontenttype');
    assert.equal(h['ce-datacontenttype'], undefined, 'binary mode: no ce-datacontenttype header');
    assert.equal(h['x-tenant'], 'acme', "the action's custom header");
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), data, 'body = data');
    // the npm cloudevents SDK reads and validates it
    const ev = parseCloudEvent(req);
    assert.equal(ev.id, eventId);
    assert.equal(ev.source, `/connectors/${w.connector}`);
    assert.equal(ev.type, TYPE_CUSTOMER);
    assert.equal(ev.subject, 'customer/c-42');
    assert.equal(ev.specversion, '1.0');
    assert.equal(ev.orgid, w.org);
    assert.equal(ev.connector, w.connector);
    assert.equal(ceDecode(ev.label), label);
    assert.deepEqual(ev.data, data);
    // Standard Webhooks
    const sig = verifyWebhook(req, secret);
    assert.equal(sig.id, deliveryId, 'webhook-id = the delivery id TraceEvent shows');
    assert.ok(!sig.id.includes('.'), 'webhook-id must not contain "."');
    assert.ok(Math.abs(sig.timestamp - req.t / 1000) < 30, `webhook-timestamp ${sig.timestamp} is now`);
    // a wrong secret must not verify
    assert.throws(() => verifyWebhook(req, newSecret()), /signature/i);
  });

  it('structured mode: application/cloudevents+json, the whole event, signature', async () => {
    const w = await newWorld();
    const rcv = await receiver('structured');
    const secret = newSecret();
    const action = await w.httpAction({
      url: rcv.url('/hook/structured'), content_mode: 'STRUCTURED', timeout_ms: 5000,
      signing_secret: secret, method: 'PUT',
    });
    const conn = await w.connection(action.name);
    const label = 'Grüße 😀 "x" %';
    const data = { productId: 'p-1', title: '笔记本', price: 3999, ok: true, none: null };
    const eventId = await w.publish({
      id: unique('st-ev'), subject: 'product/p-1', time: '2024-06-01T00:00:00.250Z',
      data: Buffer.from(JSON.stringify(data)), extensions: { label },
    }, TYPE_PRODUCT);
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'DELIVERED', 200]], describeTrace(t));
    const deliveryId = oneDelivery(t, conn.id);
    assert.equal(rcv.count, 1, rcv.describe());
    const req = rcv.requests[0];
    assert.equal(req.method, 'PUT', 'the configured method');
    assert.match(req.headers['content-type'], /^application\/cloudevents\+json; ?charset=utf-8$/i,
      'structured mode Content-Type as the HTTP binding shows it');
    assert.equal(req.headers['ce-id'], undefined, 'structured mode: no ce-* headers');
    const raw = JSON.parse(req.body.toString('utf8'));
    assert.equal(raw.specversion, '1.0');
    assert.equal(raw.id, eventId);
    assert.equal(raw.source, `/connectors/${w.connector}`);
    assert.equal(raw.type, TYPE_PRODUCT);
    assert.equal(raw.subject, 'product/p-1');
    assert.equal(Date.parse(raw.time), Date.parse('2024-06-01T00:00:00.250Z'), `time ${raw.time}`);
    assert.equal(raw.orgid, w.org, 'extensions are top-level members');
    assert.equal(raw.connector, w.connector);
    assert.equal(raw.label, label, 'structured mode carries the extension unencoded');
    assert.match(raw.datacontenttype || '', /^application\/json\b/);
    assert.deepEqual(raw.data, data, 'JSON data is the JSON value itself, not a string');
    assert.equal(raw.data_base64, undefined);
    const ev = parseCloudEvent(req);
    assert.equal(ev.id, eventId);
    assert.equal(ev.type, TYPE_PRODUCT);
    assert.equal(ev.orgid, w.org);
    assert.equal(ev.label, label);
    assert.deepEqual(ev.data, data);
    const sig = verifyWebhook(req, secret);
    assert.equal(sig.id, deliveryId);
  });

  it('500, 500, then 200: retried on the CUSTOM schedule, same webhook-id, every attempt signed', async () => {
    const w = await newWorld();
    const rcv = await receiver('flaky');
    rcv.respond({ status: 500 }, { status: 503 });
    const secret = newSecret();
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: secret });
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique('flaky-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id),
      [[1, 'RETRY', 500], [2, 'RETRY', 503], [3, 'DELIVERED', 200]], describeTrace(t));
    const deliveryId = oneDelivery(t, conn.id);
    assert.equal(rcv.count, 3, rcv.describe());
    const ids = rcv.requests.map((r) => verifyWebhook(r, secret).id);
    assert.deepEqual(ids, [deliveryId, deliveryId, deliveryId], 'one webhook-id for every attempt');
    for (const r of rcv.requests) assert.equal(r.headers['ce-id'], eventId);
    // base_delay_ms 200, doubling, no jitter: >= 200 ms, then >= 400 ms
    const gap1 = rcv.requests[1].t - rcv.requests[0].t;
    const gap2 = rcv.requests[2].t - rcv.requests[1].t;
    assert.ok(gap1 >= 180, `first retry after ${gap1} ms, policy says 200`);
    assert.ok(gap2 >= 370, `second retry after ${gap2} ms, policy says 400`);
    assert.ok(gap1 < 5000 && gap2 < 5000, `retries far too late: ${gap1}, ${gap2} ms`);
  });

  it('EXPONENTIAL_DECAY_RETRY: the first retry waits 1 s', async () => {
    const w = await newWorld();
    const rcv = await receiver('exp');
    rcv.respond({ status: 500 });
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const conn = await w.connection(action.name, { retry: { strategy: 'EXPONENTIAL_DECAY_RETRY' } });
    const eventId = await w.publish({ id: unique('exp-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'RETRY', 500], [2, 'DELIVERED', 200]], describeTrace(t));
    const gap = rcv.requests[1].t - rcv.requests[0].answeredAt;
    assert.ok(gap >= 950 && gap < 4000, `EXPONENTIAL_DECAY_RETRY retry 1 after ${gap} ms, expected 1 s`);
  });

  it('BACKOFF_RETRY (the default): the first retry waits 10-20 s', async () => {
    const w = await newWorld();
    const rcv = await receiver('backoff');
    rcv.respond({ status: 503 });
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const conn = await w.connection(action.name, { retry: null }); // no policy: the default
    const got = await w.orgClient.unary('connectors', 'GetConnection', { id: conn.id });
    assert.ok(['BACKOFF_RETRY', 'RETRY_STRATEGY_UNSPECIFIED'].includes(got.retry ? got.retry.strategy
      : 'RETRY_STRATEGY_UNSPECIFIED'), `default retry policy: ${JSON.stringify(got.retry)}`);
    const eventId = await w.publish({ id: unique('bo-ev') });
    const t = await w.waitFinal(eventId, conn.id, 30000);
    assert.deepEqual(summary(t, conn.id), [[1, 'RETRY', 503], [2, 'DELIVERED', 200]], describeTrace(t));
    const gap = rcv.requests[1].t - rcv.requests[0].answeredAt;
    assert.ok(gap >= 9900 && gap <= 21500, `BACKOFF_RETRY retry 1 after ${gap} ms, expected 10-20 s`);
  });

  it('unsigned action: webhook-id only; bearer auth header; JSONPATH transform in binary mode', async () => {
    const w = await newWorld();
    const rcv = await receiver('unsigned');
    rcv.respond({ status: 500 });
    const action = await w.httpAction({
      url: rcv.url(), timeout_ms: 5000, auth: { kind: 'HTTP_AUTH_BEARER', token: 'tok-123' },
    });
    assert.equal(action.http.has_signing_secret, false);
    assert.equal(action.http.auth.token, '', 'the bearer token is write-only');
    const conn = await w.connection(action.name, {
      transform: { mode: 'JSONPATH', value: '$.data.customer' },
    });
    const data = { customer: { id: 'c-7', name: '王五' }, other: 1 };
    const eventId = await w.publish({ id: unique('uns-ev'), data: Buffer.from(JSON.stringify(data)) });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'RETRY', 500], [2, 'DELIVERED', 200]], describeTrace(t));
    const deliveryId = oneDelivery(t, conn.id);
    assert.equal(rcv.count, 2, rcv.describe());
    for (const req of rcv.requests) {
      assert.equal(req.headers['webhook-id'], deliveryId, 'webhook-id without a secret too');
      assert.equal(req.headers['webhook-signature'], undefined, 'no signature without a secret');
      assert.equal(req.headers.authorization, 'Bearer tok-123');
      assert.deepEqual(JSON.parse(req.body.toString('utf8')), data.customer, 'body = the transform output');
      const ev = parseCloudEvent(req);
      assert.equal(ev.id, eventId, 'binary mode with a transform is still a CloudEvent');
      assert.deepEqual(ev.data, data.customer);
    }
  });

  it('CUSTOM max_attempts exhausted: DEAD after exactly max_attempts', async () => {
    const w = await newWorld();
    const rcv = await receiver('always-500');
    rcv.defaultResponse = { status: 500 };
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const conn = await w.connection(action.name, {
      retry: { strategy: 'CUSTOM', max_attempts: 3, base_delay_ms: 100, max_delay_ms: 200, jitter: 0 },
    });
    const eventId = await w.publish({ id: unique('exh-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id),
      [[1, 'RETRY', 500], [2, 'RETRY', 500], [3, 'DEAD', 500]], describeTrace(t));
    assert.equal(rcv.count, 3, rcv.describe());
  });

  it('429 with Retry-After: 1 is honoured (the next attempt >= ~1 s later)', async () => {
    const w = await newWorld();
    const rcv = await receiver('throttled');
    rcv.respond({ status: 429, headers: { 'Retry-After': '1' } });
    const secret = newSecret();
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: secret });
    // the schedule alone would retry after 100 ms; the cap (2 s) leaves room for Retry-After
    const conn = await w.connection(action.name, {
      retry: { strategy: 'CUSTOM', max_attempts: 5, base_delay_ms: 100, max_delay_ms: 2000, jitter: 0 },
    });
    const eventId = await w.publish({ id: unique('ra-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'RETRY', 429], [2, 'DELIVERED', 200]], describeTrace(t));
    assert.equal(rcv.count, 2, rcv.describe());
    const gap = rcv.requests[1].t - rcv.requests[0].answeredAt;
    assert.ok(gap >= 950, `the retry came ${gap} ms after a 429 with Retry-After: 1`);
    assert.ok(gap < 5000, `the retry came far too late: ${gap} ms`);
    assert.equal(verifyWebhook(rcv.requests[0], secret).id, verifyWebhook(rcv.requests[1], secret).id);
  });

  it('503 with an HTTP-date Retry-After is honoured too', async () => {
    const w = await newWorld();
    const rcv = await receiver('unavailable');
    // a date 3 s ahead (whole seconds: at least 2 s from now)
    rcv.respond(() => ({ status: 503, headers: { 'Retry-After': new Date(Date.now() + 3000).toUTCString() } }));
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const conn = await w.connection(action.name, {
      retry: { strategy: 'CUSTOM', max_attempts: 5, base_delay_ms: 100, max_delay_ms: 5000, jitter: 0 },
    });
    const eventId = await w.publish({ id: unique('rad-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'RETRY', 503], [2, 'DELIVERED', 200]], describeTrace(t));
    const gap = rcv.requests[1].t - rcv.requests[0].answeredAt;
    assert.ok(gap >= 1900, `the retry came ${gap} ms after a 503 with Retry-After ~3 s ahead`);
    assert.ok(gap < 6000, `the retry came far too late: ${gap} ms`);
  });

  it('410 Gone: dead, the connection becomes DISABLED with a reason, nothing more is sent', async () => {
    const w = await newWorld();
    const rcv = await receiver('gone');
    rcv.respond({ status: 410 });
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique('gone-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'DEAD', 410]], describeTrace(t));
    assert.equal(lastOutcome(t, conn.id), 'DEAD');
    const c = await until('the connection to become DISABLED', async () => {
      const x = await w.orgClient.unary('connectors', 'GetConnection', { id: conn.id });
      return x.state === 'DISABLED' ? x : null;
    }, { timeoutMs: 5000 });
    assert.ok(c.state_reason, `a DISABLED connection says why: ${JSON.stringify(c)}`);
    assert.match(c.state_reason, /410|gone/i, `state_reason: ${c.state_reason}`);
    // a later event is not sent to a disabled connection (no delivery, or a dead one)
    const e2 = await w.publish({ id: unique('gone-ev2') });
    const t2 = await w.waitTrace(e2, (x) => deliverSteps(x, conn.id).length === 0 ||
      lastOutcome(x, conn.id) === 'DEAD', 'no live delivery on the disabled connection');
    assert.notEqual(lastOutcome(t2, conn.id), 'DELIVERED', describeTrace(t2));
    assert.equal(rcv.count, 1, `the receiver got requests after 410:\n${rcv.describe()}`);
  });

  it('400: dead at once (one attempt), the error names the status', async () => {
    const w = await newWorld();
    const rcv = await receiver('bad-request');
    rcv.respond({ status: 400, body: 'bad' });
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique('400-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'DEAD', 400]], describeTrace(t));
    const dead = attempts(t, conn.id)[0];
    assert.match(dead.error, /400/, `error: ${dead.error}`);
    assert.equal(rcv.count, 1, rcv.describe());
    const c = await w.orgClient.unary('connectors', 'GetConnection', { id: conn.id });
    assert.equal(c.state, 'ENABLED', 'a 400 does not disable the connection');
  });

  it('a target slower than timeout_ms: the attempt times out and is retried', async () => {
    const w = await newWorld();
    const rcv = await receiver('hang');
    rcv.respond({ status: 200, delayMs: 4000 }); // first request: answered far too late
    const secret = newSecret();
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 600, signing_secret: secret });
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique('hang-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    const s = summary(t, conn.id);
    assert.equal(s.length, 2, describeTrace(t));
    assert.deepEqual(s[0].slice(0, 2), [1, 'RETRY'], describeTrace(t));
    assert.equal(s[0][2], 0, `a timed-out attempt has no HTTP status:\n${describeTrace(t)}`);
    assert.deepEqual(s[1], [2, 'DELIVERED', 200], describeTrace(t));
    const first = attempts(t, conn.id)[0];
    assert.match(first.error, /time[d]? ?out/i, `error of the timed-out attempt: ${first.error}`);
    assert.ok(Number(first.latency_ms) >= 500 && Number(first.latency_ms) < 3500,
      `the attempt lasted ${first.latency_ms} ms with timeout_ms 600`);
    assert.ok(rcv.count >= 2, rcv.describe());
    assert.equal(verifyWebhook(rcv.requests[0], secret).id, verifyWebhook(rcv.requests[1], secret).id);
    assert.ok(rcv.requests[1].t - rcv.requests[0].t < 3500,
      `the retry should not wait for the hanging answer:\n${rcv.describe()}`);
  });

  it('3xx redirects are never followed: dead, the redirect target is never hit', async () => {
    const w = await newWorld();
    const rcv = await receiver('redirector');
    const elsewhere = await receiver('redirect-target');
    rcv.respond({ status: 302, headers: { Location: elsewhere.url('/stolen') } },
      { status: 307, headers: { Location: elsewhere.url('/stolen') } });
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const conn = await w.connection(action.name);
    const e1 = await w.publish({ id: unique('302-ev') });
    const t1 = await w.waitFinal(e1, conn.id);
    assert.deepEqual(summary(t1, conn.id), [[1, 'DEAD', 302]], describeTrace(t1));
    assert.match(attempts(t1, conn.id)[0].error, /redirect/i);
    const e2 = await w.publish({ id: unique('307-ev') });
    const t2 = await w.waitFinal(e2, conn.id);
    assert.deepEqual(summary(t2, conn.id), [[1, 'DEAD', 307]], describeTrace(t2));
    assert.equal(rcv.count, 2, rcv.describe());
    assert.equal(elsewhere.count, 0, `the redirect was followed:\n${elsewhere.describe()}`);
  });

  it('TraceEvent: Receive -> Filter (matched and not) -> Deliver (PENDING between attempts, then each attempt)', async () => {
    const w = await newWorld();
    const rcv = await receiver('trace');
    rcv.respond({ status: 502 });
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: newSecret() });
    const hit = await w.connection(action.name, {
      pattern: JSON.stringify({ data: { tier: ['gold'] } }),
      retry: { strategy: 'CUSTOM', max_attempts: 4, base_delay_ms: 1500, max_delay_ms: 2000, jitter: 0 },
    });
    const miss = await w.connection(action.name, {
      pattern: JSON.stringify({ data: { tier: ['silver'] } }),
    });
    const eventId = await w.publish({ id: unique('tr-ev'), data: Buffer.from('{"tier":"gold"}') });
    // between the 502 and the retry (1.5 s later) the delivery is PENDING with attempt 1
    const mid = await w.waitTrace(eventId, (x) => {
      const ds = deliverSteps(x, hit.id);
      return ds.length >= 2 && ds[0].outcome === 'RETRY' && ds[ds.length - 1].outcome === 'PENDING';
    }, 'a RETRY attempt followed by a PENDING state');
    const pend = deliverSteps(mid, hit.id).at(-1);
    assert.equal(pend.attempt, 1, `PENDING after one attempt:\n${describeTrace(mid)}`);
    const t = await w.waitFinal(eventId, hit.id);
    const stages = t.steps.map((s) => s.stage);
    assert.equal(stages[0], 'RECEIVE', describeTrace(t));
    assert.equal(stages.filter((s) => s === 'RECEIVE').length, 1, describeTrace(t));
    const lastFilter = stages.lastIndexOf('FILTER');
    const firstDeliver = stages.indexOf('DELIVER');
    assert.ok(lastFilter > 0 && firstDeliver > lastFilter, `order Receive, Filter, Deliver:\n${describeTrace(t)}`);
    assert.match(t.steps[0].detail, new RegExp(w.connector), 'RECEIVE detail names the connector');
    const filters = t.steps.filter((s) => s.stage === 'FILTER');
    const fHit = filters.find((s) => s.connection_id === hit.id);
    const fMiss = filters.find((s) => s.connection_id === miss.id);
    assert.ok(fHit && fHit.matched === true, describeTrace(t));
    assert.ok(fMiss && fMiss.matched === false, describeTrace(t));
    assert.equal(deliverSteps(t, miss.id).length, 0, 'no delivery for the unmatched connection');
    const ds = attempts(t, hit.id);
    assert.deepEqual(ds.map((s) => [s.attempt, s.outcome, s.http_status]),
      [[1, 'RETRY', 502], [2, 'DELIVERED', 200]], describeTrace(t));
    assert.match(ds[0].error, /502/, `the failed attempt's error: ${ds[0].error}`);
    assert.equal(ds[1].error, '', 'a delivered attempt has no error');
    for (const s of ds) {
      assert.ok(!Number.isNaN(Date.parse(s.time)), `attempt time ${s.time}`);
      assert.ok(Number(s.latency_ms) >= 0, `latency ${s.latency_ms}`);
    }
    assert.ok(Date.parse(ds[1].time) - Date.parse(ds[0].time) >= 1400,
      `the attempts' times follow the 1.5 s schedule:\n${describeTrace(t)}`);
    assert.equal(deliverSteps(t, hit.id).at(-1).outcome, 'DELIVERED', 'no PENDING left after DELIVERED');
    assert.equal(rcv.count, 2, rcv.describe());
    // another org's admin cannot read the trace
    const other = await createKey(suite.admin, 'org-admin', unique('dorg-other'));
    const oc = new Client(suite.server.target, other.key);
    suite.clients.push(oc);
    await assert.rejects(oc.unary('events', 'TraceEvent', { event_id: eventId, connector: w.connector }),
      (e) => e.code === grpc.status.NOT_FOUND || e.code === grpc.status.PERMISSION_DENIED);
  });

  it('dead letters: ListDeadLetters shows the dead delivery, RedriveDeadLetters delivers it (same webhook-id)', async () => {
    const w = await newWorld();
    const rcv = await receiver('dlq');
    rcv.respond({ status: 422 });
    const secret = newSecret();
    const action = await w.httpAction({ url: rcv.url(), timeout_ms: 5000, signing_secret: secret });
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique('dlq-ev') });
    const t = await w.waitFinal(eventId, conn.id);
    assert.deepEqual(summary(t, conn.id), [[1, 'DEAD', 422]], describeTrace(t));
    const deliveryId = oneDelivery(t, conn.id);
    const list = await expectUnimplementedIsFailure(w.orgClient.unary('events', 'ListDeadLetters',
      { org: w.org, connection_id: conn.id }), 'ListDeadLetters');
    const dl = list.dead_letters.find((d) => d.delivery_id === deliveryId);
    assert.ok(dl, `the dead delivery is listed: ${JSON.stringify(list)}`);
    assert.equal(dl.connection_id, conn.id);
    assert.equal(dl.event_id, eventId);
    assert.equal(dl.attempts, 1);
    assert.equal(dl.last_http_status, 422);
    assert.ok(dl.last_error, 'last_error is set');
    assert.ok(dl.event && dl.event.id === eventId, 'the dead letter carries its event');
    const rr = await expectUnimplementedIsFailure(w.orgClient.unary('events', 'RedriveDeadLetters',
      { org: w.org, connection_id: conn.id, delivery_ids: [deliveryId] }), 'RedriveDeadLetters');
    assert.equal(Number(rr.redriven), 1, JSON.stringify(rr));
    await w.waitTrace(eventId, (x) => lastOutcome(x, conn.id) === 'DELIVERED',
      'the redriven delivery to be DELIVERED');
    assert.equal(rcv.count, 2, rcv.describe());
    assert.equal(verifyWebhook(rcv.requests[1], secret).id, deliveryId,
      'the redriven delivery keeps its id (receivers deduplicate on it)');
    const after = await w.orgClient.unary('events', 'ListDeadLetters', { org: w.org, connection_id: conn.id });
    assert.ok(!after.dead_letters.some((d) => d.delivery_id === deliveryId),
      `a delivered redrive is no longer a dead letter: ${JSON.stringify(after.dead_letters)}`);
  });

  it('SSRF guard: the loopback allow-list does not open link-local or private targets', async () => {
    const w = await newWorld();
    const cases = ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1:9/x'];
    const conns = [];
    for (const url of cases) {
      const a = await w.httpAction({ url, timeout_ms: 3000 });
      conns.push([url, await w.connection(a.name, {
        retry: { strategy: 'CUSTOM', max_attempts: 2, base_delay_ms: 100, max_delay_ms: 100, jitter: 0 },
      })]);
    }
    const eventId = await w.publish({ id: unique('ssrf-ev') });
    for (const [url, c] of conns) {
      const t = await w.waitFinal(eventId, c.id);
      const at = attempts(t, c.id);
      assert.equal(lastOutcome(t, c.id), 'DEAD', `${url}:\n${describeTrace(t)}`);
      assert.equal(at.length, 1, `a blocked target is dead at once, not retried (${url}):\n${describeTrace(t)}`);
      assert.match(at[0].error, /SSRF/i, `${url}: ${at[0].error}`);
    }
  });

  // ---- DingTalk robot ----

  async function robot(name) {
    const r = await new FakeRobot({ token: `tok${crypto.randomBytes(8).toString('hex')}`,
      secret: `SEC${crypto.randomBytes(16).toString('hex')}`, name }).start();
    suite.closers.push(r);
    return r;
  }

  function assertClean(rb) {
    for (const r of rb.requests) {
      assert.deepEqual(r.problems, [], `robot request #${r.n} failed the robot's checks:\n${rb.describe()}`);
    }
  }

  const ROBOT_DATA = {
    id: 'c-42', name: '李四', status: 'active', tags: ['vip', 'b2b'], score: 9.5,
    owner: { name: 'Wang' },
  };

  it('robot text: signed URL (timestamp, sign), template rendered with JSONPath vars, @mobiles', async () => {
    const w = await newWorld();
    const rb = await robot('text');
    const action = await w.robotAction({
      webhook_url: rb.webhookUrl(), secret: rb.secret, message_type: 'TEXT',
      template: 'Customer ${name} (${cid}) is ${status}; tags ${tags}; score ${score}; ' +
        'owner ${owner}; missing [${nothing}]; unbound ${unbound}; literal $${name}',
      vars: {
        name: '$.data.name', cid: '$.data.id', status: '$.data.status', tags: '$.data.tags',
        score: '$.data.score', owner: '$.data.owner', nothing: '$.data.nope',
      },
      at_mobiles: ['13800000000'],
    });
    assert.equal(action.robot.secret, '', 'the robot secret is write-only');
    assert.ok(!JSON.stringify(action).includes(rb.token), 'the access token is not returned');
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique('rt-ev'), data: Buffer.from(JSON.stringify(ROBOT_DATA)) });
    const t = await w.waitFinal(eventId, conn.id);
    assertClean(rb);
    assert.deepEqual(summary(t, conn.id), [[1, 'DELIVERED', 200]], describeTrace(t));
    assert.equal(attempts(t, conn.id)[0].errcode, '0', describeTrace(t));
    assert.equal(rb.count, 1, rb.describe());
    const m = rb.requests[0].msg;
    assert.equal(m.msgtype, 'text');
    assert.equal(m.text.content,
      'Customer 李四 (c-42) is active; tags ["vip","b2b"]; score 9.5; owner {"name":"Wang"}; ' +
      'missing []; unbound ${unbound}; literal ${name}');
    assert.deepEqual(m.at && m.at.atMobiles, ['13800000000']);
    assert.equal(m.at.isAtAll, false);
  });

  it('robot markdown: title and text rendered', async () => {
    const w = await newWorld();
    const rb = await robot('markdown');
    const action = await w.robotAction({
      webhook_url: rb.webhookUrl(), secret: rb.secret, message_type: 'MARKDOWN',
      title: 'Customer ${name}', template: '### ${name}\n- status: **${status}**\n- subject: ${subj}',
      vars: { name: '$.data.name', status: '$.data.status', subj: '$.subject' },
    }, { owner: 'isv' });
    const conn = await w.connection(action.name);
    const eventId = await w.publish({
      id: unique('rm-ev'), subject: 'customer/c-42', data: Buffer.from(JSON.stringify(ROBOT_DATA)),
    });
    const t = await w.waitFinal(eventId, conn.id);
    assertClean(rb);
    assert.deepEqual(summary(t, conn.id), [[1, 'DELIVERED', 200]], describeTrace(t));
    const m = rb.requests[0].msg;
    assert.equal(m.msgtype, 'markdown');
    assert.equal(m.markdown.title, 'Customer 李四');
    assert.equal(m.markdown.text, '### 李四\n- status: **active**\n- subject: customer/c-42');
  });

  it('robot actionCard: title, text, singleTitle, singleURL; no secret = unsigned URL', async () => {
    const w = await newWorld();
    const rb = await robot('card');
    rb.secret = null; // this robot has no "加签" secret: the URL carries no timestamp/sign
    const origCheck = rb.check.bind(rb);
    rb.check = (req, body) => {
      const c = origCheck(req, body);
      c.problems = c.problems.filter((p) => !/timestamp|sign/.test(p));
      if (c.query.has('timestamp') || c.query.has('sign')) c.problems.push('unsigned robot got timestamp/sign');
      return c;
    };
    const action = await w.robotAction({
      webhook_url: rb.webhookUrl(), message_type: 'ACTION_CARD', title: '${name} changed',
      template: '**${name}** is now ${status}', vars: { name: '$.data.name', status: '$.data.status' },
      single_title: 'Open', single_url: 'https://crm.example.com/customers/c-42',
    });
    assert.equal(action.robot.has_secret, false);
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique('rc-ev'), data: Buffer.from(JSON.stringify(ROBOT_DATA)) });
    const t = await w.waitFinal(eventId, conn.id);
    assertClean(rb);
    assert.deepEqual(summary(t, conn.id), [[1, 'DELIVERED', 200]], describeTrace(t));
    const m = rb.requests[0].msg;
    assert.equal(m.msgtype, 'actionCard');
    assert.deepEqual(m.actionCard, {
      title: '李四 changed', text: '**李四** is now active', singleTitle: 'Open',
      singleURL: 'https://crm.example.com/customers/c-42',
    });
    assert.equal(m.at, undefined, 'no "at" when no one is to be @-ed');
  });

  // A robot (named name) whose first reply is reply (then errcode 0), a "hello ${name}" text
  // action to it and a connection; publishes one event (id unique(idPrefix)) and waits until
  // its delivery is final and the robot's checks passed. Returns the pieces, with the
  // attempts of the delivery.
  async function robotReplyCase(name, idPrefix, reply) {
    const w = await newWorld();
    const rb = await robot(name);
    rb.respond(reply);
    const action = await w.robotAction({
      webhook_url: rb.webhookUrl(), secret: rb.secret, template: 'hello ${name}',
      vars: { name: '$.data.name' },
    });
    const conn = await w.connection(action.name);
    const eventId = await w.publish({ id: unique(idPrefix), data: Buffer.from(JSON.stringify(ROBOT_DATA)) });
    const t = await w.waitFinal(eventId, conn.id);
    assertClean(rb);
    return { w, rb, action, conn, t, at: attempts(t, conn.id) };
  }

  it('robot errcode 130101 (too fast) then 0: retried, then delivered', async () => {
    const { w, rb, action, t, at } = await robotReplyCase('too-fast', 'r130-ev',
      { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' });
    assert.deepEqual(at.map((s) => [s.attempt, s.outcome, s.http_status, String(s.errcode)]),
      [[1, 'RETRY', 200, '130101'], [2, 'DELIVERED', 200, '0']], describeTrace(t));
    assert.match(at[0].error, /130101/, `error: ${at[0].error}`);
    assert.equal(rb.count, 2, rb.describe());
    assert.equal(rb.requests[1].msg.text.content, 'hello 李四');
    const a = await w.orgClient.unary('connectors', 'GetAction', { name: action.name });
    assert.equal(a.disabled, false, 'a throttled robot is not disabled');
  });

  it('robot errcode 310000: dead and the action disabled with a reason; later events are not sent', async () => {
    const { w, rb, action, conn, t, at } = await robotReplyCase('refused', 'r310-ev',
      { errcode: 310000, errmsg: 'keywords not in content' });
    assert.deepEqual(at.map((s) => [s.attempt, s.outcome, String(s.errcode)]),
      [[1, 'DEAD', '310000']], describeTrace(t));
    const a = await until('the action to be disabled', async () => {
      const x = await w.orgClient.unary('connectors', 'GetAction', { name: action.name });
      return x.disabled ? x : null;
    }, { timeoutMs: 5000 });
    assert.ok(a.disabled_reason, `a disabled action says why: ${JSON.stringify(a)}`);
    assert.match(a.disabled_reason, /310000/, `disabled_reason: ${a.disabled_reason}`);
    const e2 = await w.publish({ id: unique('r310-ev2'), data: Buffer.from(JSON.stringify(ROBOT_DATA)) });
    const t2 = await w.waitTrace(e2, (x) => deliverSteps(x, conn.id).length === 0 ||
      lastOutcome(x, conn.id) === 'DEAD', 'the next event on the disabled action to be dead (or not routed)');
    assert.notEqual(lastOutcome(t2, conn.id), 'DELIVERED', describeTrace(t2));
    assert.equal(rb.count, 1, `the disabled robot got more messages:\n${rb.describe()}`);
  });
});

// ---------------------------------------------------------------------------------------

describe('SSRF guard: a server WITHOUT --allow-target-cidr refuses loopback targets', () => {
  const suite = serverSuite([], 'deliv-ssrf');
  const newWorld = () => world(suite.server, suite.admin, suite.clients);
  let rcv;

  before(async () => {
    rcv = await startReceiver(suite, 'ssrf-victim');
  });

  it('127.0.0.1, localhost and [::1] targets are dead with an SSRF/loopback error; no request is made', async () => {
    const w = await newWorld();
    const urls = [rcv.url('/a'), `http://localhost:${rcv.port}/b`, `http://[::1]:${rcv.port}/c`];
    const conns = [];
    for (const url of urls) {
      const a = await w.httpAction({ url, timeout_ms: 3000, signing_secret: newSecret() });
      conns.push([url, await w.connection(a.name)]);
    }
    const eventId = await w.publish({ id: unique('ssrf-lo-ev') });
    for (const [url, c] of conns) {
      const t = await w.waitFinal(eventId, c.id);
      const at = attempts(t, c.id);
      assert.equal(lastOutcome(t, c.id), 'DEAD', `${url}:\n${describeTrace(t)}`);
      assert.equal(at.length, 1, `blocked: dead at once, not retried (${url}):\n${describeTrace(t)}`);
      assert.equal(at[0].http_status, 0, `${url}: no HTTP exchange`);
      assert.match(at[0].error, /SSRF/i, `${url}: ${at[0].error}`);
      assert.match(at[0].error, /loopback/i, `${url}: ${at[0].error}`);
    }
    assert.equal(rcv.count, 0, `the guarded receiver was reached:\n${rcv.describe()}`);
  });
});

// ---------------------------------------------------------------------------------------

describe('kill -9 with deliveries in flight, restart on the same data dir', () => {
  const suite = serverSuite(ALLOW_LOOPBACK, 'deliv-restart', { admin: false });
  let rcv;

  before(async () => {
    rcv = await startReceiver(suite, 'restart');
  });

  it('every event is delivered at least once; duplicates carry the same webhook-id', async () => {
    const { server, clients } = suite;
    const N = 12;
    const admin = server.client();
    clients.push(admin);
    const w = await world(server, admin, clients);
    const secret = newSecret();
    // slow receiver: answers after 4 s (within the 10 s timeout), so kill -9 finds them in flight
    rcv.defaultResponse = { status: 200, delayMs: 4000 };
    const action = await w.httpAction({ url: rcv.url('/slow'), timeout_ms: 10000, signing_secret: secret });
    const conn = await w.connection(action.name, {
      retry: { strategy: 'CUSTOM', max_attempts: 10, base_delay_ms: 200, max_delay_ms: 1000, jitter: 0 },
    });
    const ids = [];
    for (let i = 0; i < N; i += 1) ids.push(unique(`rs-ev${i}`));
    const r = await w.isvClient.putEvents(w.connector,
      ids.map((id, i) => entry(w.org, TYPE_CUSTOMER, { id, data: Buffer.from(`{"i":${i}}`) })));
    assert.equal(r.failed_entry_count, 0, describeResp(r));
    // wait until some are in flight (received, not yet answered), then kill -9
    await rcv.waitForRequests(Math.min(4, N), 15000);
    server.kill();
    await server.exited;
    const killedAt = Date.now();
    const beforeKill = rcv.count;
    // requests that reached the receiver and were still unanswered when evbridged died
    const cutOff = rcv.requests.filter((q) => q.status === null).map((q) => q.headers['webhook-id']);
    assert.ok(cutOff.length > 0, `kill -9 should find deliveries in flight:\n${rcv.describe()}`);
    assert.equal(server.exit.signal, 'SIGKILL');
    for (const c of clients.splice(0)) c.close();
    // the receiver becomes fast; deliveries cut off by the kill must come again
    rcv.defaultResponse = { status: 200 };
    await server.start();
    const admin2 = server.client();
    clients.push(admin2);
    const k = await createKey(admin2, 'org-admin', w.org);
    const orgClient = new Client(server.target, k.key);
    clients.push(orgClient);
    const lastTraces = new Map();
    await until(`all ${N} deliveries DELIVERED after the restart`, async () => {
      for (const id of ids) {
        if (lastTraces.has(id) && lastOutcome(lastTraces.get(id), conn.id) === 'DELIVERED') continue;
        const t = await orgClient.unary('events', 'TraceEvent', { event_id: id, org: w.org, connector: w.connector });
        lastTraces.set(id, t);
      }
      return ids.every((id) => lastOutcome(lastTraces.get(id), conn.id) === 'DELIVERED');
    }, {
      timeoutMs: 45000,
      intervalMs: 250,
      describe: () => `${beforeKill} requests before kill -9; receiver:\n${rcv.describe()}\n` +
        ids.map((id) => `${id}: ${lastTraces.has(id) ? summary(lastTraces.get(id), conn.id)
          .map((x) => x.join('/')).join(', ') + ` last=${lastOutcome(lastTraces.get(id), conn.id)}` : '?'}`)
          .join('\n') + `\n${server.logText(4000)}`,
    });
    // receiver side: every event seen; one webhook-id per event, and it is the delivery id
    const byEvent = new Map();
    for (const req of rcv.requests) {
      const ev = req.headers['ce-id'];
      assert.ok(ids.includes(ev), `unexpected event ${ev}`);
      const sig = verifyWebhook(req, secret);
      if (!byEvent.has(ev)) byEvent.set(ev, new Set());
      byEvent.get(ev).add(sig.id);
    }
    for (const id of ids) {
      assert.ok(byEvent.has(id), `event ${id} never reached the receiver:\n${rcv.describe()}`);
      const whIds = [...byEvent.get(id)];
      assert.equal(whIds.length, 1, `event ${id} came with several webhook-ids: ${whIds}`);
      assert.equal(whIds[0], oneDelivery(lastTraces.get(id), conn.id), 'webhook-id = delivery id');
    }
    // each delivery cut off by the kill came again, with its webhook-id, after the restart
    for (const id of cutOff) {
      assert.ok(rcv.requests.some((q) => q.t >= killedAt && q.headers['webhook-id'] === id),
        `delivery ${id} was in flight at kill -9 and never came again:\n${rcv.describe()}`);
    }
    const answered = new Set(rcv.requests.filter((q) => q.status === 200 && !q.aborted)
      .map((q) => q.headers['ce-id']));
    for (const id of ids) assert.ok(answered.has(id), `no request of ${id} was answered 200`);
  });
});
