#include "templates/liquid.h"

#include "templates/program.h"
#include "templates/render.h"

namespace tp::templates {

Result<Template> Template::compile(std::string_view text, std::string_view file, SourceOrigin origin) {
  TP_ASSIGN(auto program, parse_program(text, file, origin));
  return Template(std::move(program));
}

Status Template::render_to(std::string& out, const nlohmann::json& context, const RenderOptions& options) const {
  Renderer renderer(*program_, context, options, out);
  return renderer.run();
}

Result<std::string> Template::render(const nlohmann::json& context, const RenderOptions& options) const {
  std::string out;
  TP_TRY(render_to(out, context, options));
  return out;
}

const std::string& Template::file() const { return program_->file; }

}  // namespace tp::templates
