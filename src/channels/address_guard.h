// The SSRF guard for outgoing requests to URLs that customers configure (webhooks).
//
// Before connecting, the host is resolved here and every address it resolves to is checked;
// if any is not a public unicast address the request is refused, unless the configuration's
// allow-list (CIDR networks) covers it. The caller then pins the connection to the checked
// addresses (libcurl CURLOPT_RESOLVE), so a second DNS answer (DNS rebinding) is never used.
//
// Refused (IPv4): 0.0.0.0/8 "unspecified", 10/8, 172.16/12, 192.168/16 "private (RFC 1918)",
// 100.64/10 "shared (CGNAT)", 127/8 "loopback", 169.254.169.254 "cloud metadata",
// 169.254/16 "link-local", 192.0.0/24 "IETF protocol", 192.0.2/24, 198.51.100/24,
// 203.0.113/24 "documentation", 198.18/15 "benchmarking", 224/4 "multicast", 240/4 "reserved",
// 255.255.255.255 "broadcast". (IPv6): :: "unspecified", ::1 "loopback", fd00:ec2::254 "cloud
// metadata", fc00::/7 "unique local", fe80::/10 "link-local", ff00::/8 "multicast",
// 2001:db8::/32 "documentation", 100::/64 "discard"; IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
// and NAT64 (64:ff9b::/96) addresses are judged by the IPv4 address inside.
//
// Thread-safe (immutable after create). Errors: kInvalidArgument for a refused or unknown host
// or a bad allow-list entry; kUnavailable when DNS fails temporarily.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tp::channels {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes

  static std::optional<IpAddress> parse(std::string_view text);  // "10.0.0.1", "::1", "[::1]"
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

struct IpNetwork {
  IpAddress base;
  int prefix = 0;
  static std::optional<IpNetwork> parse(std::string_view text);  // "10.0.0.0/8", "::1", "fc00::/7"
  bool contains(const IpAddress& a) const;
};

// Why `a` is not a public unicast address ("loopback", "private (RFC 1918)", ...), or nullopt.
std::optional<std::string> non_public_reason(const IpAddress& a);

class AddressGuard {
 public:
  // `allow`: CIDR networks (or single addresses) that may be reached although not public.
  static Result<AddressGuard> create(const std::vector<std::string>& allow);

  // Whether `a` may be connected to; the refusal names the address and the reason.
  Status check(const IpAddress& a) const;
  // Resolves `host` (a name or an IP literal) and checks every address. The addresses, in
  // the resolver's order, when all pass.
  Result<std::vector<IpAddress>> resolve(const std::string& host) const;

 private:
  std::vector<IpNetwork> allow_;
};

}  // namespace tp::channels
