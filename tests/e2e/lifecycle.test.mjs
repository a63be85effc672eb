// Process lifecycle: SIGTERM drains in-flight requests and exits 0; clear errors for a taken
// port, an unusable data directory and bad usage; --help on every subcommand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { once } from 'node:events';
import { Client, cli, createKey, removeDir, startServer, tempDir } from './harness.mjs';

test('SIGTERM finishes the request in flight, refuses new connections, then exits 0', async () => {
  const dataDir = tempDir();
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  let server = await startServer({ dataDir });
  const { hostname, port } = new URL(server.url);

  // A request whose body is only half sent: the server has read its headers, so it is in flight.
  const body = JSON.stringify({ batch: [{ type: 'track', userId: 'drain-u', event: 'E', messageId: 'd-1' }] });
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let response = '';
  socket.on('data', (d) => { response += d; });
  const closed = once(socket, 'close');
  socket.write(`POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Authorization: Basic ${Buffer.from(writeKey + ':').toString('base64')}\r\nContent-Length: ${body.length}\r\n\r\n` +
    body.slice(0, 10));
  // In flight while /metrics renders: the /metrics request itself and the half-sent one.
  const inFlight = async () => Number((await (await fetch(server.url + '/metrics', { headers: { connection: 'close' } })).text())
    .match(/^touchpoint_http_requests_in_flight (\d+)$/m)[1]);
  while (await inFlight() < 2) await new Promise((r) => setTimeout(r, 20));

  server.proc.kill('SIGTERM');
  // The listening socket closes; the server keeps running for the request in flight.
  let refused = false;
  for (let i = 0; i < 500 && !refused; i++) {
    await new Promise((r) => setTimeout(r, 20));
    refused = await fetch(server.url + '/healthz').then(() => false, () => true);
  }
  assert.ok(refused, 'new connections are refused while draining');
  assert.equal(server.proc.exitCode, null, 'still running while a request is in flight');

  socket.write(body.slice(10));
  await closed;
  assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(response, /connection: close/i);
  assert.match(response, /\{"success":true\}$/);
  assert.equal(await server.exited(), 0, server.stderr());

  server = await startServer({ dataDir });
  const exp = await new Client(server.url, { adminKey }).admin('GET', '/api/v1/profiles/drain-u/export');
  assert.deepEqual(exp.body.timeline.map((e) => e.messageId), ['d-1']);
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
  for (const [args, path] of [[['frobnicate'], 'touchpoint'], [['journey', 'frobnicate'], 'touchpoint journey']]) {
    const r = cli(args);
    assert.equal(r.stderr, `touchpoint: unknown command 'frobnicate' (see ${path} --help)\n`);
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
