'use strict';
// EventService through an independent Node client: PutEvents (valid, partial failure,
// dedup), PublishStream (1,000 requests in order), GetEvent round trip (checked with the
// npm cloudevents SDK too), bad keys.
// Run: node --test events.test.js   (EVB_BIN_DIR / EVB_PROTO_DIR as in harness.js)

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { CloudEvent } = require('cloudevents');

const {
  grpc, Client, Server, TYPE_CUSTOMER, TYPE_PRODUCT, TYPE_CONTRACT, unique, entry, newIsv,
  describeResp, serverSuite,
} = require('./harness');

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

async function expectCode(promise, code, what) {
  try {
    const r = await promise;
    assert.fail(`${what}: expected ${code}, got a response ${JSON.stringify(r).slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.code, code, `${what}: expected status ${code}, got ${e.code} ${e.details}`);
    return e;
  }
}

describe('evbridged EventService (Node client)', () => {
  const suite = serverSuite([], 'node');

  async function isv(types) {
    const x = await newIsv(suite.server, suite.admin, types);
    suite.clients.push(x.client);
    return x;
  }

  it('PutEvents: valid entries are PUBLISHED in order', async () => {
    const { client, conn } = await isv();
    const org = unique('org');
    const entries = [
      entry(org, TYPE_CUSTOMER, { id: 'n-valid-1', subject: 'customer/1',
        time: '2024-05-01T10:20:30Z', extensions: { region: 'cn' } }),
      entry(org, TYPE_PRODUCT, { id: 'n-valid-2', data: Buffer.from('[1,2]') }),
      entry(org, TYPE_CUSTOMER, { id: '' }),
      entry(org, TYPE_PRODUCT, { id: 'n-valid-bin', datacontenttype: 'application/octet-stream',
        data: Buffer.from([0, 1, 2, 255]) }),
    ];
    const r = await client.putEvents(conn.name, entries, { requestId: 'node-req-1' });
    assert.equal(r.request_id, 'node-req-1');
    assert.equal(r.failed_entry_count, 0, describeResp(r));
    assert.deepEqual(r.results.map((x) => x.status),
      ['PUBLISHED', 'PUBLISHED', 'PUBLISHED', 'PUBLISHED'], describeResp(r));
    assert.equal(r.results[0].event_id, 'n-valid-1');
    assert.equal(r.results[1].event_id, 'n-valid-2');
    assert.match(r.results[2].event_id, UUID7);
    assert.equal(r.results[3].event_id, 'n-valid-bin');
  });

  it('PutEvents: partial failure keeps order, counts and names the field', async () => {
    const { client, conn } = await isv();
    const org = unique('org');
    const big = Buffer.from(`"${'x'.repeat(262144)}"`);
    const cases = [
      [entry(org, TYPE_CUSTOMER, { id: 'p-ok-1' }), 'PUBLISHED', '', null],
      [entry(org, TYPE_CUSTOMER, { id: 'i'.repeat(129) }), 'REJECTED', 'INVALID_ARGUMENT', 'id'],
      [entry('', TYPE_CUSTOMER, { id: 'p-no-org' }), 'REJECTED', 'INVALID_ARGUMENT', 'org'],
      [entry('bad org/x', TYPE_CUSTOMER, { id: 'p-bad-org' }), 'REJECTED', 'INVALID_ARGUMENT', 'org'],
      [entry(org, TYPE_CONTRACT, { id: 'p-type' }), 'REJECTED', 'UNKNOWN_TYPE', 'type'],
      [entry(org, TYPE_CUSTOMER, { id: 'p-subject', subject: 's'.repeat(513) }), 'REJECTED',
        'INVALID_ARGUMENT', 'subject'],
      [entry(org, TYPE_CUSTOMER, { id: 'p-time', time: '01/05/2024' }), 'REJECTED',
        'INVALID_ARGUMENT', 'time'],
      [entry(org, TYPE_CUSTOMER, { id: 'p-json', data: Buffer.from('{"a":') }), 'REJECTED',
        'INVALID_ARGUMENT', 'data'],
      [entry(org, TYPE_CUSTOMER, { id: 'p-ext', extensions: { 'Bad-Name': 'x' } }), 'REJECTED',
        'INVALID_ARGUMENT', 'extension'],
      [entry(org, TYPE_CUSTOMER, { id: 'p-ext-ctx', extensions: { type: 'x' } }), 'REJECTED',
        'INVALID_ARGUMENT', 'extension'],
      [entry(org, TYPE_CUSTOMER, { id: 'p-big', data: big }), 'REJECTED', 'TOO_LARGE', null],
      [entry(org, TYPE_PRODUCT, { id: 'p-ok-2' }), 'PUBLISHED', '', null],
    ];
    const r = await client.putEvents(conn.name, cases.map((c) => c[0]));
    assert.equal(r.results.length, cases.length, describeResp(r));
    assert.equal(r.failed_entry_count, cases.filter((c) => c[1] === 'REJECTED').length,
      describeResp(r));
    cases.forEach(([e, status, code, word], i) => {
      const res = r.results[i];
      const where = `entry ${i} (${e.id.slice(0, 20)}): ${res.status} ${res.error_code} ` +
        `${res.error_message}`;
      assert.equal(res.status, status, where);
      if (status === 'PUBLISHED') {
        assert.equal(res.event_id, e.id, where);
      } else {
        assert.equal(res.error_code, code, where);
        assert.ok(res.error_message, where);
        if (word) assert.ok(res.error_message.toLowerCase().includes(word), where);
      }
    });
  });

  it('PutEvents: dedup across requests and within one request', async () => {
    const { client, conn } = await isv();
    const org = unique('org');
    let r = await client.putEvents(conn.name, [
      entry(org, TYPE_CUSTOMER, { id: 'd-1', data: Buffer.from('{"v":1}') }),
      entry(org, TYPE_CUSTOMER, { id: 'd-1', data: Buffer.from('{"v":2}') }),
    ]);
    assert.deepEqual(r.results.map((x) => [x.status, x.event_id]),
      [['PUBLISHED', 'd-1'], ['DEDUPLICATED', 'd-1']], describeResp(r));
    assert.equal(r.failed_entry_count, 0);
    r = await client.putEvents(conn.name, [
      entry(org, TYPE_PRODUCT, { id: 'd-1', data: Buffer.from('{"v":3}') }),
      entry(org, TYPE_CUSTOMER, { id: 'd-2' }),
    ]);
    assert.deepEqual(r.results.map((x) => [x.status, x.event_id]),
      [['DEDUPLICATED', 'd-1'], ['PUBLISHED', 'd-2']], describeResp(r));
    // the first event is what is stored
    const ev = await suite.admin.getEvent('d-1', org, conn.name);
    assert.equal(ev.type, TYPE_CUSTOMER);
    assert.deepEqual(JSON.parse(ev.text_data), { v: 1 });
    // the same id in another org is a different event
    r = await client.putEvents(conn.name, [entry(unique('org'), TYPE_CUSTOMER, { id: 'd-1' })]);
    assert.equal(r.results[0].status, 'PUBLISHED', describeResp(r));
  });

  it('PublishStream: 1,000 requests answered in order', async () => {
    const { client, conn } = await isv();
    const org = unique('org');
    const N = 1000;
    const requests = [];
    const expected = [];
    for (let i = 0; i < N; i += 1) {
      const id = `ns-${String(i).padStart(4, '0')}`;
      if (i % 10 === 3) {
        requests.push({ connector: conn.name, request_id: `r${i}`,
          entries: [entry(org, TYPE_CUSTOMER, { id }), entry(org, TYPE_CONTRACT, { id: `${id}-x` })] });
        expected.push([['PUBLISHED', id], ['REJECTED', '']]);
      } else if (i % 10 === 7) {
        const prev = `ns-${String(i - 1).padStart(4, '0')}`;
        requests.push({ connector: conn.name, request_id: `r${i}`,
          entries: [entry(org, TYPE_CUSTOMER, { id: prev })] });
        expected.push([['DEDUPLICATED', prev]]);
      } else {
        requests.push({ connector: conn.name, request_id: `r${i}`,
          entries: [entry(org, TYPE_PRODUCT, { id, data: Buffer.from(`{"i":${i}}`) })] });
        expected.push([['PUBLISHED', id]]);
      }
    }
    const replies = await client.publishStream(requests);
    assert.equal(replies.length, N, `${replies.length} replies to ${N} requests`);
    replies.forEach((resp, i) => {
      assert.equal(resp.request_id, `r${i}`, `reply ${i} out of order`);
      const got = resp.results.map((x) => [x.status, x.status === 'REJECTED' ? '' : x.event_id]);
      assert.deepEqual(got, expected[i], `reply ${i}: ${describeResp(resp)}`);
      const rejected = expected[i].filter((x) => x[0] === 'REJECTED').length;
      assert.equal(resp.failed_entry_count, rejected, `reply ${i}: ${describeResp(resp)}`);
      for (const x of resp.results) {
        if (x.status === 'REJECTED') assert.equal(x.error_code, 'UNKNOWN_TYPE');
      }
    });
    const ev = await suite.admin.getEvent('ns-0001', org, conn.name);
    assert.deepEqual(JSON.parse(ev.text_data), { i: 1 });
  });

  it('GetEvent: the stored CloudEvent has every attribute as sent', async () => {
    const { client, conn } = await isv();
    const org = unique('org');
    const data = { customerId: 'c-9', name: '李四', tags: ['vip'], n: 1.25 };
    const blob = Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]);
    const r = await client.putEvents(conn.name, [
      entry(org, TYPE_CUSTOMER, { id: 'g-json', subject: 'customer/c-9',
        time: '2024-05-01T12:20:30.250+02:00', data: Buffer.from(JSON.stringify(data)),
        extensions: { region: 'cn-shanghai', partner7: 'acme' } }),
      entry(org, TYPE_PRODUCT, { id: 'g-bin', datacontenttype: 'application/octet-stream',
        data: blob, subject: 'blob' }),
    ]);
    assert.equal(r.failed_entry_count, 0, describeResp(r));

    const ev = await suite.admin.getEvent('g-json', org, conn.name);
    assert.equal(ev.id, 'g-json');
    assert.equal(ev.source, `/connectors/${conn.name}`);
    assert.equal(ev.spec_version, '1.0');
    assert.equal(ev.type, TYPE_CUSTOMER);
    const a = ev.attributes;
    const str = (name) => {
      assert.ok(a[name], `attribute ${name} missing: ${JSON.stringify(Object.keys(a))}`);
      assert.equal(a[name].attr, 'ce_string', `attribute ${name} kind`);
      return a[name].ce_string;
    };
    assert.equal(str('subject'), 'customer/c-9');
    assert.equal(str('datacontenttype'), 'application/json');
    assert.equal(str('orgid'), org);
    assert.equal(str('connector'), conn.name);
    assert.equal(str('region'), 'cn-shanghai');
    assert.equal(str('partner7'), 'acme');
    assert.equal(a.time.attr, 'ce_timestamp');
    assert.equal(String(a.time.ce_timestamp.seconds),
      String(Date.parse('2024-05-01T10:20:30Z') / 1000));
    assert.equal(a.time.ce_timestamp.nanos, 250000000);
    assert.equal(ev.data, 'text_data');
    assert.deepEqual(JSON.parse(ev.text_data), data);

    // The npm CloudEvents SDK accepts it as a valid CloudEvent 1.0.
    const iso = new Date(Number(a.time.ce_timestamp.seconds) * 1000 +
      a.time.ce_timestamp.nanos / 1e6).toISOString();
    const ce = new CloudEvent({
      id: ev.id, source: ev.source, type: ev.type, specversion: ev.spec_version,
      subject: str('subject'), time: iso, datacontenttype: str('datacontenttype'),
      orgid: str('orgid'), connector: str('connector'), region: str('region'),
      partner7: str('partner7'), data: JSON.parse(ev.text_data),
    });
    assert.equal(ce.validate(), true);
    assert.equal(ce.orgid, org);

    const bin = await suite.admin.getEvent('g-bin', org, conn.name);
    assert.equal(bin.data, 'binary_data');
    assert.ok(Buffer.isBuffer(bin.binary_data));
    assert.deepEqual(bin.binary_data, blob);
    assert.equal(bin.attributes.datacontenttype.ce_string, 'application/octet-stream');

    await expectCode(suite.admin.getEvent(unique('missing')), grpc.status.NOT_FOUND, 'unknown id');
  });

  it('bad keys are UNAUTHENTICATED, a wrong ISV is PERMISSION_DENIED', async () => {
    const { conn } = await isv();
    const org = unique('org');
    const req = [entry(org, TYPE_CUSTOMER, { id: 'k-1' })];
    const none = new Client(suite.server.target, null);
    suite.clients.push(none);
    await expectCode(none.putEvents(conn.name, req), grpc.status.UNAUTHENTICATED, 'no key');
    await expectCode(none.getEvent('k-1'), grpc.status.UNAUTHENTICATED, 'no key GetEvent');
    await expectCode(none.publishStream([{ connector: conn.name, request_id: '1', entries: req }]),
      grpc.status.UNAUTHENTICATED, 'no key PublishStream');
    const garbage = new Client(suite.server.target, 'not-a-real-key');
    suite.clients.push(garbage);
    await expectCode(garbage.putEvents(conn.name, req), grpc.status.UNAUTHENTICATED, 'garbage key');
    await expectCode(garbage.unary('admin', 'ListApiKeys', {}), grpc.status.UNAUTHENTICATED,
      'garbage key ListApiKeys');
    const other = await isv();
    await expectCode(other.client.putEvents(conn.name, req), grpc.status.PERMISSION_DENIED,
      'isv key of another ISV');
    // health needs no key
    const h = await none.unary('health', 'Check', { service: '' });
    assert.equal(h.status, 'SERVING');
  });
});
