#include "storage/store.h"

namespace tp::storage {

Status ReaderPool::with_reader(const std::function<Status(Reader&)>& use) {
  std::unique_ptr<Reader> reader;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      reader = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!reader) {
    TP_ASSIGN(reader, store_.open_reader());
  }
  Status s = use(*reader);
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(reader));
  return s;
}

}  // namespace tp::storage
