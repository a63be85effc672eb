#include "channels/address_guard.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace tp::channels {
namespace {

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.bytes = {a, b, c, d};
  return ip;
}

IpNetwork net4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, int prefix) { return {v4(a, b, c, d), prefix}; }

IpNetwork net6(const char* text, int prefix) { return {*IpAddress::parse(text), prefix}; }

struct Range {
  IpNetwork network;
  const char* reason;
};

// Most specific first: the first match names the reason.
const std::vector<Range>& v4_ranges() {
  static const std::vector<Range> ranges = {
      {net4(169, 254, 169, 254, 32), "cloud metadata"},
      {net4(0, 0, 0, 0, 8), "unspecified"},
      {net4(10, 0, 0, 0, 8), "private (RFC 1918)"},
      {net4(100, 64, 0, 0, 10), "shared address space (CGNAT)"},
      {net4(127, 0, 0, 0, 8), "loopback"},
      {net4(169, 254, 0, 0, 16), "link-local"},
      {net4(172, 16, 0, 0, 12), "private (RFC 1918)"},
      {net4(192, 0, 0, 0, 24), "IETF protocol assignment"},
      {net4(192, 0, 2, 0, 24), "documentation"},
      {net4(192, 168, 0, 0, 16), "private (RFC 1918)"},
      {net4(198, 18, 0, 0, 15), "benchmarking"},
      {net4(198, 51, 100, 0, 24), "documentation"},
      {net4(203, 0, 113, 0, 24), "documentation"},
      {net4(224, 0, 0, 0, 4), "multicast"},
      {net4(255, 255, 255, 255, 32), "broadcast"},
      {net4(240, 0, 0, 0, 4), "reserved"},
  };
  return ranges;
}

const std::vector<Range>& v6_ranges() {
  static const std::vector<Range> ranges = {
      {net6("fd00:ec2::254", 128), "cloud metadata"},
      {net6("::", 128), "unspecified"},
      {net6("::1", 128), "loopback"},
      {net6("100::", 64), "discard"},
      {net6("2001:db8::", 32), "documentation"},
      {net6("fc00::", 7), "unique local"},
      {net6("fe80::", 10), "link-local"},
      {net6("fec0::", 10), "site-local"},
      {net6("ff00::", 8), "multicast"},
  };
  return ranges;
}

// The IPv4 address inside an IPv4-mapped, IPv4-compatible or NAT64 IPv6 address.
std::optional<IpAddress> embedded_v4(const IpAddress& a) {
  static const IpNetwork kMapped = net6("::ffff:0:0", 96), kNat64 = net6("64:ff9b::", 96), kCompatible = net6("::", 96);
  if (!a.v6) return std::nullopt;
  bool compatible = kCompatible.contains(a) && !(a == *IpAddress::parse("::")) && !(a == *IpAddress::parse("::1"));
  if (kMapped.contains(a) || kNat64.contains(a) || compatible)
    return v4(a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]);
  return std::nullopt;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  ip.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) return ip;
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  size_t slash = text.find('/');
  auto base = IpAddress::parse(text.substr(0, slash));
  if (!base) return std::nullopt;
  int max = base->v6 ? 128 : 32;
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size() || prefix < 0 || prefix > max) return std::nullopt;
  }
  return IpNetwork{*base, prefix};
}

bool IpNetwork::contains(const IpAddress& a) const {
  if (a.v6 != base.v6) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[static_cast<size_t>(full)] & mask) == (base.bytes[static_cast<size_t>(full)] & mask);
}

std::optional<std::string> non_public_reason(const IpAddress& a) {
  if (auto inner = embedded_v4(a)) {
    if (auto reason = non_public_reason(*inner)) return *reason + " (inside an IPv6 address)";
    return std::nullopt;
  }
  for (const auto& r : a.v6 ? v6_ranges() : v4_ranges())
    if (r.network.contains(a)) return std::string(r.reason);
  return std::nullopt;
}

Result<AddressGuard> AddressGuard::create(const std::vector<std::string>& allow) {
  AddressGuard guard;
  for (size_t i = 0; i < allow.size(); ++i) {
    auto network = IpNetwork::parse(allow[i]);
    if (!network)
      return invalid_argument(
          fmt::format("allow[{}]: '{}' is not an IP network (like 10.0.0.0/8 or ::1)", i, allow[i]));
    guard.allow_.push_back(*network);
  }
  return guard;
}

Status AddressGuard::check(const IpAddress& a) const {
  auto reason = non_public_reason(a);
  if (!reason) return Status::ok();
  for (const auto& n : allow_) {
    if (n.contains(a)) return Status::ok();
    if (auto inner = embedded_v4(a); inner && n.contains(*inner)) return Status::ok();
  }
  return invalid_argument(fmt::format("{} is a {} address, refused (not in the allow-list)", a.to_string(), *reason));
}

Result<std::vector<IpAddress>> AddressGuard::resolve(const std::string& host) const {
  std::vector<IpAddress> out;
  if (auto literal = IpAddress::parse(host)) {
    out.push_back(*literal);
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
    if (rc == EAI_AGAIN) return unavailable(fmt::format("{}: DNS lookup failed for now ({})", host, gai_strerror(rc)));
    if (rc != 0) return invalid_argument(fmt::format("{}: host not found ({})", host, gai_strerror(rc)));
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
      IpAddress ip;
      if (ai->ai_family == AF_INET) {
        std::memcpy(ip.bytes.data(), &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
      } else if (ai->ai_family == AF_INET6) {
        ip.v6 = true;
        std::memcpy(ip.bytes.data(), &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      if (std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
    }
    freeaddrinfo(list);
    if (out.empty()) return invalid_argument(fmt::format("{}: no IPv4 or IPv6 address", host));
  }
  for (const auto& ip : out) {
    Status s = check(ip);
    if (!s.is_ok()) return invalid_argument(fmt::format("{}: {}", host, s.message()));
  }
  return out;
}

}  // namespace tp::channels
