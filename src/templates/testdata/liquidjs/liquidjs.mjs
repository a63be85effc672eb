// The reference side of src/templates: liquidjs (pinned in package.json) renders the corpus the
// same way src/templates does, so the two can be compared byte for byte.
//
//   node liquidjs.mjs render CORPUS_DIR                 print {"file/case": output | {"error": m}}
//   node liquidjs.mjs expected CORPUS_DIR EXPECTED_DIR  (re)write the checked-in expected outputs
//   node liquidjs.mjs compare CPP_RENDERER CORPUS_DIR   run both, print every difference, exit 1 if any
//   node liquidjs.mjs bench SUBJECT BODY CONTEXT SECONDS [--utc]
//                                                       print {"renders_per_second": n, "sha256": …} of
//                                                       subject + "\n" + body (bench/template_bench)
//
// Settings that make liquidjs behave as src/templates does: strictFilters (an unknown filter is
// an error), locale en-US, the process in UTC with the case's zone as timezoneOffset, a fixed
// "now", contexts with sorted keys (nlohmann::json keeps object keys sorted), the money filter of
// docs/templates.md, and for the escape modes outputEscape ("escape" for html; a JSON string
// escape for json, where json/jsonify count as raw).
process.env.TZ = 'UTC';

let Liquid, filters, toValue;
try {
  ({ Liquid, filters, toValue } = await import('liquidjs'));
} catch (e) {
  process.stderr.write(`liquidjs is not installed (${e.code ?? e.message}): run scripts/setup.sh, or ` +
    '`npm ci` in src/templates/testdata/liquidjs\n');
  process.exit(1);
}
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const kDefaultNow = '2026-01-15T12:00:00Z';

function stringify(x) {
  x = toValue(x);
  if (typeof x === 'string') return x;
  if (x === null || x === undefined) return '';
  if (Array.isArray(x)) return x.map(stringify).join('');
  return String(x);
}

// money: see docs/templates.md ("money").
function money(v, currency) {
  v = toValue(v);
  let n;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && v.trim() !== '') n = Number(v);
  else return '';
  if (!Number.isFinite(n) || Math.abs(n) >= 1e13) return '';
  const rounded = filters.round(n, 2);
  const cents = Math.round(Math.abs(rounded) * 100);
  const whole = String(Math.floor(cents / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  let out = (rounded < 0 && cents !== 0 ? '-' : '') + whole + '.' + String(cents % 100).padStart(2, '0');
  const c = stringify(currency);
  if (c) out += ' ' + c;
  return out;
}

function jsonEscape(v) {
  return JSON.stringify(stringify(v)).slice(1, -1);
}

const engines = new Map();
function engine(escape, timezone) {
  const key = `${escape}|${timezone}`;
  if (engines.has(key)) return engines.get(key);
  const options = { strictFilters: true, locale: 'en-US', timezoneOffset: timezone };
  if (escape === 'html') options.outputEscape = 'escape';
  if (escape === 'json') options.outputEscape = jsonEscape;
  const e = new Liquid(options);
  e.registerFilter('money', money);
  if (escape === 'json') {
    e.registerFilter('json', { handler: filters.json, raw: true });
    e.registerFilter('jsonify', { handler: filters.jsonify, raw: true });
  }
  engines.set(key, e);
  return e;
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}

// Every case of every corpus file, in file and case order.
export function loadCorpus(dir) {
  const cases = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const stem = file.slice(0, -'.json'.length);
    for (const c of doc.cases) {
      cases.push({
        file: stem,
        id: `${stem}/${c.name}`,
        template: Array.isArray(c.template) ? c.template.join('\n') : c.template,
        context: c.context ?? doc.context ?? {},
        escape: c.escape ?? doc.escape ?? 'text',
        timezone: c.timezone ?? doc.timezone ?? 'UTC',
        now: c.now ?? doc.now ?? kDefaultNow,
        error: !!c.error,
      });
    }
  }
  return cases;
}

function renderCase(c) {
  const realNow = Date.now;
  Date.now = () => new Date(c.now).getTime();
  try {
    return engine(c.escape, c.timezone).parseAndRenderSync(c.template, sortKeys(c.context));
  } catch (e) {
    return { error: e.message.split('\n')[0] };
  } finally {
    Date.now = realNow;
  }
}

function renderAll(dir) {
  const out = {};
  for (const c of loadCorpus(dir)) out[c.id] = renderCase(c);
  return out;
}

function clip(s, n = 400) {
  return s.length > n ? s.slice(0, n) + '…' : s;
}

function show(v) {
  return typeof v === 'string' ? JSON.stringify(v) : `error: ${v.error}`;
}

function main(argv) {
  const [mode, ...rest] = argv;
  if (mode === 'render') {
    process.stdout.write(JSON.stringify(renderAll(rest[0]), null, 1) + '\n');
    return 0;
  }
  if (mode === 'expected') {
    const [corpusDir, expectedDir] = rest;
    const cases = loadCorpus(corpusDir);
    const byFile = new Map();
    let bad = 0;
    for (const c of cases) {
      const r = renderCase(c);
      if ((typeof r !== 'string') !== c.error) {
        bad++;
        process.stderr.write(`${c.id}: liquidjs ${typeof r === 'string' ? 'rendered' : 'failed'} but the case says error=${c.error}: ${show(r)}\n`);
      }
      if (!byFile.has(c.file)) byFile.set(c.file, {});
      byFile.get(c.file)[c.id.slice(c.file.length + 1)] = typeof r === 'string' ? r : { error: true };
    }
    fs.mkdirSync(expectedDir, { recursive: true });
    for (const [file, outputs] of byFile)
      fs.writeFileSync(path.join(expectedDir, `${file}.json`), JSON.stringify(outputs, null, 1) + '\n');
    process.stdout.write(`wrote expected outputs of ${cases.length} cases in ${byFile.size} files\n`);
    return bad ? 1 : 0;
  }
  if (mode === 'compare') {
    const [renderer, corpusDir] = rest;
    const cpp = spawnSync(renderer, [corpusDir], { encoding: 'utf8', maxBuffer: 256 << 20 });
    if (cpp.status !== 0) {
      process.stderr.write(`${renderer} failed (${cpp.status}):\n${cpp.stderr}\n`);
      return 1;
    }
    const ours = JSON.parse(cpp.stdout);
    const cases = loadCorpus(corpusDir);
    let differences = 0;
    for (const c of cases) {
      const js = renderCase(c);
      const cc = ours[c.id];
      const same = typeof js === 'string' ? cc === js : typeof cc === 'object' && cc !== null && 'error' in cc;
      if (same) continue;
      differences++;
      process.stdout.write(`DIFFERENT ${c.id}\n  template:   ${JSON.stringify(c.template)}\n` +
        `  context:    ${clip(JSON.stringify(c.context))}\n  escape: ${c.escape}  timezone: ${c.timezone}\n` +
        `  liquidjs:   ${show(js)}\n  touchpoint: ${cc === undefined ? '(missing)' : show(cc)}\n`);
    }
    process.stdout.write(`${cases.length} cases, ${differences} different\n`);
    return differences ? 1 : 0;
  }
  if (mode === 'bench') {
    // One render is the subject and the body of a message, as bench/template_bench renders it.
    // --utc: without the customer's time zone, and liquidjs without a timezoneOffset option (its
    // fastest way to format dates), to see the engines apart from time-zone conversion.
    const utc = rest.includes('--utc');
    const [subjectFile, bodyFile, contextFile, seconds = '3'] = rest.filter((a) => a !== '--utc');
    const context = JSON.parse(fs.readFileSync(contextFile, 'utf8'));
    if (utc) delete context.user.traits.timezone;
    const e = utc ? new Liquid({ strictFilters: true, locale: 'en-US' }) : engine('text', 'UTC');
    if (utc) e.registerFilter('money', money);
    const subject = e.parse(fs.readFileSync(subjectFile, 'utf8'));
    const body = e.parse(fs.readFileSync(bodyFile, 'utf8'));
    let out = '';
    const renderOnce = () => e.renderSync(subject, context) + '\n' + e.renderSync(body, context);
    for (let i = 0; i < 500; i++) out = renderOnce();  // warm up the JIT
    const deadline = performance.now() + Number(seconds) * 1000;
    let n = 0;
    const start = performance.now();
    while (performance.now() < deadline) {
      for (let i = 0; i < 20; i++) out = renderOnce();
      n += 20;
    }
    const elapsed = (performance.now() - start) / 1000;
    const sha256 = createHash('sha256').update(out, 'utf8').digest('hex');
    process.stdout.write(JSON.stringify({ renders_per_second: n / elapsed, renders: n, bytes: Buffer.byteLength(out), sha256 }) + '\n');
    return 0;
  }
  process.stderr.write('usage: node liquidjs.mjs render|expected|compare|bench ...\n');
  return 2;
}

process.exitCode = main(process.argv.slice(2));
