// Fuzzes the Segment message parser: any bytes must give a Message or a clear error, never a
// crash, and an accepted message's normalised body must itself be valid JSON.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  tp::Timestamp now{tp::Millis(1'700'000'000'000)};
  auto check = [](const tp::ingest::Message& m) {
    simdjson::dom::parser p;
    simdjson::dom::element e;
    if (p.parse(m.body).get(e) != simdjson::SUCCESS) std::abort();
  };
  if (auto batch = tp::ingest::parse_batch(text, now); batch.is_ok()) {
    for (const auto& m : batch->messages) check(m);
  } else if (batch.status().message().empty()) {
    std::abort();  // every error names what was wrong
  }
  if (auto single = tp::ingest::parse_single(text, tp::ingest::MessageType::kTrack, now); single.is_ok())
    check(single->messages.at(0));
  if (auto typed = tp::ingest::parse_typed(text, now); typed.is_ok()) check(*typed);
  return 0;
}
