// Reading a whole file, with an error that names the path.
#pragma once

#include <string>

#include "base/status.h"

namespace tp {

Result<std::string> read_file(const std::string& path);

}  // namespace tp
