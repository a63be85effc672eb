// Live-timers baseline: pg-boss on PostgreSQL.
//
// Enqueues N jobs (PgBoss#insert with `startAfter`) that all come due at the same moment, then
// lets pg-boss workers fetch them in batches; each job writes its outbox row into the same
// PostgreSQL server. Prints one JSON line: the enqueue time, and the drain time from the due
// moment until the N-th outbox row was written.
//
// pg-boss 10 (the last major that supports Node 20; 11 needs Node 22) has no per-worker
// concurrency option (9's teamSize/teamConcurrency are gone, 12's localConcurrency is not yet): each
// work() call is one polling loop that fetches up to `batchSize` jobs, hands them to the handler
// as an array, completes them all when it returns, and then polls again no sooner than
// `pollingIntervalSeconds` after the previous fetch. As its author advises, the handler runs the
// jobs of a batch concurrently; the outbox pool (--concurrency connections) bounds how many
// inserts are in flight, as BullMQ's worker concurrency does in bullmq.mjs.
//
// The PostgreSQL server is started by the caller (run.sh, or the C++ benchmark); this script
// drops pg-boss's schema and re-creates the outbox table before it starts.

import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import PgBoss from 'pg-boss';
import { Outbox, defaultLeadSeconds, drain, jobData, log, parseOptions, pgConfig, report } from './common.mjs';

const SYSTEM = 'pg-boss';
const QUEUE = 'timers';
const SCHEMA = 'pgboss';
const { version: PGBOSS_VERSION } = createRequire(import.meta.url)('pg-boss/package.json');

const opts = parseOptions('node pgboss.mjs --pg CONNSTRING [options]', {
  jobs: { default: 1_000_000, help: 'number of jobs, all due at the same moment' },
  pg: { type: 'string', help: 'connection string (URI or key=value) of the PostgreSQL server (pg-boss and outbox)' },
  concurrency: { default: 64, help: 'outbox inserts in flight at once (the outbox connection pool size)' },
  workers: { default: 2, help: 'polling workers (work() calls)' },
  'batch-size': { default: 10000, help: 'jobs fetched per poll by each worker' },
  'polling-interval': { default: 0.5, min: 0.5, help: 'seconds between the polls of a worker (pg-boss minimum 0.5)' },
  'chunk-size': { default: 5000, help: 'jobs per PgBoss#insert call while enqueueing' },
  'lead-seconds': { default: 0, min: 0, help: 'due moment, in seconds after the enqueue starts (0: 5 + jobs/10000)' },
  'timeout-seconds': { default: 3600, help: 'give up if the drain takes longer (seconds after the due moment)' },
});
const jobs = opts.jobs;
const leadSeconds = opts['lead-seconds'] || defaultLeadSeconds(jobs);

const outbox = new Outbox(opts.pg, opts.concurrency);

// pg-boss with its defaults (retries, retention, maintenance), on its own small pool.
const boss = new PgBoss({ ...pgConfig(opts.pg), schema: SCHEMA });
boss.on('error', (err) => log(SYSTEM, `error: ${err.message}`));

/** PostgreSQL's version, e.g. "15.14". */
async function postgresVersion() {
  const { rows } = await outbox.pool.query('SHOW server_version');
  return rows[0].server_version.split(' ')[0];
}

/** Waits (up to 30 s) until no job of the queue is waiting or active any more. */
async function waitForCompletions() {
  for (let waited = 0; waited < 30_000; waited += 100) {
    if (await boss.getQueueSize(QUEUE, { before: 'completed' }) === 0) return;
    await sleep(100);
  }
  log(SYSTEM, 'warning: jobs still active 30 s after the drain');
}

/** Adds the N jobs, chunk by chunk, all due at `dueAt` (epoch ms). */
async function enqueue(dueAt) {
  const startAfter = new Date(dueAt).toISOString();
  for (let first = 0; first < jobs; first += opts['chunk-size']) {
    const last = Math.min(first + opts['chunk-size'], jobs);
    const batch = [];
    for (let i = first; i < last; i++) batch.push({ name: QUEUE, data: jobData(i), startAfter });
    await boss.insert(batch);
  }
}

async function main() {
  await outbox.reset();
  // Start from nothing: pg-boss re-creates its schema (and so an empty queue) on start().
  await outbox.pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await boss.start();
  await boss.createQueue(QUEUE);
  const durability = `postgres ${await outbox.durability()}`;
  const server = `postgres ${await postgresVersion()}`;

  const enqueueStart = Date.now();
  const dueAt = enqueueStart + leadSeconds * 1000;
  log(SYSTEM, `enqueueing ${jobs} jobs due in ${leadSeconds} s (${durability})`);
  await enqueue(dueAt);
  const enqueueSeconds = (Date.now() - enqueueStart) / 1000;
  log(SYSTEM, `enqueued in ${enqueueSeconds.toFixed(1)} s`);

  // The workers start only now, so that no job can be processed while others are still being
  // enqueued. If the enqueue overran the due moment, the drain clock starts with the workers.
  const workersStart = Date.now();
  const clockStart = Math.max(dueAt, workersStart);
  const overrun = Math.max(0, workersStart - dueAt) / 1000;
  if (overrun > 0) log(SYSTEM, `warning: the enqueue overran the due moment by ${overrun} s (raise --lead-seconds)`);
  let failures = 0;
  const handler = async (batch) => {
    try {
      await Promise.all(batch.map((job) => outbox.write(job.data)));
    } catch (err) {
      // pg-boss fails the whole batch and retries it; rows already written are kept (idempotent).
      if (failures++ < 10) log(SYSTEM, `batch failed: ${err.message}`);
      throw err;
    }
  };
  const workOptions = { batchSize: opts['batch-size'], pollingIntervalSeconds: opts['polling-interval'] };
  for (let w = 0; w < opts.workers; w++) await boss.work(QUEUE, workOptions, handler);
  const wait = (clockStart - Date.now()) / 1000;
  if (wait > 0) log(SYSTEM, `workers polling, due in ${wait.toFixed(1)} s`);

  const timeout = opts['timeout-seconds'];
  const { drainSeconds, drainedRows, complete } = await drain(outbox, jobs, clockStart, timeout, SYSTEM);
  if (failures > 0) log(SYSTEM, `${failures} failed batches (retried)`);

  // pg-boss completes a batch after its handler returns without waiting for it: let the last
  // completions land before stopping, so that the queue is left empty.
  await boss.offWork(QUEUE);
  if (complete) await waitForCompletions();
  await boss.stop({ graceful: true, wait: true, timeout: 30_000 });
  const outboxRows = await outbox.count();
  await outbox.close();

  return report({
    system: SYSTEM,
    version: PGBOSS_VERSION,
    jobs,
    enqueueSeconds,
    drainSeconds,
    drainedRows,
    durability,
    outboxRows,
    extra: {
      server,
      concurrency: opts.concurrency,
      workers: opts.workers,
      batch_size: opts['batch-size'],
      first_row_seconds: outbox.firstRowAt === null ? null : (outbox.firstRowAt - clockStart) / 1000,
      due_overrun_seconds: overrun,
    },
  });
}

try {
  // Exit explicitly: a timer left behind by a library must not keep the process alive.
  process.exit(await main());
} catch (err) {
  log(SYSTEM, `error: ${err.stack ?? err}`);
  process.exit(1);
}
