#include "channels/testing/smtp_sink_process.h"

#include <algorithm>

#include "base/file.h"

namespace tp::channels::testing {

Result<std::unique_ptr<SmtpSinkProcess>> SmtpSinkProcess::start(const std::filesystem::path& dir,
                                                                const SmtpSinkOptions& options) {
  std::vector<std::string> argv = {kSystemPython, std::string(TP_CHANNELS_TESTING_DIR) + "/smtp_sink.py",
                                   "--dir",       dir.string(),
                                   "--host",      options.host};
  if (!options.tls_cert.empty()) {
    argv.insert(argv.end(), {"--tls-cert", options.tls_cert, "--tls-key", options.tls_key});
  }
  if (options.require_starttls) argv.push_back("--require-starttls");
  if (!options.auth.empty()) argv.insert(argv.end(), {"--auth", options.auth});
  TP_ASSIGN(ChildProcess child, ChildProcess::start(argv));
  TP_ASSIGN(std::string line, child.read_line(Millis(30'000)));
  if (line.rfind("READY ", 0) != 0) return internal_error("smtp_sink.py did not start: " + line);
  int port = std::stoi(line.substr(6));
  return std::unique_ptr<SmtpSinkProcess>(new SmtpSinkProcess(std::move(child), dir, port));
}

std::vector<ReceivedMessage> SmtpSinkProcess::messages() const {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    if (e.path().extension() == ".eml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<ReceivedMessage> out;
  for (const auto& f : files) {
    ReceivedMessage m;
    m.file = f;
    auto data = read_file(f.string());
    if (data.is_ok()) m.data = std::move(data.value());
    auto meta = read_file(std::filesystem::path(f).replace_extension(".json").string());
    if (meta.is_ok()) m.envelope = nlohmann::json::parse(meta.value(), nullptr, false);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace tp::channels::testing
