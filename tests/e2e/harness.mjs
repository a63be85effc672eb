// Starts the real `touchpoint` binary on loopback in a temporary data directory, for the
// end-to-end tests. TOUCHPOINT_BIN names the binary (CTest sets it).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';

export const BIN = process.env.TOUCHPOINT_BIN ?? resolve('build/debug/src/cli/touchpoint');

export function tempDir(prefix = 'tp-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cli(args, options = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', ...options });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

export function createKey(dataDir, kind, name = kind) {
  const r = cli(['key', 'create', kind, name, '--data', dataDir]);
  if (r.status !== 0) throw new Error(`key create failed: ${r.stderr}`);
  return r.stdout.trim();
}

// Starts `touchpoint serve` and resolves once it prints its URL.
export async function startServer({ dataDir, listen = '127.0.0.1:0', extraArgs = [] } = {}) {
  dataDir ??= tempDir();
  const proc = spawn(BIN, ['serve', '--data', dataDir, '--listen', listen, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TOUCHPOINT_LOG: process.env.TOUCHPOINT_LOG ?? 'warn' },
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolveUrl, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (http:\/\/\S+)$/m);
      if (m) resolveUrl(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const exited = once(proc, 'exit');
  return {
    url, dataDir, proc,
    stderr: () => stderr,
    // The exit code, once the process has exited by itself.
    async exited() {
      if (proc.exitCode !== null) return proc.exitCode;
      const [code] = await exited;
      return code;
    },
    // SIGTERM, and the exit code.
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export class Client {
  constructor(url, { writeKey, adminKey } = {}) {
    this.url = url;
    this.writeKey = writeKey;
    this.adminKey = adminKey;
  }

  // POST to an ingestion endpoint; returns { status, body } with body parsed when JSON.
  async send(path, payload, { key = this.writeKey, gzip = false, headers = {}, raw } = {}) {
    let body = raw ?? (typeof payload === 'string' ? payload : JSON.stringify(payload));
    const h = { 'content-type': 'application/json', ...headers };
    if (key !== null && key !== undefined) h.authorization = 'Basic ' + Buffer.from(`${key}:`).toString('base64');
    if (gzip) {
      body = gzipSync(body);
      h['content-encoding'] = 'gzip';
    }
    const res = await fetch(this.url + path, { method: 'POST', headers: h, body });
    return { status: res.status, body: await parse(res), headers: res.headers };
  }

  async admin(method, path, { key = this.adminKey, body } = {}) {
    const h = key ? { authorization: `Bearer ${key}` } : {};
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(this.url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await parse(res), headers: res.headers };
  }

  async card(userId, query = '') {
    return this.admin('GET', `/api/v1/profiles/${encodeURIComponent(userId)}${query}`);
  }
}

async function parse(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// Polls `check` every 100 ms until it returns something truthy, which it returns.
export async function until(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A loopback port that was free a moment ago.
export async function freePort() {
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

// The real SMTP server of the channel tests (aiosmtpd, src/channels/testing/smtp_sink.py): each
// accepted message becomes DIR/NNNN.eml. `port` 0 takes any free one.
export async function startSink(dir, port = 0) {
  mkdirSync(dir, { recursive: true });
  const proc = spawn('/usr/bin/python3', [resolve('src/channels/testing/smtp_sink.py'), '--dir', dir, '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(proc, 'exit');
  const bound = await new Promise((ok, fail) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/READY (\d+)/);
      if (m) ok(Number(m[1]));
    });
    proc.on('exit', (code) => fail(new Error(`smtp sink exited with ${code}`)));
  });
  return {
    port: bound,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    messages: () => readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()
      .map((f) => readFileSync(join(dir, f), 'latin1')),
  };
}
