// Shared pieces of the job-queue baselines (bullmq.mjs, pgboss.mjs): command-line parsing, the
// outbox table every job writes to, the test data, and the one-line JSON report.
//
// Both scripts measure the same thing: N jobs that all come due at one moment, each of which
// writes one outbox row into PostgreSQL the way a user's worker would (one INSERT per job through
// a `pg` pool). The drain interval runs from the due moment until the N-th row is written.

import { parseArgs } from 'node:util';
import pg from 'pg';

// The outbox row Touchpoint writes when a timer fires; the baselines write the very same row.
const OUTBOX_DDL = `
  CREATE TABLE outbox (
    idempotency_key text PRIMARY KEY,
    instance bigint NOT NULL,
    step text NOT NULL,
    user_id text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`;

const OUTBOX_INSERT = `
  INSERT INTO outbox (idempotency_key, instance, step, user_id, payload)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (idempotency_key) DO NOTHING`;

// Every job is the same timer step of a different journey instance.
const STEP = 'send_reminder';

/** Writes a progress line on stderr; stdout is reserved for the final JSON line. */
export function log(system, message) {
  process.stderr.write(`[${system}] ${message}\n`);
}

/**
 * Parses the command line. `spec` maps option names to { default, help } for integer options,
 * or { type: 'string', default, help } for string options; unknown options are errors.
 */
export function parseOptions(usage, spec) {
  const options = { help: { type: 'boolean' } };
  for (const name of Object.keys(spec)) options[name] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    fail(`${err.message}\n${formatUsage(usage, spec)}`);
  }
  if (parsed.help) {
    process.stdout.write(`${formatUsage(usage, spec)}\n`);
    process.exit(0);
  }
  const result = {};
  for (const [name, o] of Object.entries(spec)) {
    const raw = parsed[name] ?? o.default;
    if (raw === undefined) fail(`--${name} is required\n${formatUsage(usage, spec)}`);
    if (o.type === 'string') {
      result[name] = raw;
      continue;
    }
    const value = Number(raw);
    if (!Number.isFinite(value) || value < (o.min ?? 1)) fail(`--${name} must be a number >= ${o.min ?? 1}`);
    result[name] = value;
  }
  return result;
}

function formatUsage(usage, spec) {
  const lines = Object.entries(spec).map(([name, o]) => {
    const dflt = o.default === undefined ? ' (required)' : ` (default ${o.default})`;
    return `  --${name.padEnd(18)} ${o.help}${dflt}`;
  });
  return `usage: ${usage}\n${lines.join('\n')}`;
}

/** Prints an error on stderr and exits with status 2 (bad usage or setup). */
export function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

// libpq keywords that node-postgres understands, and its names for them.
const PG_KEYWORDS = {
  host: 'host', hostaddr: 'host', port: 'port', dbname: 'database', user: 'user', password: 'password',
  application_name: 'application_name',
};

/**
 * The node-postgres settings for a libpq connection string, either a URI
 * ("postgresql://bench@127.0.0.1:5432/postgres") or keyword/value pairs
 * ("host=127.0.0.1 port=5432 dbname=postgres user=bench"), which node-postgres cannot parse.
 */
export function pgConfig(conninfo) {
  if (/^postgres(ql)?:\/\//.test(conninfo)) return { connectionString: conninfo };
  const config = {};
  const pair = /\s*(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s']+))\s*/y;
  while (pair.lastIndex < conninfo.length) {
    const start = pair.lastIndex;
    const match = pair.exec(conninfo);
    if (!match) fail(`cannot parse the connection string at "${conninfo.slice(start)}"`);
    const [, keyword, quoted, plain] = match;
    if (!(keyword in PG_KEYWORDS)) fail(`connection string: unsupported keyword ${keyword}`);
    const value = quoted === undefined ? plain : quoted.replace(/\\(.)/g, '$1');
    config[PG_KEYWORDS[keyword]] = keyword === 'port' ? Number(value) : value;
  }
  return config;
}

/** The data of job `i` (0-based): enough to build its outbox row, nothing else. */
export function jobData(i) {
  const instance = i + 1;
  return {
    instance,
    step: STEP,
    user_id: `user-${instance}`,
    payload: { channel: 'email', template: 'reminder-2d', to: `user-${instance}@example.com` },
  };
}

/**
 * The outbox: a `pg` pool of `poolSize` connections to the PostgreSQL server that holds the
 * `outbox` table, and a count of the rows written so far.
 */
export class Outbox {
  constructor(conninfo, poolSize) {
    this.pool = new pg.Pool({ ...pgConfig(conninfo), max: poolSize });
    // An idle client losing its connection must not crash the process; queries report errors.
    this.pool.on('error', (err) => process.stderr.write(`outbox pool: ${err.message}\n`));
    this.rows = 0;
    this.target = Infinity;
    this.firstRowAt = null;
    this.lastRowAt = null;
    this.onComplete = null;
  }

  /** Drops and re-creates the table, so that every run starts from an empty outbox. */
  async reset() {
    await this.pool.query('DROP TABLE IF EXISTS outbox');
    await this.pool.query(OUTBOX_DDL);
  }

  /** Resolves (with the time of the last row, in epoch ms) once `target` rows were written. */
  whenRows(target) {
    this.target = target;
    return new Promise((resolve) => {
      this.onComplete = resolve;
      this.#check();
    });
  }

  /**
   * Writes the outbox row of one job; a second delivery of the same job writes nothing. Keeps the
   * times of the first and of the latest row written.
   */
  async write({ instance, step, user_id: userId, payload }) {
    const result = await this.pool.query(OUTBOX_INSERT, [`${instance}:${step}`, instance, step, userId, payload]);
    if (result.rowCount === 1) {
      this.rows += 1;
      this.lastRowAt = Date.now();
      this.firstRowAt ??= this.lastRowAt;
      this.#check();
    }
  }

  #check() {
    if (this.onComplete && this.rows >= this.target) {
      this.onComplete(this.lastRowAt);
      this.onComplete = null;
    }
  }

  /** The number of rows in the table, counted by PostgreSQL rather than by this process. */
  async count() {
    const { rows } = await this.pool.query('SELECT count(*)::bigint AS n FROM outbox');
    return Number(rows[0].n);
  }

  /** PostgreSQL's durability settings, e.g. "fsync=on synchronous_commit=on". */
  async durability() {
    const { rows } = await this.pool.query(
      "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit') ORDER BY name");
    return rows.map((r) => `${r.name}=${r.setting}`).join(' ');
  }

  async close() {
    await this.pool.end();
  }
}

/**
 * How far ahead of the start of the enqueue the jobs are made due, in seconds, unless
 * --lead-seconds says otherwise: enough for the enqueue to finish first at the rates measured
 * here (BullMQ ~17,000 jobs a second, pg-boss ~50,000), with a margin. Should the enqueue take
 * longer, the drain clock starts when the workers start instead (they start after the enqueue,
 * so no job can have been processed before).
 */
export function defaultLeadSeconds(jobs) {
  return Math.ceil(5 + jobs / 10000);
}

/**
 * Waits until every job wrote its outbox row, or until `timeoutSeconds` after the due moment
 * `clockStart` (epoch ms). Returns the drain time in seconds (up to the last row written, or up to
 * the timeout), the rows written by then, and whether that was all of them.
 */
export async function drain(outbox, jobs, clockStart, timeoutSeconds, system) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(clockStart - Date.now(), 0) + timeoutSeconds * 1000, null);
  });
  const lastRowAt = await Promise.race([outbox.whenRows(jobs), timeout]);
  clearTimeout(timer);
  if (lastRowAt === null) {
    log(system, `the drain did not finish within ${timeoutSeconds} s of the due moment (${outbox.rows} rows)`);
    return { drainSeconds: (Date.now() - clockStart) / 1000, drainedRows: outbox.rows, complete: false };
  }
  const drainSeconds = (lastRowAt - clockStart) / 1000;
  log(system, `drained in ${drainSeconds.toFixed(2)} s`);
  return { drainSeconds, drainedRows: jobs, complete: true };
}

/**
 * Prints the one-line JSON report on stdout and returns the exit status: 0 if every job wrote its
 * outbox row, 1 otherwise. `result` holds the figures in camelCase, `extra` the optional fields.
 */
export function report(result) {
  const seconds = (x) => Math.round(x * 1000) / 1000;
  const line = {
    system: result.system,
    version: result.version,
    jobs: result.jobs,
    enqueue_seconds: seconds(result.enqueueSeconds),
    drain_seconds: seconds(result.drainSeconds),
    // N / drain when every job wrote its row; after a timeout, the rows written within it.
    jobs_per_second: result.drainSeconds > 0 ? Math.round(result.drainedRows / result.drainSeconds) : 0,
    durability: result.durability,
    outbox_rows: result.outboxRows,
    ...result.extra,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  if (result.outboxRows !== result.jobs) {
    process.stderr.write(`outbox has ${result.outboxRows} rows, expected ${result.jobs}\n`);
    return 1;
  }
  return 0;
}
