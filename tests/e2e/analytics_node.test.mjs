// The unmodified @segment/analytics-node client from npm, pointed at Touchpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Analytics } from '@segment/analytics-node';
import { Client, createKey, removeDir, startServer, tempDir } from './harness.mjs';

test('@segment/analytics-node identify/track/page/group/alias arrive on the customer card', async () => {
  const dataDir = tempDir();
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir });
  try {
    const analytics = new Analytics({ writeKey, host: server.url, maxEventsInBatch: 3, flushInterval: 50 });
    const errors = [];
    analytics.on('error', (e) => errors.push(e));
    analytics.identify({ anonymousId: 'seg-anon', userId: 'seg-u1', traits: { email: 'kari@example.no', owner: 'ola' } });
    analytics.track({ userId: 'seg-u1', event: 'Form Submitted', properties: { form: 'whitepaper' } });
    analytics.page({ userId: 'seg-u1', name: 'Pricing', properties: { path: '/pricing' } });
    analytics.group({ userId: 'seg-u1', groupId: 'fjord-as', traits: { name: 'Fjord AS' } });
    analytics.alias({ userId: 'seg-u1', previousId: 'seg-old' });
    analytics.track({ anonymousId: 'seg-anon', event: 'Webinar Watched', properties: { percent: 80 }, timestamp: new Date('2026-01-01T10:00:00Z') });
    await analytics.closeAndFlush({ timeout: 10000 });
    assert.deepEqual(errors, []);

    const card = await new Client(server.url, { adminKey }).card('seg-u1');
    assert.equal(card.status, 200, JSON.stringify(card.body));
    assert.equal(card.body.owner, 'ola');
    assert.equal(card.body.traits.email, 'kari@example.no');
    assert.deepEqual(card.body.anonymousIds.sort(), ['seg-anon', 'seg-old']);
    assert.deepEqual(card.body.groups.map((g) => g.groupId), ['fjord-as']);
    const types = card.body.timeline.map((e) => e.type).sort();
    assert.deepEqual(types, ['alias', 'group', 'identify', 'page', 'track', 'track']);
    const webinar = card.body.timeline.find((e) => e.event === 'Webinar Watched');
    assert.equal(webinar.properties.percent, 80);
    // The client's library context arrives untouched.
    assert.equal(webinar.context.library.name, '@segment/analytics-node');
    // An explicit historical timestamp survives the skew correction (the client's clock is ours).
    assert.ok(Math.abs(Date.parse(webinar.timestamp) - Date.parse('2026-01-01T10:00:00Z')) < 2000, webinar.timestamp);
  } finally {
    assert.equal(await server.stop(), 0, server.stderr());
    removeDir(dataDir);
  }
});
