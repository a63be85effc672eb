// nodemailer baseline for bench/smtp_bench: sends --messages copies of the message described in
// --input (JSON written by smtp_bench) over a pooled transport (--connections connections kept
// open) to the SMTP sink at 127.0.0.1:--port, and prints one JSON line:
// {"messages", "failed", "seconds", "msgs_per_s"}.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    messages: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '4' },
    input: { type: 'string' },
    'dkim-key': { type: 'string' },
    'dkim-selector': { type: 'string' },
    'dkim-domain': { type: 'string' },
  },
});
const total = Number(values.messages);
const connections = Number(values.connections);
const m = JSON.parse(readFileSync(values.input, 'utf8'));

const transport = nodemailer.createTransport({
  pool: true,
  host: '127.0.0.1',
  port: Number(values.port),
  secure: false,
  ignoreTLS: true,
  maxConnections: connections,
  maxMessages: Infinity,
  dkim: values['dkim-key']
    ? {
        domainName: values['dkim-domain'],
        keySelector: values['dkim-selector'],
        privateKey: readFileSync(values['dkim-key'], 'utf8'),
      }
    : undefined,
});

let next = 0;
let failed = 0;
let firstError = null;
async function worker() {
  while (next < total) {
    const i = next++;
    try {
      await transport.sendMail({
        from: { name: m.from_name, address: m.from },
        to: [{ name: m.to_name, address: m.to.replace('@', `+${i}@`) }],
        replyTo: m.reply_to,
        subject: m.subject,
        text: m.text,
        html: m.html,
        messageId: `<bench-${i}@${m.message_id_domain}>`,
        headers: {
          'List-Unsubscribe': `<${m.unsubscribe_url}?m=${i}>, <mailto:${m.unsubscribe_mailto}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          'X-Campaign': m.campaign,
        },
      });
    } catch (e) {
      failed++;
      firstError ??= String(e);
    }
  }
}

const start = process.hrtime.bigint();
// Twice as many senders as connections, so that every pooled connection always has a message.
await Promise.all(Array.from({ length: connections * 2 }, worker));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
transport.close();
console.log(JSON.stringify({ messages: total - failed, failed, seconds, msgs_per_s: (total - failed) / seconds,
                             error: firstError }));
