// smtp_bench: messages/s delivering a typical ~5 KB multipart email over pooled SMTP
// connections into a local sink, Touchpoint's channels (compose + libcurl SmtpPool) side by
// side with nodemailer's pooled transport sending the same messages to the same sink in the
// same run. Median of --runs runs each, interleaved. See docs/channels.md ("Benchmark").
// Also the whole delivery path of `serve`: the outbox worker taking the journey runner's send
// effects from journeys.db, rendering the template for each person, sending, and recording
// every attempt and outcome durably (synchronous=FULL).
//
// The sink is an in-process Boost.Asio SMTP server (channels/testing/fast_smtp_sink.h) on its
// own thread: aiosmtpd, the correctness tests' server, tops out far below either client.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/clock.h"
#include "channels/smtp.h"
#include "delivery/deliverer.h"
#include "ingest/parser.h"
#include "journeys/runner.h"
#include "profiles/writer.h"
#include "storage/sqlite_journey_store.h"
#include "storage/sqlite_store.h"
#include "templates/template_set.h"
#include "channels/testing/fast_smtp_sink.h"
#include "channels/testing/keys.h"
#include "channels/testing/subprocess.h"
#include "support.h"

#ifndef TP_SOURCE_DIR
#define TP_SOURCE_DIR "."
#endif

namespace tp::bench {
namespace {

using Json = nlohmann::json;
using channels::EmailMessage;

struct Options {
  int messages = 20'000;
  int node_messages = 0;  // 0: as many as --messages
  int connections = 4;
  int runs = 3;
  bool dkim = false;
  bool quick = false;
  bool skip_node = false;
  std::string source_dir = TP_SOURCE_DIR;
};

// A typical marketing email: ~2.5 KB of HTML, ~0.9 KB of text, a non-ASCII subject, display
// names, a preheader and the one-click unsubscribe headers: ~5 KB on the wire.
EmailMessage typical_message() {
  EmailMessage m;
  m.from = {"news@shop.example", "Zoë's Shop"};
  m.to = {{"customer@example.org", "Ana Pérez"}};
  m.reply_to = channels::EmailAddress{"help@shop.example", "Shop Help"};
  m.subject = "Ihre Lieblingsstücke sind wieder da — 20 % Rabatt bis Sonntag";
  m.preheader = "Nur für Newsletter-Abonnenten: Code SOMMER20 an der Kasse";
  std::string items, text_items;
  const char* names[] = {"Leinenhemd Ærø", "Sommerkleid Malmö", "Strohhut Sevilla", "Espadrilles Girona",
                         "Tasche Kraków"};
  for (int i = 0; i < 3; ++i) {
    items += fmt::format(
        "<tr><td style=\"padding:12px;border-bottom:1px solid #eee\"><img src=\"https://cdn.shop.example/p/{0}.jpg\" "
        "width=\"96\" height=\"96\" alt=\"{1}\" style=\"display:block;border-radius:6px\"></td><td "
        "style=\"padding:12px;"
        "border-bottom:1px solid "
        "#eee;font-family:Helvetica,Arial,sans-serif;font-size:15px;color:#222\"><strong>{1}</strong>"
        "<br>Jetzt {2},{3:02} € statt {4},00 €<br><a "
        "href=\"https://shop.example/p/{0}?utm_source=newsletter&utm_medium="
        "email&utm_campaign=sommer\" style=\"color:#c2185b\">Ansehen</a></td></tr>\n",
        1000 + i, names[i], 19 + i * 7, 95 - i, 29 + i * 9);
    text_items += fmt::format("* {} — jetzt {},{:02} € statt {},00 €: https://shop.example/p/{}\n", names[i],
                              19 + i * 7, 95 - i, 29 + i * 9, 1000 + i);
  }
  m.html = fmt::format(
      "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width\"><title>Sommer</title></head><body style=\"margin:0;background:#f6f6f6\">\n"
      "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr><td align=\"center\">\n"
      "<table role=\"presentation\" width=\"600\" style=\"background:#fff\"><tr><td style=\"padding:24px;font-family:"
      "Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#222\"><h1 style=\"font-size:24px\">Hallo "
      "Ana,</h1>"
      "<p>Ihre Lieblingsstücke sind zurück — und nur bis Sonntag gibt es 20 % Rabatt auf die ganze Sommerkollektion. "
      "Geben Sie an der Kasse einfach den Code <strong>SOMMER20</strong> ein.</p></td></tr>\n{}"
      "<tr><td style=\"padding:24px;font-family:Helvetica,Arial,sans-serif;font-size:12px;color:#888\">Sie erhalten "
      "diese E-Mail, weil Sie unseren Newsletter abonniert haben. <a href=\"https://shop.example/u/abc123\">Abmelden"
      "</a> · <a href=\"https://shop.example/privacy\">Datenschutz</a><br>Zoë's Shop GmbH · Musterstraße 1 · 50667 Köln"
      "</td></tr></table></td></tr></table></body></html>\n",
      items);
  m.text = fmt::format(
      "Hallo Ana,\n\nIhre Lieblingsstücke sind zurück — und nur bis Sonntag gibt es 20 % Rabatt auf die ganze "
      "Sommerkollektion. Geben Sie an der Kasse einfach den Code SOMMER20 ein.\n\n{}\nSie erhalten diese E-Mail, weil "
      "Sie unseren Newsletter abonniert haben.\nAbmelden: https://shop.example/u/abc123\nDatenschutz: "
      "https://shop.example/privacy\n\nZoë's Shop GmbH, Musterstraße 1, 50667 Köln\n",
      text_items);
  m.headers = {{"X-Campaign", "sommer-2025"}};
  m.kind = channels::EmailKind::kCommercial;
  m.unsubscribe_url = "https://shop.example/u/abc123";
  m.unsubscribe_mailto = "unsubscribe@shop.example";
  m.message_id_domain = "shop.example";
  return m;
}

// Plain SMTP to the in-process sink over a pool of `connections`.
channels::SmtpConfig sink_config(int port, int connections) {
  channels::SmtpConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.tls = channels::SmtpTls::kNone;
  c.pool_size = static_cast<size_t>(connections);
  c.helo_name = "bench.shop.example";
  return c;
}

struct RunResult {
  double msgs_per_s = 0;
  uint64_t connections = 0;
};

// Touchpoint: `threads` senders share one EmailSender whose pool has `connections` slots; each
// message is composed (and signed) and sent.
Result<RunResult> run_touchpoint(const Options& o, int messages, int connections, const std::string& dkim_key,
                                 bool fresh_connections) {
  TP_ASSIGN(auto sink, channels::testing::FastSmtpSink::start());
  SystemClock clock;
  channels::SmtpConfig c = sink_config(sink->port(), connections);
  if (!dkim_key.empty()) c.dkim = {dkim_key, "bench", "shop.example"};
  EmailMessage base = typical_message();
  std::atomic<int> next{0}, failed{0};
  std::string first_error;
  std::mutex error_mu;
  TP_ASSIGN(auto sender, channels::EmailSender::create(c, clock));
  auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&] {
      EmailMessage m = base;
      while (true) {
        int i = next.fetch_add(1);
        if (i >= messages || interrupted()) break;
        m.idempotency_key = fmt::format("bench:{}", i);
        m.to[0].email = fmt::format("customer+{}@example.org", i);
        m.unsubscribe_url = fmt::format("https://shop.example/u/abc123?m={}", i);
        channels::DeliveryResult r;
        if (fresh_connections) {
          // No pool: the same composing and signing, then a new SmtpPool, so a new connection
          // (TCP, greeting, EHLO, ..., QUIT), for every message.
          auto email = sender->compose(m);
          auto once = channels::SmtpPool::create(c);
          if (!email.is_ok() || !once.is_ok())
            r = channels::DeliveryResult::permanent_error(email.is_ok() ? once.status().message()
                                                                        : email.status().message());
          else
            r = (*once)->send(*email);
        } else {
          r = sender->send(m);
        }
        if (!r.delivered()) {
          ++failed;
          std::lock_guard lock(error_mu);
          if (first_error.empty()) first_error = r.reason;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = seconds_since(start);
  sender.reset();
  if (failed > 0) return internal_error(fmt::format("{} messages failed, first: {}", failed.load(), first_error));
  if (sink->messages() != static_cast<uint64_t>(messages))
    return internal_error(fmt::format("the sink got {} of {} messages", sink->messages(), messages));
  return RunResult{messages / seconds, sink->connections()};
}

// The outbox worker (delivery::Deliverer) as `serve` runs it: `messages` people each entered a
// journey whose one step sends the typical message as a template; the runner has written the
// send effects to the outbox. Timed: from the first round until every delivery is recorded.
Result<RunResult> run_outbox(const Options& o, int messages, int connections) {
  namespace fs = std::filesystem;
  channels::testing::TempDir dir;
  fs::create_directories(dir.path() / "journeys" / "templates");
  std::ofstream(dir.path() / "journeys" / "sommer.yaml") << R"(id: sommer
name: Sommer
send_type: commercial
entry: {event: Signed Up}
steps:
  - id: offer
    send: {channel: email, template: sommer}
)";
  EmailMessage m = typical_message();
  std::string html = m.html;
  for (auto [from, to] : {std::pair<std::string, std::string>{"Hallo Ana,", "Hallo {{ user.traits.first_name }},"},
                          {"https://shop.example/u/abc123", "{{ message.unsubscribe_url }}"}}) {
    for (size_t at = html.find(from); at != std::string::npos; at = html.find(from, at + to.size()))
      html.replace(at, from.size(), to);
  }
  std::ofstream(dir.path() / "journeys" / "templates" / "sommer.email.liquid")
      << "---\nsubject: \"" << m.subject << "\"\npreheader: \"" << m.preheader << "\"\nfrom: \"Zoë's Shop <"
      << m.from.email << ">\"\n---\n{% part html %}" << html << "{% endpart %}\n{% part text %}" << m.text
      << "{% endpart %}\n";
  SystemClock clock;
  MetricsRegistry metrics;
  std::string data = dir.path().string();
  TP_ASSIGN(auto store, storage::open_sqlite_store(data));
  TP_ASSIGN(auto journey_store, storage::open_sqlite_journey_store(data));
  TP_ASSIGN(auto writer, profiles::ProfileWriter::create(*store, clock, metrics));
  writer->start();
  // The runner first: it follows the event log from where it starts.
  std::vector<journeys::Problem> problems;
  TP_ASSIGN(auto ws, journeys::load_live_workspace((dir.path() / "journeys").string(), *journey_store, clock.now(),
                                                   problems));
  TP_ASSIGN(auto runner, journeys::Runner::create(std::move(ws), *store, *journey_store, clock, metrics, nullptr, {}));
  for (int i = 0; i < messages; i += 500) {
    std::vector<ingest::Message> batch;
    for (int k = i; k < std::min(messages, i + 500); ++k) {
      Json identify = {{"type", "identify"},
                       {"userId", fmt::format("c{}", k)},
                       {"traits", {{"email", fmt::format("customer+{}@example.org", k)}, {"first_name", "Ana"}}}};
      Json track = {{"type", "track"}, {"userId", fmt::format("c{}", k)}, {"event", "Signed Up"}};
      for (const Json& j : {identify, track}) {
        TP_ASSIGN(auto parsed, ingest::parse_typed(j.dump(), clock.now()));
        batch.push_back(std::move(parsed));
      }
    }
    TP_TRY(writer->submit_and_wait(std::move(batch)).status);
  }
  TP_TRY(runner->run_once());
  TP_ASSIGN(auto templates, templates::load_template_dir((dir.path() / "journeys" / "templates").string()));

  TP_ASSIGN(auto sink, channels::testing::FastSmtpSink::start());
  TP_ASSIGN(auto sender, channels::EmailSender::create(sink_config(sink->port(), connections), clock));
  delivery::Deps deps{*journey_store, *store, templates, sender.get(), nullptr, nullptr, clock, metrics};
  deps.unsubscribe_url = [](const storage::DeliveryRow& row) { return "https://shop.example/u/" + row.key; };
  // Delivery events onto the card, as serve does (the profile writer commits them on its thread).
  deps.echo = [&](std::vector<std::string> texts) {
    std::vector<ingest::Message> batch;
    for (const auto& t : texts)
      if (auto parsed = ingest::parse_typed(t, clock.now()); parsed.is_ok()) batch.push_back(std::move(parsed).value());
    writer->submit(std::move(batch), [](const profiles::WriteOutcome&) {});
  };
  delivery::Options options;
  options.workers = static_cast<unsigned>(connections);
  TP_ASSIGN(auto deliverer, delivery::Deliverer::create(std::move(deps), options));
  auto start = SteadyClock::now();
  int attempted = 0;
  while (attempted < messages && !interrupted()) {
    TP_ASSIGN(size_t n, deliverer->run_once());
    if (n == 0) break;
    attempted += static_cast<int>(n);
  }
  double seconds = seconds_since(start);
  TP_ASSIGN(auto delivered, journey_store->deliveries("delivered", messages + 1));
  if (delivered.size() != static_cast<size_t>(messages) || sink->messages() != static_cast<uint64_t>(messages))
    return internal_error(fmt::format("outbox: {} recorded delivered, the sink got {}, of {}", delivered.size(),
                                      sink->messages(), messages));
  deliverer.reset();
  writer->stop();
  return RunResult{messages / seconds, sink->connections()};
}

Result<RunResult> run_nodemailer(const Options& o, int messages, const std::string& input,
                                 const std::string& dkim_key) {
  TP_ASSIGN(auto sink, channels::testing::FastSmtpSink::start());
  std::string dir = o.source_dir + "/bench/nodemailer";
  std::vector<std::string> argv = {"/usr/bin/env",
                                   "node",
                                   dir + "/send.mjs",
                                   "--port",
                                   std::to_string(sink->port()),
                                   "--messages",
                                   std::to_string(messages),
                                   "--connections",
                                   std::to_string(o.connections),
                                   "--input",
                                   input};
  if (!dkim_key.empty())
    argv.insert(argv.end(), {"--dkim-key", dkim_key, "--dkim-selector", "bench", "--dkim-domain", "shop.example"});
  int status = 0;
  TP_ASSIGN(std::string out, channels::testing::run_and_capture(argv, Millis(1'800'000), &status));
  if (status != 0) return internal_error(fmt::format("nodemailer exited with {}: {}", status, out));
  std::string last = out.substr(out.rfind('{', out.size()));
  Json j = Json::parse(last, nullptr, false);
  if (!j.is_object() || !j.contains("msgs_per_s")) return internal_error("nodemailer printed no result: " + out);
  if (j["failed"].get<int>() != 0) return internal_error("nodemailer: messages failed: " + j["error"].dump());
  if (sink->messages() != static_cast<uint64_t>(messages))
    return internal_error(fmt::format("the sink got {} of {} nodemailer messages", sink->messages(), messages));
  return RunResult{j["msgs_per_s"].get<double>(), sink->connections()};
}

Status run(const Options& o) {
  namespace fs = std::filesystem;
  channels::testing::TempDir dir;
  std::string dkim_key;
  if (o.dkim) {
    dkim_key = (dir.path() / "dkim.pem").string();
    std::ofstream(dkim_key) << channels::testing::generate_rsa_key_pem(2048);
  }
  // The message as nodemailer gets it: the same fields, the HTML with our preheader already in.
  SystemClock clock;
  EmailMessage m = typical_message();
  m.idempotency_key = "size-probe";
  TP_ASSIGN(auto composed, channels::compose_email(m, clock));
  fmt::print(stderr, "smtp_bench: one message is {} bytes on the wire\n", composed.data.size());
  std::string html = m.html;
  size_t body = html.find("<body");
  body = html.find('>', body) + 1;
  html.insert(body,
              "<div style=\"display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;"
              "overflow:hidden;mso-hide:all\">" +
                  m.preheader + "</div>");
  std::string input = (dir.path() / "message.json").string();
  std::ofstream(input) << Json{
      {"from", m.from.email},
      {"from_name", m.from.display_name},
      {"to", m.to[0].email},
      {"to_name", m.to[0].display_name},
      {"reply_to", m.reply_to->email},
      {"subject", m.subject},
      {"text", m.text},
      {"html", html},
      {"unsubscribe_url", m.unsubscribe_url},
      {"unsubscribe_mailto", m.unsubscribe_mailto},
      {"campaign", "sommer-2025"},
      {"message_id_domain",
       "shop.example"}}.dump();
  bool node_ready = fs::exists(o.source_dir + "/bench/nodemailer/node_modules/nodemailer");
  if (!o.skip_node && !node_ready)
    return internal_error(
        "bench/nodemailer/node_modules is missing: run `npm ci` in bench/nodemailer (or --skip-node)");
  int node_messages = o.node_messages > 0 ? o.node_messages : o.messages;

  std::vector<double> tp_rates, node_rates, outbox_rates;
  uint64_t tp_connections = 0, node_connections = 0;
  int outbox_messages = std::max(500, o.messages / 4);
  for (int run = 0; run < o.runs && !interrupted(); ++run) {
    TP_ASSIGN(RunResult t, run_touchpoint(o, o.messages, o.connections, dkim_key, false));
    tp_rates.push_back(t.msgs_per_s);
    tp_connections = t.connections;
    fmt::print(stderr, "smtp_bench: run {} touchpoint {:.0f} msgs/s over {} connections\n", run + 1, t.msgs_per_s,
               t.connections);
    TP_ASSIGN(RunResult ob, run_outbox(o, outbox_messages, o.connections));
    outbox_rates.push_back(ob.msgs_per_s);
    fmt::print(stderr, "smtp_bench: run {} touchpoint outbox worker {:.0f} msgs/s\n", run + 1, ob.msgs_per_s);
    if (!o.skip_node) {
      TP_ASSIGN(RunResult n, run_nodemailer(o, node_messages, input, dkim_key));
      node_rates.push_back(n.msgs_per_s);
      node_connections = n.connections;
      fmt::print(stderr, "smtp_bench: run {} nodemailer {:.0f} msgs/s over {} connections\n", run + 1, n.msgs_per_s,
                 n.connections);
    }
  }
  // What the pool buys: the same sender opening a connection per message.
  int fresh_messages = std::max(200, o.messages / 20);
  TP_ASSIGN(RunResult fresh, run_touchpoint(o, fresh_messages, o.connections, dkim_key, true));
  fmt::print(stderr, "smtp_bench: touchpoint without reuse {:.0f} msgs/s over {} connections\n", fresh.msgs_per_s,
             fresh.connections);

  double tp = median(tp_rates), node = median(node_rates), outbox = median(outbox_rates);
  fmt::print("smtp_bench: load average {}\n", load_average());
  fmt::print("message: {} bytes multipart/alternative{}; {} connections; median of {} runs\n", composed.data.size(),
             o.dkim ? ", DKIM-signed (RSA-2048)" : "", o.connections, tp_rates.size());
  fmt::print("{:<44} {:>12} {:>10} {:>12}\n", "sender", "msgs/s", "messages", "connections");
  fmt::print("{:<44} {:>12.0f} {:>10} {:>12}\n", "touchpoint (libcurl SmtpPool, pooled)", tp, o.messages,
             tp_connections);
  fmt::print("{:<44} {:>12.0f} {:>10} {:>12}\n", "touchpoint, new connection per message", fresh.msgs_per_s,
             fresh_messages, fresh.connections);
  fmt::print("{:<44} {:>12.0f} {:>10} {:>12}\n", "touchpoint outbox worker (render+send+durable)", outbox,
             outbox_messages, o.connections);
  if (!o.skip_node) {
    fmt::print("{:<44} {:>12.0f} {:>10} {:>12}\n", "nodemailer (pool: true)", node, node_messages, node_connections);
    fmt::print("ratio touchpoint / nodemailer: {:.2f}x (target >= 3x)\n", tp / node);
    fmt::print("ratio touchpoint outbox worker / nodemailer: {:.2f}x (target >= 3x)\n", outbox / node);
  }
  fmt::print("runs: touchpoint [{:.0f}], outbox worker [{:.0f}], nodemailer [{:.0f}]\n", fmt::join(tp_rates, ", "),
             fmt::join(outbox_rates, ", "), fmt::join(node_rates, ", "));
  Json j = {{"bench", "smtp"},
            {"message_bytes", composed.data.size()},
            {"connections", o.connections},
            {"dkim", o.dkim},
            {"touchpoint_msgs_per_s", tp},
            {"touchpoint_runs", tp_rates},
            {"touchpoint_no_reuse_msgs_per_s", fresh.msgs_per_s},
            {"touchpoint_outbox_msgs_per_s", outbox},
            {"touchpoint_outbox_runs", outbox_rates}};
  if (!o.skip_node) {
    j["nodemailer_msgs_per_s"] = node;
    j["nodemailer_runs"] = node_rates;
    j["ratio"] = tp / node;
    j["outbox_ratio"] = outbox / node;
  }
  fmt::print("{}\n", j.dump());
  return Status::ok();
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  using namespace tp::bench;
  CLI::App app{"SMTP delivery: Touchpoint's pooled libcurl sender vs nodemailer's pooled transport"};
  Options o;
  app.add_option("--messages", o.messages, "Messages per Touchpoint run")->capture_default_str();
  app.add_option("--node-messages", o.node_messages, "Messages per nodemailer run (default: --messages)");
  app.add_option("--connections", o.connections, "Pooled SMTP connections (both senders)")->capture_default_str();
  app.add_option("--runs", o.runs, "Runs of each sender; the median is reported")->capture_default_str();
  app.add_flag("--dkim", o.dkim, "DKIM-sign every message (RSA-2048), both senders");
  app.add_flag("--skip-node", o.skip_node, "Do not run nodemailer");
  app.add_flag("--quick", o.quick, "A small run (smoke test)");
  app.add_option("--source-dir", o.source_dir, "The repository (for bench/nodemailer)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.quick) o.messages = 500, o.runs = 1;
  install_interrupt_handler();
  tp::Status s = run(o);
  if (!s.is_ok()) {
    std::cerr << "smtp_bench: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
