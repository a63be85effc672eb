// Fuzzes the reader of intake-log messages (ingest/message_codec.h): no crash on any bytes, and
// whatever it accepts encodes back to exactly the bytes it consumed.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/message_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    std::string_view before = in;
    auto m = tp::ingest::decode_message(in);
    if (!m.is_ok()) break;
    std::string again;
    tp::ingest::encode_message(*m, again);
    if (again != before.substr(0, before.size() - in.size())) std::abort();
  }
  return 0;
}
