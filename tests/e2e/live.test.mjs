// Live journeys (serve --journeys): effects on the customer card, the journey, stats, enter and
// task endpoints, and `kill -9` while timers fire: every due step happens exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, createKey, removeDir, startServer, tempDir, until } from './harness.mjs';

const TRIAL = `id: trial
name: Trial follow-up
send_type: transactional
entry: {event: Trial Started}
goal: {event: Meeting Booked}
steps:
  - id: welcome
    send: {channel: email, template: welcome}
  - id: call
    delay: 2s
    task: {template: call-lead}
  - id: bye
    delay: 1h
    send: {channel: email, template: bye}
`;

const VIP = `id: vip
name: VIP treatment
send_type: transactional
entry: {api: true}
steps:
  - id: vip-sms
    send: {channel: sms, template: vip}
`;

// Re-entry always: an event consumed twice would start a second instance and show as a second send.
const TICK = `id: tick
name: Tick
send_type: transactional
entry: {event: Tick Started, reentry: always}
steps:
  - id: tick
    delay: 1s
    send: {channel: email, template: tick}
`;

function journeysDir(files) {
  const dir = tempDir('tp-journeys-');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function journeyEvents(card, event, step) {
  return card.timeline.filter((e) => e.event === event && e.properties?.step === step);
}

test('live journeys: card timeline, journeys, stats, tasks, enter, erasure', async () => {
  const dataDir = tempDir();
  const dir = journeysDir({ 'trial.yaml': TRIAL, 'vip.yaml': VIP });
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir, extraArgs: ['--journeys', dir] });
  const c = new Client(server.url, { writeKey, adminKey });
  try {
    assert.equal((await c.send('/v1/identify', { userId: 'ann', traits: { email: 'ann@example.com', phone: '+46701234567', owner: 'sara' } })).status, 200);
    assert.equal((await c.send('/v1/track', { userId: 'ann', event: 'Trial Started' })).status, 200);

    // The welcome email shows on the card as soon as the runner has taken the event.
    const card = await until('the welcome send on the card', async () => {
      const r = await c.card('ann');
      return journeyEvents(r.body, 'Journey Message Sent', 'welcome').length === 1 ? r.body : null;
    });
    const sent = journeyEvents(card, 'Journey Message Sent', 'welcome')[0];
    assert.deepEqual(
      { journey: sent.properties.journey, channel: sent.properties.channel, template: sent.properties.template },
      { journey: 'trial', channel: 'email', template: 'welcome' });
    assert.equal(journeyEvents(card, 'Journey Entered', 'welcome').length, 1);

    const list = await c.admin('GET', '/api/v1/journeys');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.journeys.map((j) => [j.id, j.entry]), [['trial', 'event'], ['vip', 'api']]);
    assert.equal(list.body.journeys[0].active, 1);

    // After the 2 s delay: a call task for the owner.
    const tasks = await until('the call task', async () => {
      const r = await c.admin('GET', '/api/v1/tasks?assignee=sara');
      assert.equal(r.status, 200);
      return r.body.tasks.length === 1 ? r.body.tasks : null;
    });
    assert.deepEqual([tasks[0].userId, tasks[0].journey, tasks[0].step, tasks[0].template, tasks[0].assignee, tasks[0].doneAt],
      ['ann', 'trial', 'call', 'call-lead', 'sara', null]);
    assert.deepEqual((await c.admin('GET', '/api/v1/tasks?assignee=nobody')).body.tasks, []);
    const done = await c.admin('POST', `/api/v1/tasks/${tasks[0].id}/done`);
    assert.equal(done.status, 200);
    assert.ok(done.body.task.doneAt);
    assert.deepEqual((await c.admin('GET', '/api/v1/tasks?assignee=sara')).body.tasks, []);
    assert.equal((await c.admin('POST', '/api/v1/tasks/999999/done')).status, 404);
    assert.equal((await c.admin('GET', `/api/v1/tasks/${tasks[0].id}/done`)).status, 405);

    let stats = (await c.admin('GET', '/api/v1/journeys/trial/stats')).body;
    const step = (s) => stats.steps.find((x) => x.step === s);
    assert.equal(stats.active, 1);
    assert.deepEqual([step('welcome').entered, step('welcome').sent], [1, 1]);
    assert.deepEqual([step('call').entered, step('call').task], [1, 1]);
    assert.deepEqual([step('bye').entered, step('bye').waiting], [1, 1]);

    // The goal acts at once, in the middle of the 1 h wait.
    assert.equal((await c.send('/v1/track', { userId: 'ann', event: 'Meeting Booked' })).status, 200);
    stats = await until('the goal', async () => {
      const s = (await c.admin('GET', '/api/v1/journeys/trial/stats')).body;
      return s.active === 0 ? s : null;
    });
    assert.deepEqual([step('bye').goal, step('bye').exited, step('bye').sent, step('bye').waiting], [1, 1, 0, 0]);

    // The enter API.
    const entered = await c.admin('POST', '/api/v1/journeys/vip/enter', { body: { userId: 'ann', properties: { reason: 'big order' } } });
    assert.equal(entered.status, 202);
    assert.ok(entered.body.messageId);
    await until('the vip sms', async () =>
      journeyEvents((await c.card('ann')).body, 'Journey Message Sent', 'vip-sms').length === 1);
    assert.equal((await c.admin('POST', '/api/v1/journeys/trial/enter', { body: { userId: 'ann' } })).status, 409);
    assert.equal((await c.admin('POST', '/api/v1/journeys/nope/enter', { body: { userId: 'ann' } })).status, 404);
    const bad = await c.admin('POST', '/api/v1/journeys/vip/enter', { body: { properties: {} } });
    assert.deepEqual([bad.status, bad.body.field], [400, 'userId']);
    assert.equal((await c.admin('GET', '/api/v1/journeys/vip/stats', { key: null })).status, 401);

    // Erasure takes the journey state too.
    assert.equal((await c.admin('DELETE', '/api/v1/profiles/ann')).status, 200);
    assert.equal((await c.card('ann')).status, 404);
    assert.deepEqual((await c.admin('GET', '/api/v1/tasks')).body.tasks, []);
  } finally {
    await server.stop();
    removeDir(dataDir);
    removeDir(dir);
  }
});

test('kill -9 while timers fire: every due step happens exactly once', async () => {
  const USERS = 120;
  const dataDir = tempDir();
  const dir = journeysDir({ 'tick.yaml': TICK });
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  let server = await startServer({ dataDir, extraArgs: ['--journeys', dir] });
  let c = new Client(server.url, { writeKey, adminKey });
  try {
    // Entries spread over ~3 s, so timers come due all through the window of the kill.
    const acked = [];
    const started = Date.now();
    for (let u = 0; u < USERS; u++) {
      const userId = `tick-u${u}`;
      const r = await c.send('/v1/batch', { batch: [
        { type: 'identify', userId, traits: { email: `${userId}@example.com` }, messageId: `id-${u}` },
        { type: 'track', userId, event: 'Tick Started', messageId: `start-${u}` },
      ] });
      assert.equal(r.status, 200);
      acked.push(userId);
      const due = started + (u + 1) * (3000 / USERS);
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    // The first timers have fired (their entries are > 1 s old); the last ones are still waiting.
    const before = await until('the first ticks', async () => {
      const s = (await c.admin('GET', '/api/v1/journeys/tick/stats')).body.steps[0];
      return s.sent > 0 ? s : null;
    });
    await server.kill9();
    assert.ok(before.sent > 0 && before.sent < USERS, `the kill came while timers were firing (sent ${before.sent} of ${USERS})`);

    server = await startServer({ dataDir, extraArgs: ['--journeys', dir] });
    c = new Client(server.url, { writeKey, adminKey });
    const stats = await until('every tick sent', async () => {
      const s = (await c.admin('GET', '/api/v1/journeys/tick/stats')).body;
      return s.active === 0 ? s : null;
    });
    assert.deepEqual([stats.steps[0].entered, stats.steps[0].sent, stats.steps[0].exited], [USERS, USERS, USERS]);
    for (const userId of acked) {
      const card = await until(`the echo for ${userId}`, async () => {
        const r = await c.card(userId, '?limit=1000');
        return journeyEvents(r.body, 'Journey Exited', 'tick').length > 0 ? r.body : null;
      });
      assert.equal(journeyEvents(card, 'Journey Entered', 'tick').length, 1, `${userId} entered once`);
      assert.equal(journeyEvents(card, 'Journey Message Sent', 'tick').length, 1, `${userId} got the tick once`);
    }
  } finally {
    await server.stop();
    removeDir(dataDir);
    removeDir(dir);
  }
});
