#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"

namespace tp::cli {

std::string default_data_dir() {
  const char* env = std::getenv("TOUCHPOINT_DATA");
  return env != nullptr && *env != '\0' ? env : "./touchpoint-data";
}

int fail(const std::string& message) {
  std::cerr << "touchpoint: " << message << "\n";
  return 1;
}

bool prepare_data_dir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    fail("data directory " + dir + " is not a directory");
    return false;
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fail("cannot create data directory " + dir + ": " + ec.message());
    return false;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    fail("data directory " + dir + " is not writable");
    return false;
  }
  return true;
}

}  // namespace tp::cli
