#include "ingest/message_codec.h"

#include <cstdint>
#include <cstring>

namespace tp::ingest {
namespace {

// Format version 1: u8 version, u8 type, i64 timestamp ms, i64 received_at ms, then the strings
// message_id, user_id, anonymous_id, event, group_id, previous_id, body, then u32 trait count
// with (name, json) pairs and u32 consent count with (category, u8 granted). A string is u32
// length + bytes. Little-endian.
constexpr std::uint8_t kVersion = 1;

void put_int(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_string(std::string& out, std::string_view s) {
  put_int(out, s.size(), 4);
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view& in) : in_(in) {}
  bool ok() const { return ok_; }

  std::uint64_t integer(int bytes) {
    if (in_.size() < static_cast<size_t>(bytes)) return fail();
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(bytes);
    return v;
  }
  std::string_view view() {
    auto n = integer(4);
    if (!ok_ || in_.size() < n) return fail(), std::string_view();
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }
  std::string string() { return std::string(view()); }

 private:
  std::uint64_t fail() {
    ok_ = false;
    in_ = {};
    return 0;
  }
  std::string_view& in_;
  bool ok_ = true;
};

}  // namespace

void encode_message(const Message& m, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(m.type));
  put_int(out, static_cast<std::uint64_t>(m.timestamp.time_since_epoch().count()), 8);
  put_int(out, static_cast<std::uint64_t>(m.received_at.time_since_epoch().count()), 8);
  for (const std::string* s : {&m.message_id, &m.user_id, &m.anonymous_id, &m.event, &m.group_id, &m.previous_id, &m.body})
    put_string(out, *s);
  put_int(out, m.traits.size(), 4);
  for (const auto& t : m.traits) {
    put_string(out, t.name);
    put_string(out, t.json);
  }
  put_int(out, m.consent.size(), 4);
  for (const auto& [category, granted] : m.consent) {
    put_string(out, category);
    out.push_back(granted ? 1 : 0);
  }
}

Status decode_message_into(std::string_view& in, Message& m) {
  Reader r(in);
  auto version = r.integer(1);
  if (r.ok() && version != kVersion)
    return invalid_argument("intake entry: unknown message format version " + std::to_string(version));
  auto type = r.integer(1);
  if (type > static_cast<std::uint64_t>(MessageType::kAlias)) return invalid_argument("intake entry: unknown message type");
  m.type = static_cast<MessageType>(type);
  m.timestamp = Timestamp(Millis(static_cast<std::int64_t>(r.integer(8))));
  m.received_at = Timestamp(Millis(static_cast<std::int64_t>(r.integer(8))));
  // assign() keeps a string's memory when it is large enough: no allocation for a reused message.
  for (std::string* s : {&m.message_id, &m.user_id, &m.anonymous_id, &m.event, &m.group_id, &m.previous_id, &m.body})
    s->assign(r.view());
  auto traits = r.integer(4);
  m.traits.clear();
  for (std::uint64_t i = 0; r.ok() && i < traits; ++i) {
    Trait t;
    t.name = r.string();
    t.json = r.string();
    m.traits.push_back(std::move(t));
  }
  auto consent = r.integer(4);
  m.consent.clear();
  for (std::uint64_t i = 0; r.ok() && i < consent; ++i) {
    std::string category = r.string();
    auto granted = r.integer(1);
    if (granted > 1) return invalid_argument("intake entry: a consent flag is neither 0 nor 1");
    m.consent.emplace_back(std::move(category), granted == 1);
  }
  if (!r.ok()) return invalid_argument("intake entry: a message is cut short");
  return Status::ok();
}

Result<Message> decode_message(std::string_view& in) {
  Message m;
  TP_TRY(decode_message_into(in, m));
  return m;
}

}  // namespace tp::ingest
