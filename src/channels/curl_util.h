// libcurl plumbing shared by the adapters (internal to channels).
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace tp::channels::internal {

// curl_global_init, once per process, before the first handle.
void ensure_curl_initialized();

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Appends to a list held in a CurlSlist; false when curl is out of memory.
bool slist_append(CurlSlist& list, const std::string& item);

// What failed, in words: curl's error buffer when it has one, else curl_easy_strerror.
std::string curl_error_text(CURLcode code, const char* error_buffer);

}  // namespace tp::channels::internal
