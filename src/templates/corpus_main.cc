// template_corpus CORPUS_DIR: renders every case of the differential corpus and prints
// {"file/case": output | {"error": message}} as JSON, for testdata/liquidjs/liquidjs.mjs compare.
#include <cstdio>
#include <iostream>

#include "templates/corpus.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: template_corpus CORPUS_DIR\n");
    return 2;
  }
  auto cases = tp::templates::corpus::load(argv[1]);
  if (!cases.is_ok()) {
    std::fprintf(stderr, "template_corpus: %s\n", cases.status().message().c_str());
    return 1;
  }
  std::cout << tp::templates::corpus::run_all(*cases).dump(1, ' ', false, nlohmann::json::error_handler_t::replace)
            << "\n";
  return 0;
}
