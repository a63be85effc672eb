#include "events.h"

#include <fmt/format.h>

#include <array>
#include <iterator>
#include <vector>

#include "base/time_format.h"

namespace tp::bench {
namespace {

struct Product {
  const char* sku;
  const char* name;
  const char* category;
  const char* price;
};

constexpr std::array<const char*, 6> kEvents = {"Product Viewed",   "Product Added",  "Checkout Started",
                                                 "Order Completed", "Coupon Applied", "Product Removed"};
constexpr std::array<Product, 4> kProducts = {{
    {"sku-48213", "Trail Running Shoe", "footwear", "89.95"},
    {"sku-10377", "Merino Base Layer", "apparel", "64.00"},
    {"sku-77102", "Insulated Bottle 750ml", "accessories", "24.50"},
    {"sku-31964", "Ultralight Rain Jacket", "apparel", "149.00"},
}};
constexpr std::array<const char*, 4> kLocales = {"de-DE", "en-GB", "fr-FR", "nl-NL"};
constexpr std::array<const char*, 3> kPlans = {"free", "pro", "enterprise"};

}  // namespace

namespace {

// The splitmix64 finaliser: a bijection on 64 bits that scatters nearby inputs.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t hash(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a, then mixed
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return mix(h);
}

}  // namespace

void append_uuid_like(std::string& out, std::uint64_t n, std::uint64_t stream) {
  std::uint64_t hi = mix(n ^ stream), lo = stream;
  fmt::format_to(std::back_inserter(out), "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                 hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFull);
}

EventFactory::EventFactory(std::string_view stream, int users, IdStyle ids)
    : users_(users), ids_(ids), stream_name_(stream), stream_(hash(stream)), state_(mix(stream_ ^ 0x5DEECE66Dull)) {}

std::string EventFactory::user_id(int user) { return fmt::format("user-{:07d}", user); }

// splitmix64: fast, and good enough to spread users; std::mt19937 would dominate a profile.
std::uint64_t EventFactory::next_random() { return mix(state_ += 0x9E3779B97F4A7C15ull); }

// 8-4-4-4-12 hex digits. The first half is a bijection of the counter (unique within the
// factory, scattered), the second half names the stream (unique across factories).
void EventFactory::append_message_id(std::string& out) {
  if (ids_ == IdStyle::kSequential) {
    fmt::format_to(std::back_inserter(out), "{}-{:012d}", stream_name_, counter_++);
    return;
  }
  append_uuid_like(out, counter_++, stream_);
}

int EventFactory::random_user() { return static_cast<int>(next_random() % static_cast<std::uint64_t>(users_)); }

void EventFactory::append(std::string& out, const EventSpec& e) {
  if (e.kind == EventSpec::Kind::kIdentify)
    append_identify(out, e);
  else
    append_track(out, e);
}

void EventFactory::append_track(std::string& out, const EventSpec& e) {
  std::uint64_t r = next_random();
  const Product& p = kProducts[r % kProducts.size()];
  auto it = std::back_inserter(out);
  out += R"({"type":"track","messageId":")";
  append_message_id(out);
  fmt::format_to(it, R"(","userId":"user-{:07d}","event":"{}","timestamp":")", e.user,
                 kEvents[(r >> 8) % kEvents.size()]);
  append_iso8601(out, e.time);
  fmt::format_to(it,
                 R"(","properties":{{"product_id":"{}","name":"{}","category":"{}","price":{},"currency":"EUR",)"
                 R"("quantity":{}}},"context":{{"ip":"203.0.113.{}","locale":"{}",)"
                 R"("library":{{"name":"analytics-node","version":"6.2.0"}}}}}})",
                 p.sku, p.name, p.category, p.price, 1 + (r >> 16) % 3, (r >> 24) % 250,
                 kLocales[(r >> 32) % kLocales.size()]);
}

void EventFactory::append_identify(std::string& out, const EventSpec& e) {
  std::uint64_t r = next_random();
  auto it = std::back_inserter(out);
  out += R"({"type":"identify","messageId":")";
  append_message_id(out);
  fmt::format_to(it, R"(","userId":"user-{:07d}","timestamp":")", e.user);
  append_iso8601(out, e.time);
  fmt::format_to(it,
                 R"(","traits":{{"email":"user{}@example.com","name":"Customer {}","plan":"{}","company":"Acme {}",)"
                 R"("owner":"sales-{}"}},"context":{{"ip":"203.0.113.{}","locale":"{}",)"
                 R"("consent":{{"categoryPreferences":{{"marketing":{},"analytics":true}}}}}}}})",
                 e.user, e.user, kPlans[r % kPlans.size()], (r >> 8) % 500, (r >> 16) % 20, (r >> 24) % 250,
                 kLocales[(r >> 32) % kLocales.size()], (r >> 40) % 2 == 0 ? "true" : "false");
}

std::string EventFactory::batch_body(std::span<const EventSpec> events, Timestamp sent_at) {
  std::string out;
  out.reserve(64 + events.size() * 400);
  out += R"({"batch":[)";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i) out.push_back(',');
    append(out, events[i]);
  }
  out += R"(],"sentAt":")";
  append_iso8601(out, sent_at);
  out += "\"}";
  return out;
}

std::string EventFactory::random_batch_body(int n, Timestamp now) {
  std::vector<EventSpec> events(static_cast<size_t>(n));
  for (auto& e : events) e = {EventSpec::Kind::kTrack, random_user(), now};
  return batch_body(events, now);
}

std::string EventFactory::random_track_body(Timestamp now) {
  std::string out;
  out.reserve(400);
  append_track(out, {EventSpec::Kind::kTrack, random_user(), now});
  return out;
}

}  // namespace tp::bench
