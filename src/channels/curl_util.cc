#include "channels/curl_util.h"

#include <mutex>
#include <stdexcept>

namespace tp::channels::internal {

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  });
}

bool slist_append(CurlSlist& list, const std::string& item) {
  curl_slist* next = curl_slist_append(list.get(), item.c_str());
  if (next == nullptr) return false;
  list.release();
  list.reset(next);
  return true;
}

std::string curl_error_text(CURLcode code, const char* error_buffer) {
  if (error_buffer != nullptr && error_buffer[0] != '\0') return error_buffer;
  return curl_easy_strerror(code);
}

}  // namespace tp::channels::internal
