// parser_bench: parsing a /v1/batch body of 100 track events (~38 KB).
//
// Rows, each reporting bytes/s and items/s (items = events):
//   touchpoint_parse_batch      tp::ingest::parse_batch: simdjson DOM, Segment validation, clock-skew
//                               correction, the normalised body of every message
//   simdjson_dom_parse_only     the simdjson parse alone: parse_batch's floor
//   nlohmann_json_parse_only    nlohmann::json::parse into a DOM: what a user would pick, before
//                               any validation or normalisation
//   nlohmann_json_parse_fields  nlohmann::json::parse plus reading each message's fields and
//                               re-serialising properties/context, i.e. the comparable work
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include "events.h"
#include "ingest/parser.h"

namespace {

constexpr int kEvents = 100;

const std::string& batch_body() {
  static const std::string body = [] {
    tp::bench::EventFactory events("parser", 10000);
    return events.random_batch_body(kEvents, tp::SystemClock().now());
  }();
  return body;
}

void report(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(batch_body().size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kEvents);
}

void touchpoint_parse_batch(benchmark::State& state) {
  const std::string& body = batch_body();
  tp::Timestamp now = tp::SystemClock().now();
  for (auto _ : state) {
    auto parsed = tp::ingest::parse_batch(body, now);
    if (!parsed.is_ok()) {
      state.SkipWithError(parsed.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(parsed);
  }
  report(state);
}

void simdjson_dom_parse_only(benchmark::State& state) {
  const std::string& body = batch_body();
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  for (auto _ : state) {
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc) != simdjson::SUCCESS) {
      state.SkipWithError("simdjson failed");
      break;
    }
    benchmark::DoNotOptimize(doc);
  }
  report(state);
}

void nlohmann_json_parse_only(benchmark::State& state) {
  const std::string& body = batch_body();
  for (auto _ : state) {
    auto doc = nlohmann::json::parse(body);
    benchmark::DoNotOptimize(doc);
  }
  report(state);
}

// The fields parse_batch extracts, the nlohmann way; objects are re-serialised as parse_batch
// keeps them as minified JSON text.
void nlohmann_json_parse_fields(benchmark::State& state) {
  const std::string& body = batch_body();
  for (auto _ : state) {
    auto doc = nlohmann::json::parse(body);
    size_t total = 0;
    for (const auto& m : doc.at("batch")) {
      total += m.at("type").get_ref<const std::string&>().size();
      total += m.at("messageId").get_ref<const std::string&>().size();
      total += m.at("userId").get_ref<const std::string&>().size();
      total += m.at("event").get_ref<const std::string&>().size();
      total += m.at("timestamp").get_ref<const std::string&>().size();
      total += m.at("properties").dump().size();
      total += m.at("context").dump().size();
    }
    benchmark::DoNotOptimize(total);
  }
  report(state);
}

BENCHMARK(touchpoint_parse_batch);
BENCHMARK(simdjson_dom_parse_only);
BENCHMARK(nlohmann_json_parse_only);
BENCHMARK(nlohmann_json_parse_fields);

}  // namespace

BENCHMARK_MAIN();
