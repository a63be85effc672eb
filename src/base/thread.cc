#include "base/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

namespace tp {
namespace {

constexpr int kBackgroundNice = 10;

}  // namespace

void name_this_thread(std::string_view name) {
  std::string n(name.substr(0, 15));
  (void)pthread_setname_np(pthread_self(), n.c_str());
}

void lower_this_thread_priority() {
  // On Linux, PRIO_PROCESS with a thread id applies to that thread alone.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kBackgroundNice);
}

}  // namespace tp
