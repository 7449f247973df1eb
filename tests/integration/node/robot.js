'use strict';
// A fake DingTalk custom robot: a real HTTP server on 127.0.0.1:0 that checks what the real
// robot checks and answers as it does (HTTP 200 with {"errcode": N, "errmsg": ...}).
//
// Checks per request (docs: shared notes "DingTalk custom robot"):
//   - POST, Content-Type JSON, body a JSON object with msgtype text / markdown / actionCard;
//   - access_token equals the configured token;
//   - timestamp (ms) within an hour of now (we also note it must be within 60 s here: same host);
//   - sign = urlencode(base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret))),
//     compared on the decoded value, and the raw query must carry it percent-encoded (no raw
//     '+', '/', '=' that a robot would misread).
// A request that fails a check is answered errcode 310000 like the real robot, and its
// problems are recorded (record.problems), so tests can assert there were none.
//
//   const robot = await new FakeRobot({ token, secret }).start();
//   robot.respond({ errcode: 130101, errmsg: 'send too fast' });   // then errcode 0
//   action.robot.webhook_url = robot.webhookUrl();

const crypto = require('node:crypto');
const { RecordingServer } = require('./recorder');

function robotSign(secret, timestamp) {
  return crypto.createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
}

// Scripted replies (respond(...specs)) are { errcode, errmsg } (HTTP 200) or { status, body }.
class FakeRobot extends RecordingServer {
  constructor({ token, secret, name = 'robot' }) {
    super('robot', name);
    this.token = token;
    this.secret = secret;
  }

  webhookUrl() {
    return `http://127.0.0.1:${this.port}/robot/send?access_token=${this.token}`;
  }

  check(req, rawBody) {
    const problems = [];
    const u = new URL(req.url, 'http://robot.invalid');
    if (req.method !== 'POST') problems.push(`method ${req.method}, expected POST`);
    if (u.pathname !== '/robot/send') problems.push(`path ${u.pathname}`);
    if (u.searchParams.get('access_token') !== this.token) {
      problems.push(`access_token ${u.searchParams.get('access_token')}`);
    }
    const ct = req.headers['content-type'] || '';
    if (!/^application\/json\b/i.test(ct)) problems.push(`content-type ${ct}`);
    const ts = u.searchParams.get('timestamp');
    const rawSign = (u.search.slice(1).split('&').find((p) => p.startsWith('sign=')) || '')
      .slice(5);
    if (!ts || !/^\d{13}$/.test(ts)) {
      problems.push(`timestamp ${ts} is not milliseconds`);
    } else {
      const skew = Math.abs(Date.now() - Number(ts));
      if (skew > 3600 * 1000) problems.push(`timestamp ${ts} is ${skew} ms off (robot limit 1 h)`);
      else if (skew > 60 * 1000) problems.push(`timestamp ${ts} is ${skew} ms off (same host!)`);
    }
    if (!rawSign) {
      problems.push('no sign parameter');
    } else if (ts) {
      const expected = robotSign(this.secret, ts);
      let decoded = null;
      try {
        decoded = decodeURIComponent(rawSign);
      } catch (e) {
        problems.push(`sign ${rawSign} is not percent-decodable`);
      }
      if (decoded !== null && decoded !== expected) {
        problems.push(`sign ${rawSign} decodes to ${decoded}, expected ${expected}`);
      }
      if (/[+/=]/.test(rawSign)) problems.push(`sign ${rawSign} is not URL-encoded`);
    }
    let msg = null;
    try {
      msg = JSON.parse(rawBody.toString('utf8'));
    } catch (e) {
      problems.push(`body is not JSON: ${e.message}`);
    }
    if (msg !== null) {
      const kinds = { text: 'text', markdown: 'markdown', actionCard: 'actionCard' };
      if (!msg || typeof msg !== 'object' || !kinds[msg.msgtype]) {
        problems.push(`msgtype ${msg && msg.msgtype}`);
      } else if (!msg[msg.msgtype] || typeof msg[msg.msgtype] !== 'object') {
        problems.push(`no ${msg.msgtype} member`);
      }
      if (Buffer.byteLength(rawBody) > 20000 + 4096) problems.push('message too large');
    }
    return { problems, msg, timestamp: ts, sign: rawSign, query: u.searchParams };
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const c = this.check(req, body);
      const record = {
        n: this.requests.length + 1,
        url: req.url,
        headers: req.headers,
        body,
        msg: c.msg,
        timestamp: c.timestamp,
        sign: c.sign,
        problems: c.problems,
        t: Date.now(),
        reply: null,
      };
      this.requests.push(record);
      let reply;
      if (c.problems.length) {
        reply = { errcode: 310000, errmsg: `sign not match: ${c.problems.join('; ')}` };
      } else if (this.queue.length) {
        reply = this.queue.shift();
      } else {
        reply = { errcode: 0, errmsg: 'ok' };
      }
      record.reply = reply;
      if (reply.status) {
        res.writeHead(reply.status, { 'content-type': 'text/plain' });
        res.end(reply.body || '');
      } else {
        res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
        res.end(JSON.stringify({ errcode: reply.errcode, errmsg: reply.errmsg }));
      }
      this.notify();
    });
  }

  describe() {
    return this.requests.map((r) => `  #${r.n} t=${r.t} ${r.url} -> ${JSON.stringify(r.reply)}` +
      `${r.problems.length ? ` problems: ${r.problems.join('; ')}` : ''}`).join('\n') ||
      '  (no requests)';
  }
}

module.exports = { FakeRobot, robotSign };
