// Process lifecycle: SIGTERM drains in-flight requests and exits 0; clear errors for a taken
// port, an unusable data directory and bad usage; --help on every subcommand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, cli, createKey, removeDir, startServer, tempDir } from './harness.mjs';

test('SIGTERM answers the requests in flight, then exits 0', async () => {
  const dataDir = tempDir();
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  let server = await startServer({ dataDir });
  let c = new Client(server.url, { writeKey, adminKey });
  const requests = Array.from({ length: 20 }, (_, i) =>
    c.send('/v1/batch', { batch: Array.from({ length: 100 }, (_, j) => ({ type: 'track', userId: 'drain-u', event: 'E', messageId: `d-${i}-${j}` })) })
      .then((r) => r.status, (e) => `error: ${e.cause?.code ?? e.message}`));
  await new Promise((r) => setTimeout(r, 30));
  const exit = server.stop();
  const statuses = await Promise.all(requests);
  assert.equal(await exit, 0, server.stderr());
  const answered = statuses.filter((s) => s === 200).length;
  // Requests that reached the server were all answered 200; none got an error status.
  assert.ok(statuses.every((s) => s === 200 || String(s).startsWith('error')), JSON.stringify(statuses));
  assert.ok(answered > 0);

  server = await startServer({ dataDir });
  c = new Client(server.url, { writeKey, adminKey });
  const exp = await c.admin('GET', '/api/v1/profiles/drain-u/export');
  assert.equal(exp.body.timeline.length, answered * 100);
  assert.equal(await server.stop(), 0);
  removeDir(dataDir);
});

test('a taken port is a one-line error and exit status 1', async () => {
  const server = await startServer();
  const port = new URL(server.url).port;
  const r = cli(['serve', '--data', tempDir(), '--listen', `127.0.0.1:${port}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`^touchpoint: cannot listen on 127\\.0\\.0\\.1:${port}: .*in use`, 'm'));
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(await server.stop(), 0);
  removeDir(server.dataDir);
});

test('an unusable data directory is a one-line error', () => {
  const dir = tempDir();
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  const r = cli(['serve', '--data', join(file, 'data'), '--listen', '127.0.0.1:0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^touchpoint: cannot create data directory .*plain-file\/data: Not a directory\n$/);
  const env = cli(['key', 'create', 'write', 'x'], { env: { ...process.env, TOUCHPOINT_DATA: file } });
  assert.equal(env.status, 1);
  assert.match(env.stderr, /data directory .*plain-file is not a directory/);
  removeDir(dir);
});

test('usage errors exit 1 with one line; --help exits 0 everywhere', () => {
  for (const args of [['serve', '--bogus'], ['key', 'create', 'root', 'x'], [], ['serve', '--listen', 'nowhere'],
    ['serve', '--listen', '127.0.0.1:99999'], ['import'], ['frobnicate']]) {
    const r = cli(args, { env: { ...process.env, TOUCHPOINT_DATA: tempDir() } });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^touchpoint: .+\n$/, `${args.join(' ')}: ${r.stderr}`);
  }
  for (const args of [['--help'], ['serve', '--help'], ['key', '--help'], ['key', 'create', '--help'], ['import', '--help']]) {
    const r = cli(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /Usage|Options|OPTIONS/i);
  }
});

test('key create prints only the key', () => {
  const dir = tempDir();
  const r = cli(['key', 'create', 'write', 'website', '--data', dir]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^tp_w_[0-9a-f]{64}\n$/);
  removeDir(dir);
});
