// Test support: keys and certificates made on the spot with OpenSSL.
#pragma once

#include <string>

#include "base/status.h"

namespace tp::channels::testing {

// A new RSA private key, PEM (PKCS#8).
std::string generate_rsa_key_pem(int bits);

// A self-signed certificate for 127.0.0.1, ::1 and localhost (valid for a day) and its key,
// written as PEM files.
Status write_self_signed_certificate(const std::string& cert_path, const std::string& key_path);

}  // namespace tp::channels::testing
