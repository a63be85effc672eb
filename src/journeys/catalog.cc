#include "journeys/catalog.h"

#include <fmt/format.h>
#include <xlsxwriter.h>

#include <algorithm>

namespace tp::journeys {
namespace {

std::string describe(const Trigger& t) {
  if (!t.description.empty()) return t.description;
  if (!t.event.empty()) return "event: " + t.event;
  if (t.becomes_true) return "trait condition becomes true";
  if (!t.date_trait.empty()) return "date: " + t.date_trait;
  if (t.api) return "API call";
  return "";
}

std::string reentry_text(const Journey& j) {
  switch (j.reentry) {
    case Reentry::kOnce: return "once";
    case Reentry::kAfterExit: return "after exit";
    case Reentry::kAlways: return "always";
    case Reentry::kKey: return "one per " + j.reentry_key;
  }
  return "";
}

std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string md_cell(std::string v) {
  std::string out;
  for (char c : v) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += "<br>";
    else out += c;
  }
  return out;
}

std::string node_label(const Step& s) {
  switch (s.kind) {
    case StepKind::kSend: return fmt::format("{}\\nsend {} {}", s.id, channel_name(s.channel), s.template_name);
    case StepKind::kWebhook: return fmt::format("{}\\nwebhook {}", s.id, s.template_name);
    case StepKind::kTask: return fmt::format("{}\\ntask {}", s.id, s.template_name);
    case StepKind::kUpdate: return fmt::format("{}\\nupdate", s.id);
    case StepKind::kDelay: return fmt::format("{}\\ndelay", s.id);
    case StepKind::kWaitUntil: return fmt::format("{}\\nwait until", s.id);
    case StepKind::kWaitFor: return fmt::format("{}\\nwait for {}", s.id, s.wait_for.event);
    case StepKind::kBranch: return fmt::format("{}\\nbranch", s.id);
    case StepKind::kSplit: return fmt::format("{}\\nsplit", s.id);
    case StepKind::kGoal: return fmt::format("{}\\ngoal", s.id);
    case StepKind::kExit: return fmt::format("{}\\nexit", s.id);
  }
  return s.id;
}

struct Edge {
  std::string from, to, label;
};

std::vector<Edge> edges(const Journey& j) {
  std::vector<Edge> out;
  for (size_t i = 0; i < j.steps.size(); ++i) {
    const Step& s = j.steps[i];
    std::string following = !s.next.empty() ? s.next : i + 1 < j.steps.size() ? j.steps[i + 1].id : "(exit)";
    switch (s.kind) {
      case StepKind::kExit:
        out.push_back({s.id, "(exit)", ""});
        break;
      case StepKind::kWaitFor:
        out.push_back({s.id, s.on_event.empty() ? following : s.on_event, s.wait_for.event});
        out.push_back({s.id, s.on_timeout.empty() ? following : s.on_timeout, "timeout"});
        break;
      case StepKind::kBranch:
        for (size_t a = 0; a < s.arms.size(); ++a) out.push_back({s.id, s.arms[a].next, fmt::format("when {}", a + 1)});
        out.push_back({s.id, s.otherwise.empty() ? following : s.otherwise, "else"});
        break;
      case StepKind::kSplit:
        for (const auto& arm : s.split)
          out.push_back({s.id, arm.holdout ? "(exit)" : arm.next, fmt::format("{}{}", arm.weight, arm.holdout ? " holdout" : "")});
        break;
      default:
        out.push_back({s.id, following, ""});
    }
  }
  return out;
}

std::string mermaid_id(const std::string& id) {
  std::string out = "s_";
  for (char c : id) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

}  // namespace

const std::vector<std::string>& catalog_columns() {
  static const std::vector<std::string> kColumns = {
      "Priority", "ID",         "Name",      "Send type",   "Purpose", "Goal",  "Audience", "Entry criteria",
      "Re-entry", "Exit criteria", "Data source", "Follow-up", "Owner",   "Status", "Steps",   "Version"};
  return kColumns;
}

std::vector<std::vector<std::string>> catalog_rows(const std::vector<Journey>& journeys) {
  std::vector<const Journey*> sorted;
  for (const auto& j : journeys) sorted.push_back(&j);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Journey* a, const Journey* b) {
    return a->priority != b->priority ? a->priority < b->priority : a->id < b->id;
  });
  std::vector<std::vector<std::string>> rows;
  for (const Journey* j : sorted) {
    std::string goal = describe(j->goal);
    rows.push_back({std::to_string(j->priority), j->id, j->name,
                    j->send_type == SendType::kTransactional ? "transactional" : "commercial", j->purpose, goal,
                    j->audience_text, describe(j->entry), reentry_text(*j), describe(j->exit), j->data_source,
                    j->follow_up, j->owner, j->status, std::to_string(j->steps.size()), j->version});
  }
  return rows;
}

std::string render_catalog_text(const std::vector<Journey>& journeys, CatalogFormat format) {
  const auto& columns = catalog_columns();
  auto rows = catalog_rows(journeys);
  std::string out;
  if (format == CatalogFormat::kCsv) {
    auto line = [&](const std::vector<std::string>& cells) {
      for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_field(cells[i]);
      out += "\r\n";
    };
    line(columns);
    for (const auto& r : rows) line(r);
    return out;
  }
  auto line = [&](const std::vector<std::string>& cells) {
    out += "|";
    for (const auto& c : cells) out += " " + md_cell(c) + " |";
    out += "\n";
  };
  line(columns);
  out += "|";
  for (size_t i = 0; i < columns.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows) line(r);
  return out;
}

Status write_catalog_xlsx(const std::vector<Journey>& journeys, const std::string& path) {
  lxw_workbook* book = workbook_new(path.c_str());
  if (book == nullptr) return invalid_argument(fmt::format("cannot create {}", path));
  lxw_worksheet* sheet = workbook_add_worksheet(book, "Journeys");
  lxw_format* header = workbook_add_format(book);
  format_set_bold(header);
  format_set_bg_color(header, 0xDDEBF7);
  lxw_format* wrap = workbook_add_format(book);
  format_set_text_wrap(wrap);
  format_set_align(wrap, LXW_ALIGN_VERTICAL_TOP);
  const auto& columns = catalog_columns();
  for (size_t c = 0; c < columns.size(); ++c) {
    worksheet_write_string(sheet, 0, static_cast<lxw_col_t>(c), columns[c].c_str(), header);
    worksheet_set_column(sheet, static_cast<lxw_col_t>(c), static_cast<lxw_col_t>(c), c == 0 ? 9 : 24, wrap);
  }
  auto rows = catalog_rows(journeys);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      auto row = static_cast<lxw_row_t>(r + 1);
      auto col = static_cast<lxw_col_t>(c);
      if (c == 0 || c == 14) worksheet_write_number(sheet, row, col, std::stod(rows[r][c]), wrap);
      else worksheet_write_string(sheet, row, col, rows[r][c].c_str(), wrap);
    }
  }
  worksheet_freeze_panes(sheet, 1, 2);
  worksheet_autofilter(sheet, 0, 0, static_cast<lxw_row_t>(rows.size()), static_cast<lxw_col_t>(columns.size() - 1));
  lxw_error err = workbook_close(book);
  if (err != LXW_NO_ERROR) return invalid_argument(fmt::format("cannot write {}: {}", path, lxw_strerror(err)));
  return Status::ok();
}

std::string render_graph(const Journey& j, GraphFormat format) {
  std::string out;
  auto es = edges(j);
  if (format == GraphFormat::kDot) {
    out = fmt::format("digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n", j.id);
    out += fmt::format("  \"(enter)\" [shape=oval, label=\"enter\\n{}\"];\n  \"(exit)\" [shape=oval, label=\"exit\"];\n",
                       j.entry.event.empty() ? "trigger" : j.entry.event);
    for (const auto& s : j.steps) out += fmt::format("  \"{}\" [label=\"{}\"];\n", s.id, node_label(s));
    out += fmt::format("  \"(enter)\" -> \"{}\";\n", j.steps.front().id);
    for (const auto& e : es)
      out += e.label.empty() ? fmt::format("  \"{}\" -> \"{}\";\n", e.from, e.to)
                             : fmt::format("  \"{}\" -> \"{}\" [label=\"{}\"];\n", e.from, e.to, e.label);
    return out + "}\n";
  }
  out = "flowchart TD\n";
  out += fmt::format("  enter([\"enter: {}\"])\n  exit([exit])\n", j.entry.event.empty() ? "trigger" : j.entry.event);
  for (const auto& s : j.steps) {
    std::string label = node_label(s);
    for (size_t p = label.find("\\n"); p != std::string::npos; p = label.find("\\n")) label.replace(p, 2, "<br>");
    out += fmt::format("  {}[\"{}\"]\n", mermaid_id(s.id), label);
  }
  out += fmt::format("  enter --> {}\n", mermaid_id(j.steps.front().id));
  for (const auto& e : es) {
    std::string to = e.to == "(exit)" ? "exit" : mermaid_id(e.to);
    out += e.label.empty() ? fmt::format("  {} --> {}\n", mermaid_id(e.from), to)
                           : fmt::format("  {} -->|{}| {}\n", mermaid_id(e.from), e.label, to);
  }
  return out;
}

}  // namespace tp::journeys
