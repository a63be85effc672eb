// Live-timers baseline: BullMQ on Redis.
//
// Enqueues N delayed jobs (Queue.addBulk with `delay`) that all come due at the same moment, then
// lets one BullMQ Worker (concurrency C) process them; each job writes its outbox row into
// PostgreSQL. Prints one JSON line: the enqueue time, and the drain time from the due moment
// until the N-th outbox row was written.
//
// The Redis and PostgreSQL servers are started by the caller (run.sh, or the C++ benchmark); this
// script empties its queue and re-creates the outbox table before it starts.

import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { Outbox, defaultLeadSeconds, drain, jobData, log, parseOptions, report } from './common.mjs';

const SYSTEM = 'bullmq';
const QUEUE = 'timers';
const { version: BULLMQ_VERSION } = createRequire(import.meta.url)('bullmq/package.json');

const opts = parseOptions('node bullmq.mjs --redis-port P --pg CONNSTRING [options]', {
  jobs: { default: 1_000_000, help: 'number of jobs, all due at the same moment' },
  'redis-port': { help: 'port of the Redis server (on --redis-host)' },
  'redis-host': { type: 'string', default: '127.0.0.1', help: 'host of the Redis server' },
  pg: { type: 'string', help: 'connection string (URI or key=value) of the PostgreSQL server holding the outbox' },
  concurrency: { default: 64, help: 'Worker concurrency, and the size of the outbox connection pool' },
  'chunk-size': { default: 1000, help: 'jobs per Queue.addBulk call while enqueueing' },
  'lead-seconds': { default: 0, min: 0, help: 'due moment, in seconds after the enqueue starts (0: 5 + jobs/10000)' },
  'timeout-seconds': { default: 3600, help: 'give up if the drain takes longer (seconds after the due moment)' },
});
const jobs = opts.jobs;
const leadSeconds = opts['lead-seconds'] || defaultLeadSeconds(jobs);

// One ioredis connection shared by the Queue and the Worker (which duplicates it for its
// blocking reads). BullMQ requires maxRetriesPerRequest: null on connections that workers use.
const redis = new IORedis({ host: opts['redis-host'], port: opts['redis-port'], maxRetriesPerRequest: null });
redis.on('error', (err) => log(SYSTEM, `redis: ${err.message}`));

// Job options a production user would set: a few retries with backoff, and completed jobs removed
// so that Redis does not keep a million finished jobs around (BullMQ's documented advice).
const queue = new Queue(QUEUE, {
  connection: redis,
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: { count: 1000 },
  },
});
queue.on('error', (err) => log(SYSTEM, `queue: ${err.message}`));

const outbox = new Outbox(opts.pg, opts.concurrency);

/** Redis's persistence settings and version, as the server reports them. */
async function redisInfo() {
  const [, appendonly] = await redis.config('GET', 'appendonly');
  const [, appendfsync] = await redis.config('GET', 'appendfsync');
  const server = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(server)?.[1] ?? 'unknown';
  return { durability: `appendonly=${appendonly} appendfsync=${appendfsync}`, version };
}

/** Redis's memory use in MiB. */
async function redisMemoryMiB() {
  const memory = await redis.info('memory');
  return Math.round(Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0) / 2 ** 20);
}

/**
 * Adds the N jobs, chunk by chunk, all due at `dueAt` (epoch ms). BullMQ's delay counts from the
 * job's timestamp, so each chunk gets an explicit timestamp and the delay that ends at `dueAt`.
 */
async function enqueue(dueAt) {
  for (let first = 0; first < jobs; first += opts['chunk-size']) {
    const last = Math.min(first + opts['chunk-size'], jobs);
    const now = Date.now();
    const bulk = [];
    for (let i = first; i < last; i++) {
      bulk.push({ name: 'fire', data: jobData(i), opts: { timestamp: now, delay: Math.max(dueAt - now, 0) } });
    }
    await queue.addBulk(bulk);
  }
}

async function main() {
  await outbox.reset();
  // Start from an empty queue: obliterate removes every job and key of a previous run.
  await queue.obliterate({ force: true });
  if (await queue.isPaused()) await queue.resume();
  const redisSettings = await redisInfo();
  const durability = `redis ${redisSettings.durability}; outbox: postgres ${await outbox.durability()}`;

  const enqueueStart = Date.now();
  const dueAt = enqueueStart + leadSeconds * 1000;
  log(SYSTEM, `enqueueing ${jobs} jobs due in ${leadSeconds} s (${durability})`);
  await enqueue(dueAt);
  const enqueueSeconds = (Date.now() - enqueueStart) / 1000;
  const memoryMiB = await redisMemoryMiB();
  log(SYSTEM, `enqueued in ${enqueueSeconds.toFixed(1)} s; Redis uses ${memoryMiB} MiB`);

  // The worker starts only now, so that no job can be processed while others are still being
  // enqueued. If the enqueue overran the due moment, the drain clock starts with the worker.
  const workerStart = Date.now();
  const clockStart = Math.max(dueAt, workerStart);
  const overrun = Math.max(0, workerStart - dueAt) / 1000;
  if (overrun > 0) log(SYSTEM, `warning: the enqueue overran the due moment by ${overrun} s (raise --lead-seconds)`);
  const worker = new Worker(QUEUE, (job) => outbox.write(job.data), {
    connection: redis,
    concurrency: opts.concurrency,
  });
  let failures = 0;
  worker.on('failed', (job, err) => {
    if (failures++ < 10) log(SYSTEM, `job ${job?.id} failed: ${err.message}`);
  });
  worker.on('error', (err) => log(SYSTEM, `worker: ${err.message}`));
  await worker.waitUntilReady();
  const wait = (clockStart - Date.now()) / 1000;
  if (wait > 0) log(SYSTEM, `worker ready, due in ${wait.toFixed(1)} s`);

  const { drainSeconds, drainedRows } = await drain(outbox, jobs, clockStart, opts['timeout-seconds'], SYSTEM);
  if (failures > 0) log(SYSTEM, `${failures} failed job attempts`);

  await worker.close();
  await queue.close();
  await redis.quit();
  const outboxRows = await outbox.count();
  await outbox.close();

  return report({
    system: SYSTEM,
    version: BULLMQ_VERSION,
    jobs,
    enqueueSeconds,
    drainSeconds,
    drainedRows,
    durability,
    outboxRows,
    extra: {
      server: `redis ${redisSettings.version}`,
      concurrency: opts.concurrency,
      first_row_seconds: outbox.firstRowAt === null ? null : (outbox.firstRowAt - clockStart) / 1000,
      due_overrun_seconds: overrun,
      redis_memory_mib: memoryMiB,
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
