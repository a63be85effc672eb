// HTTP contract tests (product.md §3): every ingestion endpoint and error, the customer card,
// export, erasure, /healthz and /metrics, against the real server over loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { Client, createKey, removeDir, startServer, tempDir } from './harness.mjs';

let server, c, dataDir, writeKey, adminKey;

before(async () => {
  dataDir = tempDir();
  writeKey = createKey(dataDir, 'write');
  adminKey = createKey(dataDir, 'admin');
  server = await startServer({ dataDir });
  c = new Client(server.url, { writeKey, adminKey });
});

after(async () => {
  assert.equal(await server.stop(), 0, server.stderr());
  removeDir(dataDir);
});

const ok = { success: true };

test('every single-message endpoint accepts its message and shows it on the card', async () => {
  const u = 'contract-u1';
  const calls = [
    ['/v1/identify', { userId: u, anonymousId: 'anon-1', traits: { email: 'asa@example.se', owner: 'erik', city: 'Stockholm' }, messageId: 'c-1' }],
    ['/v1/track', { userId: u, event: 'Form Submitted', properties: { form: 'whitepaper' }, messageId: 'c-2' }],
    ['/v1/page', { userId: u, name: 'Pricing', properties: { url: 'https://example.se/pricing' }, messageId: 'c-3' }],
    ['/v1/screen', { userId: u, name: 'Home', messageId: 'c-4' }],
    ['/v1/group', { userId: u, groupId: 'acme', traits: { name: 'Acme AB', role: 'CFO' }, messageId: 'c-5' }],
    ['/v1/alias', { userId: u, previousId: 'old-id', messageId: 'c-6' }],
  ];
  for (const [path, msg] of calls) {
    const r = await c.send(path, msg);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body, ok);
  }
  const card = await c.card(u);
  assert.equal(card.status, 200);
  assert.equal(card.body.userId, u);
  assert.deepEqual(card.body.anonymousIds, ['anon-1', 'old-id']);
  assert.equal(card.body.owner, 'erik');
  assert.equal(card.body.traits.city, 'Stockholm');
  assert.equal(card.body.groups[0].groupId, 'acme');
  assert.deepEqual(card.body.timeline.map((e) => e.messageId), ['c-6', 'c-5', 'c-4', 'c-3', 'c-2', 'c-1']);
  const track = card.body.timeline.find((e) => e.type === 'track');
  assert.equal(track.event, 'Form Submitted');
  assert.deepEqual(track.properties, { form: 'whitepaper' });
  for (const e of card.body.timeline) {
    assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(e.receivedAt, /^\d{4}-\d\d-\d\dT/);
  }
  assert.ok(card.body.firstSeen && card.body.lastSeen);
});

test('batch, short analytics.js paths, writeKey in the body, gzip and CORS', async () => {
  const r = await c.send('/v1/batch', {
    batch: [
      { type: 'track', userId: 'batch-u', event: 'A', messageId: 'b-1' },
      { type: 'identify', userId: 'batch-u', traits: { plan: 'gold' }, messageId: 'b-2' },
    ],
  });
  assert.equal(r.status, 200);
  const short = await c.send('/v1/t', { userId: 'batch-u', event: 'B', messageId: 'b-3', writeKey }, { key: null });
  assert.equal(short.status, 200, JSON.stringify(short.body));
  const zipped = await c.send('/v1/track', { userId: 'batch-u', event: 'C', messageId: 'b-4' }, { gzip: true });
  assert.equal(zipped.status, 200);
  const preflight = await fetch(server.url + '/v1/batch', { method: 'OPTIONS' });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  const card = await c.card('batch-u');
  assert.deepEqual(card.body.timeline.map((e) => e.messageId).sort(), ['b-1', 'b-2', 'b-3', 'b-4']);
  assert.equal(card.body.traits.plan, 'gold');
});

test('a re-sent messageId is acknowledged and ignored', async () => {
  const msg = { userId: 'dup-u', event: 'Order Completed', messageId: 'dup-1', properties: { total: 100 } };
  assert.equal((await c.send('/v1/track', msg)).status, 200);
  assert.equal((await c.send('/v1/track', { ...msg, properties: { total: 999 } })).status, 200);
  const card = await c.card('dup-u');
  assert.equal(card.body.timeline.length, 1);
  assert.equal(card.body.timeline[0].properties.total, 100);
});

test('clock skew is corrected from sentAt as Segment documents', async () => {
  const now = Date.now();
  // The device clock is 2 hours ahead; it sent the event 5 s after it happened.
  const deviceNow = now + 2 * 3600e3;
  await c.send('/v1/batch', {
    sentAt: new Date(deviceNow).toISOString(),
    batch: [{ type: 'track', userId: 'skew-u', event: 'A', messageId: 'skew-1', timestamp: new Date(deviceNow - 5000).toISOString() }],
  });
  const e = (await c.card('skew-u')).body.timeline[0];
  const corrected = Date.parse(e.timestamp);
  assert.ok(Math.abs(corrected - (Date.parse(e.receivedAt) - 5000)) < 5, `${e.timestamp} vs ${e.receivedAt}`);
});

test('bad input is answered 400 with the field named', async () => {
  const cases = [
    ['/v1/track', '{"userId":"u","event":', 'body', /byte offset 22/],
    ['/v1/track', { event: 'A' }, 'userId', /neither userId nor anonymousId/],
    ['/v1/track', { userId: 'u', event: 'A', properties: 'x' }, 'properties', /expected an object, got a string/],
    ['/v1/identify', { userId: ['u'] }, 'userId', /expected a string, got an array/],
    ['/v1/track', { userId: 'u', event: 'A', timestamp: 'last tuesday' }, 'timestamp', /cannot parse "last tuesday"/],
    ['/v1/track', { userId: 'u' }, 'event', /missing/],
    ['/v1/group', { userId: 'u' }, 'groupId', /missing/],
    ['/v1/alias', { userId: 'u' }, 'previousId', /missing/],
    ['/v1/batch', { batch: [{ type: 'track', userId: 'u', event: 'A' }, { type: 'purchase', userId: 'u' }] }, 'batch[1].type', /unknown message type "purchase"/],
    ['/v1/batch', { batch: 'nope' }, 'batch', /expected an array/],
  ];
  for (const [path, payload, field, message] of cases) {
    const r = await c.send(path, payload);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(payload)}`);
    assert.equal(r.body.success, false);
    assert.equal(r.body.field, field);
    assert.match(r.body.error, message);
  }
});

test('one bad message rejects the whole batch', async () => {
  const r = await c.send('/v1/batch', {
    batch: [
      { type: 'track', userId: 'half-u', event: 'A', messageId: 'half-1' },
      { type: 'track', userId: 'half-u', event: 'B', messageId: 'half-2', timestamp: 'bad' },
    ],
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.field, 'batch[1].timestamp');
  assert.equal((await c.card('half-u')).status, 404);
});

test('401 without a valid write key, 405 for a wrong method', async () => {
  const msg = { userId: 'u', event: 'A' };
  assert.equal((await c.send('/v1/track', msg, { key: null })).status, 401);
  assert.equal((await c.send('/v1/track', msg, { key: 'tp_w_unknown' })).status, 401);
  assert.equal((await c.send('/v1/track', msg, { key: adminKey })).status, 401);
  assert.equal((await c.send('/v1/track', msg, { headers: { authorization: 'Bearer x' }, key: null })).status, 401);
  const get = await fetch(server.url + '/v1/track', { headers: { authorization: 'Basic ' + Buffer.from(writeKey + ':').toString('base64') } });
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST, OPTIONS');
  assert.equal((await c.admin('GET', '/api/v1/profiles/u', { key: null })).status, 401);
  assert.equal((await c.admin('GET', '/api/v1/profiles/u', { key: writeKey })).status, 401);
  assert.equal((await c.admin('PUT', '/api/v1/profiles/contract-u1')).status, 405);
});

test('413 over the size limits, also after gunzip', async () => {
  const big = { userId: 'u', event: 'A', properties: { blob: 'x'.repeat(33 * 1024) } };
  assert.equal((await c.send('/v1/track', big)).status, 413);
  const batch = { batch: Array.from({ length: 30 }, (_, i) => ({ type: 'track', userId: 'u', event: 'A', properties: { blob: 'y'.repeat(20000 + i) } })) };
  assert.equal((await c.send('/v1/batch', batch)).status, 413);
  const huge = JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'A', properties: { blob: 'z'.repeat(2_000_000) } }] });
  const r = await c.send('/v1/batch', huge, { gzip: true });
  assert.equal(r.status, 413);
  const raw = await c.send('/v1/batch', huge);
  assert.equal(raw.status, 413);
});

test('the card pages its timeline newest first with a cursor', async () => {
  const batch = Array.from({ length: 25 }, (_, i) => ({
    type: 'track', userId: 'page-u', event: `E${i}`, messageId: `p-${i}`,
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  }));
  assert.equal((await c.send('/v1/batch', { batch })).status, 200);
  const seen = [];
  let cursor = null;
  do {
    const r = await c.card('page-u', `?limit=10${cursor ? `&before=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200);
    seen.push(...r.body.timeline.map((e) => e.messageId));
    cursor = r.body.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => `p-${24 - i}`));
  assert.equal((await c.card('page-u', '?limit=0')).status, 400);
  assert.equal((await c.card('page-u', '?before=garbage')).body.field, 'before');
  assert.equal((await c.card('nobody-ever')).status, 404);
});

test('export answers everything; erasure removes the person and blocks replays', async () => {
  const u = 'gdpr-u';
  const identify = { userId: u, anonymousId: 'gdpr-anon', traits: { email: 'p@example.dk' }, messageId: 'g-1', context: { consent: { categoryPreferences: { marketing: true } } } };
  await c.send('/v1/identify', identify);
  await c.send('/v1/track', { anonymousId: 'gdpr-anon', event: 'Viewed', messageId: 'g-2' });
  const exp = await c.admin('GET', `/api/v1/profiles/${u}/export`);
  assert.equal(exp.status, 200);
  assert.equal(exp.body.traits.email, 'p@example.dk');
  assert.deepEqual(exp.body.consent, { categoryPreferences: { marketing: true } });
  assert.ok(exp.body.traitUpdatedAt.email);
  assert.equal(exp.body.timeline.length, 2);

  const del = await c.admin('DELETE', `/api/v1/profiles/${u}`);
  assert.equal(del.status, 200);
  assert.equal((await c.card(u)).status, 404);
  assert.equal((await c.admin('GET', `/api/v1/profiles/${u}/export`)).status, 404);
  assert.equal((await c.admin('DELETE', `/api/v1/profiles/${u}`)).status, 404);
  // Replays of old events are acknowledged and dropped.
  assert.equal((await c.send('/v1/identify', identify)).status, 200);
  assert.equal((await c.send('/v1/track', { anonymousId: 'gdpr-anon', userId: 'someone-new', event: 'X', messageId: 'g-3' })).status, 200);
  assert.equal((await c.card(u)).status, 404);
  assert.equal((await c.card('someone-new')).status, 404);
  // Nothing personal reached the log.
  assert.ok(!server.stderr().includes('p@example.dk'));
});

test('/healthz without a key, /metrics in Prometheus text', async () => {
  const h = await fetch(server.url + '/healthz');
  assert.equal(h.status, 200);
  const m = await fetch(server.url + '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /^text\/plain/);
  const text = await m.text();
  for (const name of ['touchpoint_http_requests_total', 'touchpoint_events_accepted_total', 'touchpoint_events_rejected_total',
    'touchpoint_commit_seconds_bucket', 'touchpoint_write_queue_depth']) {
    assert.match(text, new RegExp(`^${name}`, 'm'), name);
  }
  assert.match(text, /touchpoint_http_requests_total\{route="\/v1\/track",code="400"\} [1-9]/);
  assert.equal((await fetch(server.url + '/nothing-here')).status, 404);
});
