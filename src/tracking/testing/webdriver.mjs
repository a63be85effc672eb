// A minimal W3C WebDriver client over fetch, for chromedriver + headless chromium. Only what the
// tracking page tests need; no npm packages.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function findExecutable(candidates) {
  return candidates.find((path) => existsSync(path));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Starts chromedriver on a free loopback port and a headless chromium session.
export async function startBrowser() {
  const driverPath = process.env.CHROMEDRIVER ?? findExecutable(['/usr/bin/chromedriver', '/usr/lib/chromium/chromedriver']);
  const chromiumPath = process.env.CHROMIUM ?? findExecutable(['/usr/bin/chromium', '/usr/lib/chromium/chromium']);
  if (!driverPath || !chromiumPath)
    throw new Error('chromium and chromedriver are needed: apt-get install chromium chromium-driver (scripts/setup.sh)');
  const port = await freePort();
  const driver = spawn(driverPath, [`--port=${port}`, '--allowed-ips=127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let driverErrors = '';
  driver.stderr.on('data', (chunk) => { driverErrors += chunk; });
  const base = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const status = await (await fetch(`${base}/status`)).json();
      if (status.value?.ready) break;
    } catch { /* not listening yet */ }
    if (attempt > 200) {
      driver.kill();
      throw new Error(`chromedriver did not start: ${driverErrors}`);
    }
    await sleep(50);
  }
  const profile = mkdtempSync(join(tmpdir(), 'tracking-chromium-'));
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
                '--disable-extensions', '--disable-background-networking', `--user-data-dir=${profile}`,
                '--window-size=1000,800'];
  const created = await call(base, 'POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': { binary: chromiumPath, args } } },
  });
  return new Browser(base, created.sessionId, driver, profile);
}

async function call(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
  return json.value;
}

export class Browser {
  constructor(base, session, driver, profile) {
    this.base = base;
    this.session = session;
    this.driver = driver;
    this.profile = profile;
  }

  command(method, path, body) { return call(this.base, method, `/session/${this.session}${path}`, body); }

  go(url) { return this.command('POST', '/url', { url }); }
  url() { return this.command('GET', '/url'); }
  title() { return this.command('GET', '/title'); }
  source() { return this.command('GET', '/source'); }
  back() { return this.command('POST', '/back', {}); }
  execute(script, ...args) { return this.command('POST', '/execute/sync', { script, args }); }
  executeAsync(script, ...args) { return this.command('POST', '/execute/async', { script, args }); }

  async find(css) {
    const found = await this.command('POST', '/element', { using: 'css selector', value: css });
    return new Element(this, found[ELEMENT]);
  }
  async findAll(css) {
    const found = await this.command('POST', '/elements', { using: 'css selector', value: css });
    return found.map((e) => new Element(this, e[ELEMENT]));
  }

  // Polls `check` (async, returns a value or a falsy one) until it returns something truthy.
  async waitFor(what, check, timeoutMs = 10000) {
    const until = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        last = await check();
        if (last) return last;
      } catch (error) {
        last = error;
      }
      if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${last})`);
      await sleep(50);
    }
  }

  async quit() {
    try {
      await call(this.base, 'DELETE', `/session/${this.session}`);
    } finally {
      this.driver.kill();
      rmSync(this.profile, { recursive: true, force: true });
    }
  }
}

export class Element {
  constructor(browser, id) {
    this.browser = browser;
    this.id = id;
  }
  command(method, path, body) { return this.browser.command(method, `/element/${this.id}${path}`, body); }
  click() { return this.command('POST', '/click', {}); }
  text() { return this.command('GET', '/text'); }
  selected() { return this.command('GET', '/selected'); }
  attribute(name) { return this.command('GET', `/attribute/${encodeURIComponent(name)}`); }
  sendKeys(text) { return this.command('POST', '/value', { text }); }
}
