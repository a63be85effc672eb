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

EventFactory::EventFactory(std::string id_prefix, int users, std::uint64_t seed)
    : prefix_(std::move(id_prefix)), users_(users), state_(seed * 0x9E3779B97F4A7C15ull + 1) {}

std::string EventFactory::user_id(int user) { return fmt::format("user-{:07d}", user); }

// splitmix64: fast, and good enough to spread users; std::mt19937 would dominate a profile.
std::uint64_t EventFactory::next_random() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
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
  fmt::format_to(it, R"({{"type":"track","messageId":"{}-{}","userId":"user-{:07d}","event":"{}","timestamp":")",
                 prefix_, counter_++, e.user, kEvents[(r >> 8) % kEvents.size()]);
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
  fmt::format_to(it, R"({{"type":"identify","messageId":"{}-{}","userId":"user-{:07d}","timestamp":")", prefix_,
                 counter_++, e.user);
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
