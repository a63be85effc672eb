// The tracking pages in a real browser: headless chromium driven through chromedriver (raw
// W3C WebDriver over fetch, webdriver.mjs) against tracking_page_server on loopback, which
// serves TrackingHandler and records what its sink receives.
//
//   TRACKING_PAGE_SERVER=build/debug/src/tracking/tracking_page_server \
//     node --test src/tracking/testing/browser.test.mjs
// (ctest -R tracking.browser sets the variable.) Needs Debian's chromium and chromium-driver;
// runs as root (--no-sandbox).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { createInterface } from 'node:readline';
import { startBrowser } from './webdriver.mjs';

const COMPANY = "Zoë's <Shop> & Co";
const USER = 'u-åsa-1';
const SEND = { journey: 'conversion-from-web', step: 'confirmation', messageKey: '4711:confirmation:0' };

let server;
let origin;
let links;
let browser;
let seen = 0;  // messages already looked at

async function startServer() {
  const path = process.env.TRACKING_PAGE_SERVER ?? 'build/debug/src/tracking/tracking_page_server';
  const child = spawn(path, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const [first] = await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => { throw new Error(`${path} exited with ${code}`); }),
  ]);
  return { child, port: JSON.parse(first).port };
}

async function allMessages() {
  return (await fetch(`${origin}/_test/messages`)).json();
}

// Waits until `count` new messages have arrived and returns them.
async function newMessages(count) {
  const messages = await browser.waitFor(`${count} new message(s)`, async () => {
    const all = await allMessages();
    return all.length >= seen + count ? all : null;
  });
  assert.equal(messages.length, seen + count, 'no more messages than expected');
  const fresh = messages.slice(seen);
  seen = messages.length;
  return fresh;
}

async function assertNoNewMessages() {
  assert.equal((await allMessages()).length, seen);
}

async function text(css) {
  return (await browser.find(css)).text();
}

async function checkboxStates() {
  const states = {};
  for (const box of await browser.findAll('input[type=checkbox]'))
    states[await box.attribute('value')] = await box.selected();
  return states;
}

// Checks every page for the basics: language, one heading, labelled controls, no scripts.
async function assertAccessibleBasics() {
  const report = await browser.execute(`
    const boxes = [...document.querySelectorAll('input[type=checkbox]')];
    return {
      lang: document.documentElement.lang,
      h1: document.querySelectorAll('h1').length,
      unlabelled: boxes.filter((b) => b.labels.length !== 1 || !b.labels[0].textContent.trim()).length,
      emptyButtons: [...document.querySelectorAll('button')].filter((b) => !b.textContent.trim()).length,
      scripts: document.scripts.length,
      viewport: !!document.querySelector('meta[name=viewport]'),
      charset: document.characterSet,
    };`);
  assert.deepEqual(report, { lang: 'en', h1: 1, unlabelled: 0, emptyButtons: 0, scripts: 0, viewport: true, charset: 'UTF-8' });
}

before(async () => {
  const started = await startServer();
  server = started.child;
  origin = `http://127.0.0.1:${started.port}`;
  links = await (await fetch(`${origin}/_test/links`)).json();
  browser = await startBrowser();
});

after(async () => {
  await browser?.quit();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    const [code] = await once(server, 'exit');
    assert.equal(code, 0, 'tracking_page_server exits cleanly (no sanitizer reports)');
  }
});

describe('tracking pages in chromium', () => {
  it('preference page: untick a purpose by its label, save, and see it kept', async () => {
    await browser.go(links.preferences);
    assert.equal(await browser.title(), `Email preferences – ${COMPANY}`);
    assert.equal(await text('.company'), COMPANY);
    assert.equal(await text('h1'), 'Email preferences');
    await assertAccessibleBasics();
    assert.deepEqual(await checkboxStates(), { newsletter: true, offers: true, 'product-updates': true });

    await (await browser.find('label[for="purpose-offers"]')).click();
    assert.deepEqual(await checkboxStates(), { newsletter: true, offers: false, 'product-updates': true });
    await (await browser.find('button[value="save"]')).click();
    await browser.waitFor('the saved notice', async () => (await text('[role=status]')) === 'Your preferences are saved.');
    assert.equal(await browser.url(), links.preferences, 'the form posts to its own URL');

    const [identify] = await newMessages(1);
    assert.equal(identify.type, 'identify');
    assert.equal(identify.userId, USER);
    assert.match(identify.messageId, /^trk-preferences-[0-9a-f]{32}$/);
    assert.deepEqual(identify.traits, { unsubscribed: false });
    assert.deepEqual(identify.context.consent.categoryPreferences, { newsletter: true, offers: false, 'product-updates': true });
    assert.deepEqual(await checkboxStates(), { newsletter: true, offers: false, 'product-updates': true });

    // A fresh visit shows the stored choice (the consent lookup).
    await browser.go(links.preferences);
    assert.deepEqual(await checkboxStates(), { newsletter: true, offers: false, 'product-updates': true });
    await assertNoNewMessages();
  });

  it('preference page: keyboard toggling, then "Unsubscribe from all"', async () => {
    await browser.go(links.preferences);
    await (await browser.find('#purpose-newsletter')).sendKeys(' ');
    assert.deepEqual(await checkboxStates(), { newsletter: false, offers: false, 'product-updates': true });
    await (await browser.find('button[value="unsubscribe-all"]')).click();
    await browser.waitFor('the unsubscribed notice',
      async () => (await text('[role=status]')) === 'You are unsubscribed from all marketing emails.');
    const [identify] = await newMessages(1);
    assert.deepEqual(identify.traits, { unsubscribed: true });
    assert.deepEqual(identify.context.consent.categoryPreferences, { newsletter: false, offers: false, 'product-updates': false });
    assert.deepEqual(await checkboxStates(), { newsletter: false, offers: false, 'product-updates': false });
  });

  it('unsubscribe page: one button unsubscribes; the preferences link follows', async () => {
    await browser.go(links.unsubscribe);
    assert.equal(await text('h1'), 'Unsubscribe?');
    assert.equal(await browser.title(), `Unsubscribe? – ${COMPANY}`);
    await assertAccessibleBasics();
    await assertNoNewMessages();  // opening the page changes nothing

    await (await browser.find('button[type=submit]')).click();
    await browser.waitFor('the confirmation', async () => (await text('h1')) === 'You are unsubscribed');
    await assertAccessibleBasics();
    const [track, identify] = await newMessages(2);
    assert.equal(track.type, 'track');
    assert.equal(track.event, 'Unsubscribed');
    assert.equal(track.userId, USER);
    assert.deepEqual(track.properties, SEND);
    assert.equal(identify.type, 'identify');
    assert.deepEqual(identify.traits, { unsubscribed: true });
    assert.deepEqual(identify.context.consent.categoryPreferences, { newsletter: false, offers: false, 'product-updates': false });

    await (await browser.find('main a')).click();
    await browser.waitFor('the preference page', async () => (await text('h1')) === 'Email preferences');
    assert.equal(new URL(await browser.url()).pathname.slice(0, 5), '/t/p/');
    assert.deepEqual(await checkboxStates(), { newsletter: false, offers: false, 'product-updates': false });
  });

  it('unsubscribe page: says so when the choice could not be saved', async () => {
    await fetch(`${origin}/_test/sink`, { method: 'POST', body: 'fail' });
    try {
      await browser.go(links.unsubscribe);
      await (await browser.find('button[type=submit]')).click();
      await browser.waitFor('the error page', async () => (await text('h1')) === 'Please try again');
      await assertNoNewMessages();
    } finally {
      await fetch(`${origin}/_test/sink`, { method: 'POST', body: 'ok' });
    }
  });

  it('RFC 8058 one-click POST as multipart/form-data from a real form encoder', async () => {
    const form = new FormData();
    form.append('List-Unsubscribe', 'One-Click');
    const response = await fetch(links.unsubscribe, { method: 'POST', body: form, redirect: 'manual' });
    assert.equal(response.status, 200);
    const [track, identify] = await newMessages(2);
    assert.equal(track.event, 'Unsubscribed');
    assert.equal(identify.traits.unsubscribed, true);
  });

  it('email: the browser loads the pixel and a click lands on the signed URL', async () => {
    await browser.go(`${origin}/_test/email`);
    const pixel = await browser.waitFor('the pixel to load', () => browser.execute(`
      const img = [...document.images].find((i) => i.src.includes('/t/o/'));
      return img && img.complete && img.naturalWidth === 1 && img.naturalHeight === 1 ? img.src : null;`));
    assert.ok(pixel.startsWith(`${origin}/t/o/`));
    const [opened] = await newMessages(1);
    assert.equal(opened.event, 'Email Opened');
    assert.equal(opened.userId, USER);
    assert.deepEqual(opened.properties, SEND);

    // The links the rewriter must leave alone are untouched.
    assert.equal(await (await browser.find('#mail')).attribute('href'), 'mailto:help@shop.example');
    assert.ok((await (await browser.find('#unsubscribe')).attribute('href')).startsWith(`${origin}/t/u/`));
    const shop = await (await browser.find('#shop')).attribute('href');
    assert.ok(shop.startsWith(`${origin}/t/c/`), shop);

    await (await browser.find('#shop')).click();
    const landed = `${origin}/_test/landing?from=email&step=confirmation`;
    await browser.waitFor('the landing page', async () => (await browser.url()) === landed);
    assert.equal(await text('h1'), 'Landed');
    const [clicked] = await newMessages(1);
    assert.equal(clicked.event, 'Email Clicked');
    assert.deepEqual(clicked.properties, { ...SEND, url: landed });

    // Opening the email again records another open with the same messageId (counted once).
    await browser.go(`${origin}/_test/email`);
    const [again] = await newMessages(1);
    assert.equal(again.messageId, opened.messageId);
  });

  it('a tampered link shows a plain 404 page and does not redirect', async () => {
    const tampered = links.click.replace(/\/t\/c\/(.)/, (_, c) => `/t/c/${c === 'A' ? 'B' : 'A'}`);
    assert.notEqual(tampered, links.click);
    await browser.go(tampered);
    assert.equal(await text('h1'), 'This link is not valid');
    assert.equal(await browser.url(), tampered);
    await assertAccessibleBasics();
    const response = await fetch(tampered, { redirect: 'manual' });
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('location'), null);
    await assertNoNewMessages();
  });
});
