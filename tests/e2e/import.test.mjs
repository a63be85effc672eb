// touchpoint import: CSV of people and JSONL of Segment messages, errors as file:line:col,
// --strict, idempotent re-runs, and importing while the server runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, cli, createKey, removeDir, startServer, tempDir } from './harness.mjs';

const CSV = [
  'userId,email,age,vip,postcode,city',
  'imp-1,ane@example.dk,34,true,0150,København',
  'imp-2,bo@example.dk,41,false,8000,"Aarhus, C"',
  'imp-3,cai@example.dk,not-a-number,true,9000,Aalborg',
  ',nobody@example.dk,20,false,1000,Odense',
  'imp-5,eva@example.dk,29,false,5000,Odense',
].join('\n') + '\n';

test('CSV import: typed traits, bad rows named, idempotent, visible to a running server', async () => {
  const dataDir = tempDir();
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir });
  const file = join(dataDir, 'people.csv');
  writeFileSync(file, CSV);

  const first = cli(['import', '--data', dataDir, '--types', 'age:number', file]);
  assert.equal(first.status, 1, 'bad rows make the exit status 1');
  assert.match(first.stderr, new RegExp(`${file}:4:\\d+: column "age": "not-a-number" is not a number`));
  assert.match(first.stderr, new RegExp(`${file}:5:1: the id column "userId" is empty`));
  assert.match(first.stderr, /imported 3 rows .*: 3 new, 0 already imported, .*2 bad rows/);

  const again = cli(['import', '--data', dataDir, '--types', 'age:number', file]);
  assert.match(again.stderr, /3 rows .*: 0 new, 3 already imported/);

  const c = new Client(server.url, { adminKey });
  const card = await c.card('imp-1');
  assert.equal(card.status, 200);
  assert.deepEqual(card.body.traits, { age: 34, city: 'København', email: 'ane@example.dk', postcode: '0150', vip: true });
  assert.equal(card.body.timeline.length, 1);
  assert.equal((await c.card('imp-2')).body.traits.city, 'Aarhus, C');
  assert.equal((await c.card('imp-3')).status, 404);
  assert.equal(await server.stop(), 0);
  removeDir(dataDir);
});

test('--strict imports nothing when a row is bad', async () => {
  const dataDir = tempDir();
  const file = join(dataDir, 'people.csv');
  writeFileSync(file, CSV);
  const r = cli(['import', '--strict', '--data', dataDir, '--types', 'age:number', file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /2 bad rows .*nothing imported \(--strict\)/);
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir });
  assert.equal((await new Client(server.url, { adminKey }).card('imp-1')).status, 404);
  await server.stop();
  removeDir(dataDir);
});

test('JSONL of Segment messages, and file-level errors', async () => {
  const dataDir = tempDir();
  const file = join(dataDir, 'export.jsonl');
  writeFileSync(file, [
    JSON.stringify({ type: 'identify', userId: 'j-1', traits: { plan: 'gold' }, messageId: 'x1', timestamp: '2025-05-01T10:00:00Z' }),
    JSON.stringify({ type: 'track', userId: 'j-1', event: 'Order Completed', properties: { revenue: 990 }, messageId: 'x2', timestamp: '2025-05-02T10:00:00Z' }),
    '{"type":"track","userId":"j-1","event":"Broken"',
  ].join('\n') + '\n');
  const r = cli(['import', '--data', dataDir, file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${file}:3:\\d+: body: not valid JSON at byte offset \\d+`));
  assert.match(r.stderr, /imported 2 rows .*: 2 new/);
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir });
  const card = await new Client(server.url, { adminKey }).card('j-1');
  assert.deepEqual(card.body.timeline.map((e) => e.messageId), ['x2', 'x1']);
  assert.equal(card.body.firstSeen, '2025-05-01T10:00:00.000Z');
  await server.stop();

  const missing = cli(['import', '--data', dataDir, join(dataDir, 'nope.csv')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^touchpoint: cannot read .*nope\.csv\n$/);
  const noId = join(dataDir, 'noid.csv');
  writeFileSync(noId, 'email\nx@y\n');
  const bad = cli(['import', '--data', dataDir, noId]);
  assert.match(bad.stderr, new RegExp(`^touchpoint: ${noId}:1:1: no column "userId" in the header row`));
  removeDir(dataDir);
});
