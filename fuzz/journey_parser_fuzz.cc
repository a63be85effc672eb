// Fuzzes the journey file loader: any bytes give a journey or problems with positions, never a
// crash; a journey that loads has steps and a resolvable first step.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "journeys/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<tp::journeys::Problem> problems;
  auto journey = tp::journeys::load_journey("fuzz.yaml", text, problems);
  if (journey.has_value() != problems.empty()) std::abort();  // a journey xor problems
  for (const auto& p : problems)
    if (p.line < 1 || p.column < 1 || p.message.empty()) std::abort();
  if (journey && (journey->steps.empty() || journey->step_index.size() != journey->steps.size())) std::abort();
  std::vector<tp::journeys::Problem> policy_problems;
  (void)tp::journeys::load_policies("fuzz.yaml", text, policy_problems);
  return 0;
}
