// Message template files: templates/NAME.email.liquid, NAME.sms.liquid, NAME.webhook.liquid.
//
// A file is optional YAML front matter between "---" lines (subject, preheader, from, ...,
// variant_by and per-variant overrides) and then {% part %} sections of Liquid:
//
//   ---
//   subject: "Your guide, {{ user.traits.first_name | default: 'there' }}"
//   variant_by: user.traits.segment
//   variants:
//     student: {subject: "Your student guide"}
//   ---
//   {% part html %}<p>Hello …</p>{% endpart %}
//   {% part html variant: student %}<p>Hi …</p>{% endpart %}
//   {% part text %}Hello …{% endpart %}
//
// The full format is in docs/templates.md. Everything is compiled when the directory is loaded;
// every problem is reported as file:line:col.
//
// Threads: a TemplateSet is immutable after loading; render() may run on any number of threads.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "templates/liquid.h"

namespace tp::templates {

enum class Channel { kEmail, kSms, kWebhook };
std::string_view channel_name(Channel c);  // "email", "sms", "webhook"
std::optional<Channel> parse_channel(std::string_view name);

struct Problem {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string message;
  std::string to_string() const;  // "file:line:col: message"
  bool operator<(const Problem& o) const;
};

// What render() produced. Fields that do not apply to the channel stay empty.
struct RenderedMessage {
  std::string name;
  Channel channel = Channel::kEmail;
  std::string variant;  // the variant used; empty for the default

  std::string subject;    // email
  std::string preheader;  // email
  std::string from;       // email, sms (when the file sets it)
  std::string reply_to;   // email
  std::string html;       // email
  std::string text;       // email (when the file has a text part), sms

  std::string method;                                        // webhook: GET, POST, PUT, PATCH or DELETE
  std::string url;                                           // webhook (when the file sets it)
  std::vector<std::pair<std::string, std::string>> headers;  // webhook, sorted by name
  std::string body;                                          // webhook: valid JSON text

  nlohmann::json to_json() const;
};

// One compiled template file.
struct TemplateFile;

class TemplateSet {
 public:
  TemplateSet();
  ~TemplateSet();
  TemplateSet(TemplateSet&&) noexcept;
  TemplateSet& operator=(TemplateSet&&) noexcept;

  // Renders template `name` of `channel` with `context` (user.traits.*, event.*, journey.*, …).
  // `options` gives the time zone, clock and limits; the escaping of each part is fixed (HTML for
  // the html part, JSON for a webhook body, text for the rest). Errors: kNotFound when there is no
  // such template; kInvalidArgument / kTooLarge from rendering (file:line:col), or when a webhook
  // body is not valid JSON (with the line and column in the rendered body).
  Result<RenderedMessage> render(std::string_view name, Channel channel, const nlohmann::json& context,
                                 const RenderOptions& options = {}) const;

  bool contains(std::string_view name, Channel channel) const;
  // (name, channel) of every template, sorted.
  std::vector<std::pair<std::string, Channel>> keys() const;
  // The variants a template declares (sorted), or nullopt when there is no such template.
  std::optional<std::vector<std::string>> variants(std::string_view name, Channel channel) const;
  size_t size() const;

  // Compiles one file's text; problems are appended, and the file is added only when it has none.
  // `file` is the path used in messages; its name must be NAME.CHANNEL.liquid.
  bool add(const std::string& file, std::string_view text, std::vector<Problem>& problems);

 private:
  std::map<std::pair<std::string, Channel>, std::unique_ptr<const TemplateFile>> files_;
};

// Loads every *.liquid file of `dir` (not recursive; other files are ignored). Problems of the
// files go to `problems` and leave those files out; the Result fails only when the directory
// cannot be read.
Result<TemplateSet> load_template_dir(const std::string& dir, std::vector<Problem>& problems);
// The same, failing with kInvalidArgument listing every problem (one per line) if there is any.
Result<TemplateSet> load_template_dir(const std::string& dir);

}  // namespace tp::templates
