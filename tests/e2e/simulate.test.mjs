// `touchpoint simulate` and `touchpoint journey validate` as a user runs them (product.md §3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, removeDir, tempDir } from './harness.mjs';

const events = [
  { type: 'identify', userId: 'anna', timestamp: '2026-03-02T09:00:00Z', traits: { email: 'anna@example.se', owner: 'sales-erik' } },
  { type: 'track', userId: 'anna', event: 'Form Submitted', properties: { form: 'whitepaper' }, timestamp: '2026-03-02T10:00:00Z' },
  { type: 'track', userId: 'anna', event: 'Email Opened', properties: { journey: 'conversion-from-web', step: 'confirmation' }, timestamp: '2026-03-03T10:00:00Z' },
].map((e) => JSON.stringify(e)).join('\n') + '\n';

test('simulate writes effects as JSON lines, deterministically, to stdout or --out', () => {
  const dir = tempDir();
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, events);
  const a = cli(['simulate', '--journeys', 'examples/journeys', '--events', file]);
  assert.equal(a.status, 0, a.stderr);
  const lines = a.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.action), ['enter', 'send', 'task', 'exit']);
  assert.deepEqual(lines[2], {
    time: '2026-03-05T10:00:00.000Z', userId: 'anna', journey: 'conversion-from-web', step: 'call-task',
    action: 'task', template: 'call-lead', assignee: 'sales-erik',
  });
  assert.equal(lines[1].channel, 'email');
  assert.equal(lines[1].template, 'whitepaper-confirmation');
  const out = join(dir, 'effects.jsonl');
  const b = cli(['simulate', '--journeys', 'examples/journeys', '--events', file, '--out', out]);
  assert.equal(b.status, 0);
  assert.equal(readFileSync(out, 'utf8'), a.stdout, 'same input, same bytes');

  const until = cli(['simulate', '--journeys', 'examples/journeys', '--events', file, '--until', '2d']);
  assert.deepEqual(until.stdout.trim().split('\n').map((l) => JSON.parse(l).action), ['enter', 'send']);
  removeDir(dir);
});

test('an invalid input line is exit status 1 naming the line', () => {
  const dir = tempDir();
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, events + '{"type":"track","userId":"x","event":"A","timestamp":"not a time"}\n');
  const r = cli(['simulate', '--journeys', 'examples/journeys', '--events', file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^touchpoint: .*events\.jsonl:4: cannot parse timestamp "not a time"\n$/);
  writeFileSync(file, '{"type":"track"\n');
  assert.match(cli(['simulate', '--journeys', 'examples/journeys', '--events', file]).stderr, /events\.jsonl:1: not valid JSON/);
  removeDir(dir);
});

test('journey validate: file:line:col for every problem, exit 1; valid files exit 0', () => {
  const ok = cli(['journey', 'validate', 'examples/journeys/conversion-from-web.yaml', 'examples/journeys/onboarding.yaml']);
  assert.equal(ok.status, 0, ok.stderr);
  const dir = tempDir();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'id: x\nname: X\nentry: {event: A}\nsteps:\n  - id: a\n    dealy: 2d\n');
  const r = cli(['journey', 'validate', bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`^${bad}:6:5: unknown key "dealy" in step "a"; did you mean "delay"\\?$`, 'm'));
  removeDir(dir);
});

test('journey catalog (csv, md, xlsx) and journey graph (dot renders with Graphviz, mermaid)', () => {
  const csv = cli(['journey', 'catalog', 'examples/journeys', '--format', 'csv']);
  assert.equal(csv.status, 0, csv.stderr);
  const rows = csv.stdout.trim().split('\r\n');
  assert.equal(rows.length, 4);
  assert.match(rows[0], /^Priority,ID,Name,Send type,Purpose,Goal,Audience,Entry criteria,/);
  const dir = tempDir();
  const xlsx = join(dir, 'catalog.xlsx');
  assert.equal(cli(['journey', 'catalog', 'examples/journeys', '--format', 'xlsx', '--out', xlsx]).status, 0);
  assert.equal(readFileSync(xlsx).subarray(0, 2).toString(), 'PK');
  const md = cli(['journey', 'catalog', 'examples/journeys', '--format', 'md']);
  assert.match(md.stdout, /^\| Priority \| ID \|/);

  const dot = cli(['journey', 'graph', 'examples/journeys/conversion-from-web.yaml', '--format', 'dot']);
  assert.equal(dot.status, 0, dot.stderr);
  const svg = spawnSync('dot', ['-Tsvg'], { input: dot.stdout, encoding: 'utf8' });
  assert.equal(svg.status, 0, svg.stderr);
  assert.match(svg.stdout, /<svg[\s\S]*call&#45;task/);
  const mermaid = cli(['journey', 'graph', 'examples/journeys/onboarding.yaml', '--format', 'mermaid']);
  assert.match(mermaid.stdout, /^flowchart TD\n/);
  assert.equal(cli(['journey', 'catalog', 'examples/journeys', '--format', 'pdf']).status, 1);
  removeDir(dir);
});
