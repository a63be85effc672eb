// Delivery in live mode: the seed journey conversion-from-web with its templates, over a real
// SMTP server (aiosmtpd) on loopback: a form submission makes the confirmation arrive, once,
// personalised; the delivery shows on the card and in the stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { join, resolve } from 'node:path';
import { Client, cli, createKey, freePort, removeDir, startServer, startSink, tempDir, until } from './harness.mjs';

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
    // The preview API renders the same message for Ann, and sends nothing.
    const preview = await c.admin('POST', '/api/v1/templates/whitepaper-confirmation/preview',
      { body: { userId: 'ann', event: { properties: { title: 'Preview' } } } });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.subject, 'Your copy of Preview');
    assert.match(preview.body.html, /Hi Ann,/);
    const viaGet = await c.admin('GET', '/api/v1/templates/whitepaper-confirmation/preview?userId=ann&channel=email');
    assert.equal(viaGet.body.subject, 'Your copy of our whitepaper');
    assert.equal((await c.admin('GET', '/api/v1/templates/whitepaper-confirmation/preview?userId=nobody')).status, 404);
    assert.equal((await c.admin('GET', '/api/v1/templates/no-such/preview?userId=ann')).status, 404);
    const badChannel = await c.admin('GET', '/api/v1/templates/whitepaper-confirmation/preview?userId=ann&channel=fax');
    assert.deepEqual([badChannel.status, badChannel.body.field], [400, 'channel']);
    assert.equal((await c.admin('GET', '/api/v1/templates/whitepaper-confirmation/preview?userId=ann', { key: null })).status, 401);
    // A resent event (same messageId), a preview or a restart does not send it again.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sink.messages().length, 1);
    await server.stop();

    // The queue from the command line, and a preview of the message for Ann.
    const listed = cli(['outbox', 'list', '--status', 'delivered', '--data', dataDir]);
    assert.equal(listed.status, 0, listed.stderr);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.step, r.channel, r.attempts]), [['confirmation', 'email', 1]]);
    assert.equal(cli(['outbox', 'list', '--data', dataDir]).stdout, '', 'no dead letters');
    const rendered = cli(['template', 'render', 'whitepaper-confirmation', '--user', 'ann', '--journeys', journeys,
      '--data', dataDir, '--event', '{"properties":{"title":"Preview"}}']);
    assert.equal(rendered.status, 0, rendered.stderr);
    assert.equal(JSON.parse(rendered.stdout).subject, 'Your copy of Preview');
    const unknown = cli(['template', 'render', 'no-such', '--user', 'ann', '--journeys', journeys, '--data', dataDir]);
    assert.equal(unknown.status, 1);
  } finally {
    await server.stop();
    await sink.stop();
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

    // The open and the click are applied asynchronously, each in its own commit: wait for both.
    const stats = await until('the open and the click in the stats', async () => {
      const s = (await c.admin('GET', '/api/v1/journeys/conversion-from-web/stats')).body;
      const confirmation = s.steps.find((x) => x.step === 'confirmation');
      return s.steps.find((x) => x.step === 'after-open').waiting === 1 && confirmation.clicked === 1 ? s : null;
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
    await sink.stop();
    removeDir(dataDir);
    removeDir(journeys);
  }
});

// An SMS provider of Twilio's shape on loopback: accepts every message with a new sid.
async function startSmsProvider() {
  const received = [];
  const srv = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      received.push({ url: req.url, form });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sid: `SM${String(received.length).padStart(32, '0')}`, status: 'queued' }));
    });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${srv.address().port}`, received, stop: () => new Promise((ok) => srv.close(ok)) };
}

function twilioSignature(token, url, form) {
  const signed = url + Object.keys(form).sort().map((k) => k + form[k]).join('');
  return createHmac('sha1', token).update(signed).digest('base64');
}

test('SMS over a provider API; signed delivery receipts become events and stats', async () => {
  const dataDir = tempDir();
  const journeys = tempDir('tp-journeys-');
  const provider = await startSmsProvider();
  const port = await freePort();
  const callback = `http://127.0.0.1:${port}/hooks/sms`;
  mkdirSync(join(journeys, 'templates'));
  writeFileSync(join(journeys, 'ping.yaml'), `id: ping
name: Ping
send_type: transactional
entry: {event: Signed Up}
steps:
  - id: text
    send: {channel: sms, template: ping}
`);
  writeFileSync(join(journeys, 'templates', 'ping.sms.liquid'), 'Hej {{ user.traits.first_name }}, välkommen!\n');
  writeFileSync(join(journeys, 'touchpoint.yaml'), `channels:
  sms: {base_url: "${provider.url}", account: AC1, token: sms-token, sender_id: Acme, status_callback_url: "${callback}"}
`);
  const writeKey = createKey(dataDir, 'write');
  const adminKey = createKey(dataDir, 'admin');
  const server = await startServer({ dataDir, listen: `127.0.0.1:${port}`, extraArgs: ['--journeys', journeys] });
  const c = new Client(server.url, { writeKey, adminKey });
  const receipt = (form, signature = twilioSignature('sms-token', callback, form)) => fetch(`${server.url}/hooks/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  try {
    for (const [userId, phone] of [['ann', '+46701234567'], ['bo', '+46709876543']]) {
      await c.send('/v1/identify', { userId, traits: { phone, first_name: userId === 'ann' ? 'Ann' : 'Bo' } });
      await c.send('/v1/track', { userId, event: 'Signed Up' });
    }
    await until('two messages at the provider', () => provider.received.length === 2);
    const ann = provider.received.find((r) => r.form.To === '+46701234567');
    assert.equal(ann.url, '/2010-04-01/Accounts/AC1/Messages.json');
    assert.deepEqual([ann.form.From, ann.form.Body, ann.form.StatusCallback], ['Acme', 'Hej Ann, välkommen!', callback]);
    const sids = Object.fromEntries(await until('both recorded with their sids', async () => {
      const rows = cli(['outbox', 'list', '--status', 'delivered', '--data', dataDir]).stdout.trim().split('\n')
        .filter(Boolean).map((l) => JSON.parse(l));
      return rows.length === 2 && rows.every((r) => r.providerId) ? rows.map((r) => [r.userId, r.providerId]) : null;
    }));

    const delivered = { MessageSid: sids.ann, MessageStatus: 'delivered', To: '+46701234567', AccountSid: 'AC1' };
    assert.equal((await receipt(delivered, null)).status, 401, 'unsigned');
    assert.equal((await receipt(delivered, twilioSignature('wrong-token', callback, delivered))).status, 403, 'forged');
    const ok = await receipt(delivered);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { success: true, recorded: true });
    assert.deepEqual(await (await receipt(delivered)).json(), { success: true, recorded: true }, 'a repeat is acknowledged');
    const sent = { MessageSid: sids.bo, MessageStatus: 'sent', To: '+46709876543' };
    assert.deepEqual(await (await receipt(sent)).json(), { success: true, recorded: false }, 'not final yet');
    const failed = { MessageSid: sids.bo, MessageStatus: 'undelivered', ErrorCode: '30003', To: '+46709876543' };
    assert.equal((await receipt(failed)).status, 200);
    const unknown = { MessageSid: 'SM-not-ours', MessageStatus: 'delivered' };
    assert.deepEqual(await (await receipt(unknown)).json(), { success: true, recorded: false });
    const malformed = { MessageStatus: 'delivered' };
    assert.equal((await receipt(malformed)).status, 400);

    const annCard = (await c.card('ann', '?limit=100')).body;
    const annEvents = annCard.timeline.filter((e) => e.event === 'SMS Delivered');
    assert.equal(annEvents.length, 1, 'one event for a repeated receipt');
    assert.deepEqual([annEvents[0].properties.journey, annEvents[0].properties.step, annEvents[0].properties.providerId],
      ['ping', 'text', sids.ann]);
    const boCard = (await c.card('bo', '?limit=100')).body;
    const undelivered = boCard.timeline.find((e) => e.event === 'SMS Undelivered');
    assert.equal(undelivered.properties.errorCode, '30003');
    const stats = await until('the bounce in the stats', async () => {
      const s = (await c.admin('GET', '/api/v1/journeys/ping/stats')).body;
      return s.steps[0].bounced === 1 ? s : null;
    });
    assert.deepEqual([stats.steps[0].sent, stats.steps[0].delivered, stats.steps[0].bounced], [2, 2, 1]);
  } finally {
    await server.stop();
    await provider.stop();
    removeDir(dataDir);
    removeDir(journeys);
  }
});
