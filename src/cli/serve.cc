#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "base/thread.h"
#include "cli/commands.h"
#include "http/api.h"
#include "http/server.h"
#include "profiles/writer.h"
#include "ingest/parser.h"
#include "channels/config.h"
#include "delivery/config.h"
#include "delivery/deliverer.h"
#include "journeys/runner.h"
#include "templates/template_set.h"
#include "tracking/config.h"
#include "tracking/rewrite.h"
#include "tracking/tracking_handler.h"
#include "storage/sqlite_journey_store.h"
#include "storage/sqlite_store.h"

namespace tp::cli {
namespace {

struct ServeArgs {
  std::string data = default_data_dir();
  std::string listen = "127.0.0.1:8710";
  std::string journeys;  // "" = no journeys
  std::string config;    // touchpoint.yaml; "" = <journeys>/touchpoint.yaml when it exists
  unsigned threads = 0;
  unsigned drain_seconds = 30;
};

// Polls until no request is in flight (or the deadline passes), then stops the io_context.
void drain(boost::asio::steady_timer& timer, http::HttpServer& server, boost::asio::io_context& io,
           std::chrono::steady_clock::time_point deadline) {
  if (server.in_flight() == 0 || std::chrono::steady_clock::now() > deadline) {
    if (server.in_flight() != 0)
      log::warn("drain deadline passed", {{"in_flight", std::to_string(server.in_flight())}});
    io.stop();
    return;
  }
  timer.expires_after(std::chrono::milliseconds(10));
  timer.async_wait([&, deadline](const boost::system::error_code&) { drain(timer, server, io, deadline); });
}

int serve(const ServeArgs& args) {
  auto endpoint = http::parse_listen_address(args.listen);
  if (!endpoint.is_ok()) return fail(endpoint.status().message());
  if (!prepare_data_dir(args.data)) return 1;
  auto store = storage::open_sqlite_store(args.data);
  if (!store.is_ok()) return fail(store.status().message());

  SystemClock clock;
  MetricsRegistry metrics;
  // Requests are acknowledged once they are in the intake log; the writer applies them behind it.
  auto intake = storage::IntakeLog::open((std::filesystem::path(args.data) / "intake").string());
  if (!intake.is_ok()) return fail(intake.status().message());
  auto writer = profiles::ProfileWriter::create(**store, clock, metrics, intake->get());
  if (!writer.is_ok()) return fail(writer.status().message());
  storage::ReaderPool readers(**store);
  http::KeyCache keys(readers);

  // Live journeys: the runner follows the event log; the writer wakes it after each commit and
  // takes its echoes (effects on the customer card) like any other messages.
  std::unique_ptr<storage::JourneyStore> journey_store;
  std::unique_ptr<journeys::Runner> runner;
  // Delivery: the templates beside the journeys, the channels of touchpoint.yaml.
  templates::TemplateSet message_templates;
  channels::ChannelsConfig channel_config;
  std::unique_ptr<channels::EmailSender> email;
  std::unique_ptr<channels::SmsSender> sms;
  std::unique_ptr<channels::WebhookSender> webhook;
  std::unique_ptr<delivery::Deliverer> deliverer;
  std::unique_ptr<tracking::TrackingHandler> tracker;
  if (!args.journeys.empty()) {
    auto opened = storage::open_sqlite_journey_store(args.data);
    if (!opened.is_ok()) return fail(opened.status().message());
    journey_store = std::move(opened).value();
    std::vector<journeys::Problem> problems;
    auto ws = journeys::load_live_workspace(args.journeys, *journey_store, clock.now(), problems);
    for (const auto& p : problems) std::cerr << p.to_string() << "\n";
    if (!ws.is_ok()) return fail(ws.status().message());
    profiles::ProfileWriter& w = **writer;
    auto echo = [&w, &clock](std::vector<std::string> messages, std::function<void(bool)> done) {
      std::vector<ingest::Message> parsed;
      for (const auto& text : messages) {
        auto m = ingest::parse_typed(text, clock.now());
        if (m.is_ok()) parsed.push_back(std::move(m).value());
        else log::error("journey echo is not a valid message", {{"error", m.status().message()}});
      }
      w.submit(std::move(parsed), [done = std::move(done)](const profiles::WriteOutcome& o) { done(o.status.is_ok()); });
    };
    namespace fs = std::filesystem;
    std::string template_dir = (fs::path(args.journeys) / "templates").string();
    if (fs::is_directory(template_dir)) {
      auto loaded = templates::load_template_dir(template_dir);
      if (!loaded.is_ok()) return fail(loaded.status().message());
      message_templates = std::move(loaded).value();
    }
    std::string config = args.config;
    if (config.empty() && fs::exists(fs::path(args.journeys) / "touchpoint.yaml"))
      config = (fs::path(args.journeys) / "touchpoint.yaml").string();
    delivery::Options delivery_options;
    if (!config.empty()) {
      auto loaded = channels::load_channels_config(config);
      if (!loaded.is_ok()) return fail(loaded.status().message());
      channel_config = std::move(loaded).value();
      auto pacing = delivery::load_delivery_config(config);
      if (!pacing.is_ok()) return fail(pacing.status().message());
      delivery_options = std::move(pacing).value();
    }
    if (channel_config.smtp) {
      auto s = channels::EmailSender::create(*channel_config.smtp, clock);
      if (!s.is_ok()) return fail(s.status().message());
      email = std::move(s).value();
    }
    if (channel_config.sms) {
      auto s = channels::SmsSender::create(*channel_config.sms);
      if (!s.is_ok()) return fail(s.status().message());
      sms = std::move(s).value();
    }
    if (channel_config.webhooks) {
      auto s = channels::WebhookSender::create(*channel_config.webhooks, clock);
      if (!s.is_ok()) return fail(s.status().message());
      webhook = std::move(s).value();
    }
    if (!config.empty()) {
      // Engagement links in emails, served under /t/ (docs/tracking.md).
      auto loaded = tracking::load_tracking_config(config);
      if (!loaded.is_ok()) return fail(loaded.status().message());
      if (*loaded) {
        tracking::TrackingConfig tc = std::move(**loaded);
        if (tc.secret.empty()) {
          auto master = (*store)->secret("tracking_secret");
          if (!master.is_ok()) return fail(master.status().message());
          tc.secret = tracking::derive_tracking_secret(*master);
        }
        auto handler = tracking::TrackingHandler::create(std::move(tc), echo, clock);
        if (!handler.is_ok()) return fail(handler.status().message());
        tracker = std::move(handler).value();
      }
    }
    delivery::Deps deps{*journey_store, **store, message_templates, email.get(), sms.get(), webhook.get(), clock, metrics};
    deps.echo = [echo](std::vector<std::string> messages) { echo(std::move(messages), [](bool) {}); };
    if (tracker) {
      const tracking::LinkSigner& signer = tracker->signer();
      auto link_context = [](const storage::DeliveryRow& row) {
        return tracking::LinkContext{row.key, row.user_id, row.journey, row.step};
      };
      deps.rewrite_html = [&signer, link_context](const storage::DeliveryRow& row, std::string html) {
        auto rewritten = tracking::rewrite_html(html, signer, link_context(row));
        return rewritten.is_ok() ? std::move(rewritten->html) : html;
      };
      deps.unsubscribe_url = [&signer, link_context](const storage::DeliveryRow& row) {
        auto links = signer.email_links(link_context(row));
        return links.is_ok() ? links->unsubscribe_url : std::string();
      };
    }
    auto made = delivery::Deliverer::create(std::move(deps), std::move(delivery_options));
    if (!made.is_ok()) return fail(made.status().message());
    deliverer = std::move(made).value();

    journeys::Runner::Options options;
    options.committed = [d = deliverer.get()](const std::vector<journeys::Effect>&) { d->notify(); };
    auto created = journeys::Runner::create(std::move(ws).value(), **store, *journey_store, clock, metrics, echo,
                                            std::move(options));
    if (!created.is_ok()) return fail(created.status().message());
    runner = std::move(created).value();
    w.set_on_commit([r = runner.get()] { r->notify(); });
  }
  http::JourneyApiDeps journey_api{runner.get(), journey_store.get(), &message_templates,
                                   channel_config.sms ? &*channel_config.sms : nullptr};
  http::Api api({readers, **writer, keys, clock, metrics, ingest::Limits{}, journey_api, tracker.get()});

  unsigned threads = args.threads != 0 ? args.threads : std::max(2u, std::thread::hardware_concurrency());
  boost::asio::io_context io(static_cast<int>(threads));
  auto server = http::HttpServer::create(io, *endpoint, api, metrics);
  if (!server.is_ok()) return fail(server.status().message());

  (*writer)->start();
  if (runner) runner->start();
  if (deliverer) deliverer->start();
  (*server)->start();

  boost::asio::steady_timer drain_timer(io);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("draining", {{"signal", std::to_string(signal)}, {"in_flight", std::to_string((*server)->in_flight())}});
    (*server)->set_draining();
    (*server)->stop_accepting();
    drain(drain_timer, **server, io, std::chrono::steady_clock::now() + std::chrono::seconds(args.drain_seconds));
  });

  auto local = (*server)->local_endpoint();
  std::string host = local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string();
  std::cout << "listening on http://" << host << ":" << local.port() << std::endl;
  log::info("started", {{"listen", host + ":" + std::to_string(local.port())}, {"threads", std::to_string(threads)}});

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([&io] {
      name_this_thread("tp-http");
      io.run();
    });
  io.run();
  for (auto& t : pool) t.join();
  // Shutting down already: a second SIGTERM must not kill the process before the writer is done.
  boost::system::error_code ignored;
  signals.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  if (deliverer) deliverer->stop();  // finishes its round; in-doubt sends are retried at start
  if (runner) runner->stop();  // finishes its batch; anything later is done at the next start
  (*writer)->stop();  // every acknowledged write is already durable; this drains the rest
  log::info("stopped");
  return 0;
}

}  // namespace

void add_serve(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Run the server: ingestion API, management API, /healthz, /metrics");
  cmd->add_option("--data", args->data, "Data directory (env TOUCHPOINT_DATA)")->capture_default_str();
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0 picks a free port)")->capture_default_str();
  cmd->add_option("--journeys", args->journeys,
                  "Run the journeys (*.yaml, policies.yaml) in this directory on live events (docs/journeys.md)");
  cmd->add_option("--config", args->config,
                  "touchpoint.yaml with the channels: section (default: touchpoint.yaml in the journeys directory)");
  cmd->add_option("--threads", args->threads, "HTTP threads (default: number of cores, at least 2)");
  cmd->add_option("--drain-seconds", args->drain_seconds, "On SIGTERM, how long to wait for in-flight requests")
      ->capture_default_str();
  cmd->callback([args, &exit_status] { exit_status = serve(*args); });
}

}  // namespace tp::cli
