#include "base/thread.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

namespace tp {
namespace {

TEST(ThreadTest, NamesAndLowersOnlyTheCallingThread) {
  errno = 0;
  const int before = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  std::string name;
  int lowered = 0;
  std::thread t([&] {
    name_this_thread("tp-a-rather-long-name");
    lower_this_thread_priority();
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    name = buf;
    lowered = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  });
  t.join();
  EXPECT_EQ(name, "tp-a-rather-lon");  // the kernel keeps 15 characters
  EXPECT_EQ(lowered, before + 10);
  EXPECT_EQ(::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())), before);  // this thread is untouched
}

}  // namespace
}  // namespace tp
