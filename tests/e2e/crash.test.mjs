// Crash test: batches with unique messageIds under load, `kill -9` mid-load, restart: every
// acknowledged messageId is stored exactly once. Then every batch is sent again (a client's
// retry after the crash): still exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, createKey, removeDir, startServer, tempDir } from './harness.mjs';

const WORKERS = 8;
const USERS = 16;
const PER_BATCH = 50;

test('kill -9 mid-load loses no acknowledged event and duplicates none', async () => {
  const dataDir = tempDir();
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  let server = await startServer({ dataDir });
  let c = new Client(server.url, { writeKey, adminKey });

  const acked = new Set();
  const sentBatches = [];
  let stop = false;
  async function worker(w) {
    for (let n = 0; !stop; n++) {
      const batch = Array.from({ length: PER_BATCH }, (_, j) => ({
        type: 'track', userId: `crash-u${(w * 7 + n + j) % USERS}`, event: 'Load', messageId: `w${w}-${n}-${j}`,
        properties: { n, j },
      }));
      sentBatches.push(batch);
      try {
        const r = await c.send('/v1/batch', { batch });
        if (r.status === 200) for (const m of batch) acked.add(m.messageId);
        else throw new Error(`status ${r.status}`);
      } catch {
        return;  // the server is gone
      }
    }
  }
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, 2000));
  await server.kill9();
  stop = true;
  await Promise.all(workers);
  assert.ok(acked.size > 0, 'some batches were acknowledged before the kill');

  server = await startServer({ dataDir });
  c = new Client(server.url, { writeKey, adminKey });
  async function storedIds() {
    const ids = [];
    for (let u = 0; u < USERS; u++) {
      const r = await c.admin('GET', `/api/v1/profiles/crash-u${u}/export`);
      if (r.status === 404) continue;
      assert.equal(r.status, 200);
      ids.push(...r.body.timeline.map((e) => e.messageId));
    }
    return ids;
  }
  let ids = await storedIds();
  const counts = new Map();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const id of acked) assert.equal(counts.get(id), 1, `acknowledged ${id} stored ${counts.get(id) ?? 0} times`);
  for (const [id, n] of counts) assert.equal(n, 1, `${id} stored ${n} times`);

  // Clients retry everything they sent; nothing is stored twice.
  for (const batch of sentBatches) assert.equal((await c.send('/v1/batch', { batch })).status, 200);
  ids = await storedIds();
  assert.equal(new Set(ids).size, ids.length, 'no messageId is stored twice');
  assert.equal(ids.length, sentBatches.length * PER_BATCH);

  assert.equal(await server.stop(), 0, server.stderr());
  removeDir(dataDir);
});
