// Delivery in live mode: the seed journey conversion-from-web with its templates, over a real
// SMTP server (aiosmtpd) on loopback: a form submission makes the confirmation arrive, once,
// personalised; the delivery shows on the card and in the stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { cpSync, existsSync, readFileSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, cli, createKey, removeDir, startServer, tempDir } from './harness.mjs';

async function startSink(dir) {
  mkdirSync(dir, { recursive: true });
  const proc = spawn('/usr/bin/python3', [resolve('src/channels/testing/smtp_sink.py'), '--dir', dir],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((ok, fail) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/READY (\d+)/);
      if (m) ok(Number(m[1]));
    });
    proc.on('exit', (code) => fail(new Error(`smtp sink exited with ${code}`)));
  });
  return { port, stop: () => proc.kill('SIGTERM'), messages: () =>
    readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().map((f) => readFileSync(join(dir, f), 'latin1')) };
}

async function until(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('conversion-from-web over real SMTP: the confirmation arrives once, personalised', async () => {
  const dataDir = tempDir();
  const journeys = tempDir('tp-journeys-');
  const sink = await startSink(tempDir('tp-sink-'));
  cpSync(resolve('examples/journeys'), journeys, { recursive: true });
  writeFileSync(join(journeys, 'touchpoint.yaml'), `channels:
  smtp:
    host: 127.0.0.1
    port: ${sink.port}
    tls: none
    from: "Acme Research <research@acme.example>"
`);
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir, extraArgs: ['--journeys', journeys] });
  const c = new Client(server.url, { writeKey, adminKey });
  try {
    assert.equal((await c.send('/v1/identify', { userId: 'ann', traits: {
      email: 'ann@example.com', first_name: 'Ann', company: 'Initech', timezone: 'Europe/Stockholm', owner: 'sara' } })).status, 200);
    assert.equal((await c.send('/v1/track', { userId: 'ann', event: 'Form Submitted',
      properties: { form: 'guide-2026', title: 'The Onboarding Guide', download_url: 'https://acme.example/g.pdf' } })).status, 200);

    const [mail] = await until('the confirmation at the SMTP server', () => {
      const m = sink.messages();
      return m.length > 0 ? m : null;
    });
    assert.match(mail, /^Subject: Your copy of The Onboarding Guide\r$/m);
    assert.match(mail, /^To: ann@example\.com\r$/m);
    assert.match(mail, /^Message-ID: <[^>]+>\r$/m);
    assert.match(mail, /^Content-Type: multipart\/alternative/m);
    assert.doesNotMatch(mail, /^List-Unsubscribe/m, 'the confirmation is transactional');
    assert.match(mail, /Hi Ann,/);
    assert.match(mail, /at Initech want a copy/);

    const card = await until('the delivery on the card', async () => {
      const r = await c.card('ann', '?limit=100');
      return r.body.timeline.some((e) => e.event === 'Message Delivered') ? r.body : null;
    });
    const delivered = card.timeline.find((e) => e.event === 'Message Delivered');
    assert.deepEqual([delivered.properties.journey, delivered.properties.step, delivered.properties.channel],
      ['conversion-from-web', 'confirmation', 'email']);
    const stats = (await c.admin('GET', '/api/v1/journeys/conversion-from-web/stats')).body;
    const step = stats.steps.find((s) => s.step === 'confirmation');
    assert.deepEqual([step.sent, step.delivered], [1, 1]);
    // A resent event (same messageId) or a restart does not send it again.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sink.messages().length, 1);
    await server.stop();

    // The queue from the command line, and a preview of the message for Ann.
    const listed = cli(['outbox', 'list', '--status', 'delivered', '--data', dataDir]);
    assert.equal(listed.status, 0, listed.stderr);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.step, r.channel, r.attempts]), [['confirmation', 'email', 1]]);
    assert.equal(cli(['outbox', 'list', '--data', dataDir]).stdout, '', 'no dead letters');
    const preview = cli(['template', 'render', 'whitepaper-confirmation', '--user', 'ann', '--journeys', journeys,
      '--data', dataDir, '--event', '{"properties":{"title":"Preview"}}']);
    assert.equal(preview.status, 0, preview.stderr);
    assert.equal(JSON.parse(preview.stdout).subject, 'Your copy of Preview');
    const unknown = cli(['template', 'render', 'no-such', '--user', 'ann', '--journeys', journeys, '--data', dataDir]);
    assert.equal(unknown.status, 1);
  } finally {
    await server.stop();
    sink.stop();
    removeDir(dataDir);
    removeDir(journeys);
  }
});

test('journey validate checks the templates the sends name', () => {
  const dir = tempDir('tp-validate-');
  mkdirSync(join(dir, 'templates'));
  cpSync(resolve('examples/journeys/win-back.yaml'), join(dir, 'win-back.yaml'));
  writeFileSync(join(dir, 'templates', 'exit-survey.email.liquid'), '---\nsubject: "Why {{ user.name "\n---\n{% part html %}hi{% endpart %}\n');
  try {
    const r = cli(['journey', 'validate', join(dir, 'win-back.yaml')]);
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0], /exit-survey\.email\.liquid:2:\d+: unclosed output/);
    assert.match(lines[1], /win-back\.yaml:29:5: step "win-back-offer": no template .*win-back-offer\.email\.liquid$/);
    assert.match(lines[2], /^touchpoint: 2 problems in 1 file$/);
    assert.equal(cli(['journey', 'validate', ...['conversion-from-web', 'onboarding', 'win-back', 'policies']
      .map((f) => resolve(`examples/journeys/${f}.yaml`))]).status, 0, 'the seed journeys and their templates are valid');
  } finally {
    removeDir(dir);
  }
});

async function freePort() {
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function decodeQuotedPrintable(text) {
  return text.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

test('a pixel hit counts as the open: the reminder is not sent, the call task follows', async () => {
  const dataDir = tempDir();
  const journeys = tempDir('tp-journeys-');
  const sink = await startSink(tempDir('tp-sink-'));
  const port = await freePort();
  cpSync(resolve('examples/journeys'), journeys, { recursive: true });
  writeFileSync(join(journeys, 'touchpoint.yaml'), `channels:
  smtp: {host: 127.0.0.1, port: ${sink.port}, tls: none, from: "Acme Research <research@acme.example>"}
tracking:
  base_url: http://127.0.0.1:${port}
  company_name: Acme Research
  purposes: [{id: newsletter, label: Newsletter}]
`);
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir, listen: `127.0.0.1:${port}`, extraArgs: ['--journeys', journeys] });
  const c = new Client(server.url, { writeKey, adminKey });
  try {
    await c.send('/v1/identify', { userId: 'bo', traits: { email: 'bo@example.com', first_name: 'Bo' } });
    await c.send('/v1/track', { userId: 'bo', event: 'Form Submitted', properties: { form: 'guide' } });
    const [mail] = await until('the confirmation', () => (sink.messages().length ? sink.messages() : null));
    const html = decodeQuotedPrintable(mail);
    const pixel = html.match(/<img[^>]+src="(http:\/\/127\.0\.0\.1:\d+\/t\/o\/[^"]+)"/);
    assert.ok(pixel, 'the email carries the open pixel');
    const click = html.match(/href="(http:\/\/127\.0\.0\.1:\d+\/t\/c\/[^"]+)"/);
    assert.ok(click, 'links go through the click redirect');

    const hit = await fetch(pixel[1]);
    assert.equal(hit.status, 200);
    assert.equal(hit.headers.get('content-type'), 'image/gif');
    const forged = await fetch(click[1].slice(0, -3) + 'AAA', { redirect: 'manual' });
    assert.equal(forged.status, 404, 'a changed link is refused, never redirected');
    const redirect = await fetch(click[1], { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), 'https://acme.example/whitepapers');

    const stats = await until('the open in the stats', async () => {
      const s = (await c.admin('GET', '/api/v1/journeys/conversion-from-web/stats')).body;
      return s.steps.find((x) => x.step === 'after-open').waiting === 1 ? s : null;
    });
    const step = (name) => stats.steps.find((x) => x.step === name);
    assert.deepEqual([step('confirmation').opened, step('confirmation').clicked], [1, 1]);
    assert.equal(step('reminder').entered, 0, 'no reminder after an open');
    const card = (await c.card('bo', '?limit=100')).body;
    assert.ok(card.timeline.some((e) => e.event === 'Email Opened' && e.properties.step === 'confirmation'));

    // An inbound hard bounce marks the address: no more email to it.
    const bounced = await c.admin('POST', '/api/v1/bounces', { body: { userId: 'bo', email: 'bo@example.com', type: 'hard', reason: '550 5.1.1 no such user' } });
    assert.equal(bounced.status, 202);
    const after = (await c.card('bo', '?limit=100')).body;
    assert.equal(after.traits.email_status, 'bounced');
    assert.ok(after.timeline.some((e) => e.event === 'Email Bounced'));
    const bad = await c.admin('POST', '/api/v1/bounces', { body: { userId: 'bo', email: 'bo@example.com', type: 'bouncy' } });
    assert.deepEqual([bad.status, bad.body.field], [400, 'type']);
    assert.equal((await c.admin('POST', '/api/v1/bounces', { body: { email: 'x@example.com', type: 'hard' } })).body.field, 'userId');
  } finally {
    await server.stop();
    sink.stop();
    removeDir(dataDir);
    removeDir(journeys);
  }
});
