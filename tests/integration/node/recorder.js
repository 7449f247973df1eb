'use strict';
// The common part of the fake HTTP targets of the delivery tests (receiver.js, robot.js): an
// http.createServer on 127.0.0.1:0 that keeps its requests (this.requests, in arrival order),
// a queue of scripted replies (respond), waiting for a number of requests, and a close that
// drops open connections and pending delayed answers. A subclass implements handle(req, res),
// pushes each record to this.requests and then calls this.notify().

const http = require('node:http');

class RecordingServer {
  // kind names the target in messages ("receiver", "robot").
  constructor(kind, name) {
    this.kind = kind;
    this.name = name;
    this.requests = [];
    this.queue = [];
    this.sockets = new Set();
    this.timers = new Set();
    this.listeners = new Set();
    this.server = null;
    this.port = null;
  }

  async start() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    this.port = this.server.address().port;
    return this;
  }

  // Scripted replies for the next requests, in order (their form is the subclass's).
  respond(...specs) {
    this.queue.push(...specs);
    return this;
  }

  get count() {
    return this.requests.length;
  }

  // Wakes waitForRequests: call after each new record.
  notify() {
    for (const l of [...this.listeners]) l();
  }

  // Resolves once at least n requests arrived; rejects after timeoutMs with what was seen.
  waitForRequests(n, timeoutMs = 15000) {
    if (this.requests.length >= n) return Promise.resolve(this.requests);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.requests.length >= n) {
          cleanup();
          resolve(this.requests);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.kind} ${this.name}: ${this.requests.length} of ${n} requests ` +
          `after ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  async close() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (!this.server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }
}

module.exports = { RecordingServer };
