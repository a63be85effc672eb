#include "profiles/card.h"

#include <fmt/format.h>

#include <charconv>

#include "base/json_text.h"
#include "base/time_format.h"

namespace tp::profiles {
namespace {

using storage::IdentityKind;
using storage::ProfileRecord;

Result<ProfileRecord> load(storage::Reader& reader, std::string_view user_id) {
  TP_ASSIGN(auto id, reader.find_identity(IdentityKind::kUser, user_id));
  if (!id) return not_found(fmt::format("no profile with userId {}", json_string(user_id)));
  return reader.profile(*id);
}

void append_time_or_null(std::string& out, std::optional<Timestamp> t) {
  if (!t) {
    out += "null";
    return;
  }
  out.push_back('"');
  append_iso8601(out, *t);
  out.push_back('"');
}

void append_ids(std::string& out, const ProfileRecord& p, IdentityKind kind) {
  out.push_back('[');
  bool first = true;
  for (const auto& id : p.identities) {
    if (id.kind != kind) continue;
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, id.value);
  }
  out.push_back(']');
}

// Everything but the timeline, as members of the enclosing object (no braces).
void append_header(std::string& out, const ProfileRecord& p, bool with_update_times) {
  out += "\"userId\":";
  append_json_string(out, p.user_id);
  out += ",\"userIds\":";
  append_ids(out, p, IdentityKind::kUser);
  out += ",\"anonymousIds\":";
  append_ids(out, p, IdentityKind::kAnonymous);
  out += ",\"traits\":{";
  const std::string* owner = nullptr;
  for (size_t i = 0; i < p.traits.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, p.traits[i].name);
    out.push_back(':');
    out += p.traits[i].json;
    if (p.traits[i].name == "owner") owner = &p.traits[i].json;
  }
  out += "},\"owner\":";
  out += owner ? *owner : "null";
  out += ",\"consent\":{\"categoryPreferences\":{";
  for (size_t i = 0; i < p.consent.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, p.consent[i].category);
    out += p.consent[i].granted ? ":true" : ":false";
  }
  out += "}},\"groups\":[";
  for (size_t i = 0; i < p.groups.size(); ++i) {
    if (i) out.push_back(',');
    out += "{\"groupId\":";
    append_json_string(out, p.groups[i].group_id);
    out += ",\"traits\":";
    out += p.groups[i].traits_json;
    out += ",\"updatedAt\":";
    append_time_or_null(out, p.groups[i].updated);
    out.push_back('}');
  }
  out += "],\"firstSeen\":";
  append_time_or_null(out, p.first_seen);
  out += ",\"lastSeen\":";
  append_time_or_null(out, p.last_seen);
  if (with_update_times) {
    out += ",\"traitUpdatedAt\":{";
    for (size_t i = 0; i < p.traits.size(); ++i) {
      if (i) out.push_back(',');
      append_json_string(out, p.traits[i].name);
      out.push_back(':');
      append_time_or_null(out, p.traits[i].updated);
    }
    out += "},\"consentUpdatedAt\":{";
    for (size_t i = 0; i < p.consent.size(); ++i) {
      if (i) out.push_back(',');
      append_json_string(out, p.consent[i].category);
      out.push_back(':');
      append_time_or_null(out, p.consent[i].updated);
    }
    out += "}";
  }
}

}  // namespace

Result<storage::TimelineCursor> parse_cursor(std::string_view text) {
  auto dot = text.find('.');
  auto bad = [&] { return invalid_argument(fmt::format("before: {} is not a cursor from nextCursor", json_string(text))); };
  if (dot == std::string_view::npos) return bad();
  long long ts = 0, seq = 0;
  auto r1 = std::from_chars(text.data(), text.data() + dot, ts);
  auto r2 = std::from_chars(text.data() + dot + 1, text.data() + text.size(), seq);
  if (r1.ec != std::errc() || r1.ptr != text.data() + dot || r2.ec != std::errc() ||
      r2.ptr != text.data() + text.size())
    return bad();
  return storage::TimelineCursor{Timestamp(Millis(ts)), seq};
}

Result<std::string> render_card(storage::Reader& reader, std::string_view user_id, const CardQuery& query) {
  TP_ASSIGN(ProfileRecord p, load(reader, user_id));
  // One extra row tells whether another page follows.
  TP_ASSIGN(auto entries, reader.timeline(p.id, query.before, query.limit + 1));
  bool more = static_cast<int>(entries.size()) > query.limit;
  if (more) entries.pop_back();
  std::string out = "{";
  out.reserve(1024 + entries.size() * 512);
  append_header(out, p, false);
  out += ",\"timeline\":[";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) out.push_back(',');
    out += entries[i].body;
  }
  out += "],\"nextCursor\":";
  if (more)
    out += fmt::format("\"{}.{}\"", entries.back().timestamp.time_since_epoch().count(), entries.back().seq);
  else
    out += "null";
  out.push_back('}');
  return out;
}

Result<std::string> render_export(storage::Reader& reader, std::string_view user_id) {
  TP_ASSIGN(ProfileRecord p, load(reader, user_id));
  std::string out = "{";
  append_header(out, p, true);
  out += ",\"timeline\":[";
  std::optional<storage::TimelineCursor> before;
  bool first = true;
  while (true) {
    TP_ASSIGN(auto entries, reader.timeline(p.id, before, 10000));
    for (const auto& e : entries) {
      if (!first) out.push_back(',');
      first = false;
      out += e.body;
    }
    if (entries.size() < 10000) break;
    before = storage::TimelineCursor{entries.back().timestamp, entries.back().seq};
  }
  out += "]}";
  return out;
}

}  // namespace tp::profiles
