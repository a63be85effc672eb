#include "journeys/engine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/time_format.h"
#include "journeys/loader.h"

namespace tp::journeys {
namespace {

// The seed workspace (conversion-from-web, onboarding, win-back), run on a virtual clock.
class StepCount : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Problem> problems;
    auto ws = load_workspace("examples/journeys", problems);
    ASSERT_TRUE(ws.is_ok()) << ws.status().message();
    ASSERT_TRUE(problems.empty());
    engine_ = std::make_unique<Engine>(std::move(*ws), [this](const Effect& e) {
      effects_.push_back(std::string(e.step) + ":" + std::string(e.action));
      times_.push_back(format_iso8601(e.time));
    });
  }

  // `hand_over`: the message is moved into the engine (as simulate does), else read as const.
  void feed(const std::string& text, bool hand_over = true) {
    Json m = Json::parse(text);
    Timestamp t = *parse_iso8601(m["timestamp"].get<std::string>());
    if (hand_over)
      engine_->on_message(std::move(m), t);
    else
      engine_->on_message(m, t);
  }
  void run_out() {
    while (auto t = engine_->next_timer(/*include_dates=*/false)) engine_->advance_to(*t);
  }
  // A person with an email address and a form submitted at `time`.
  void submit(const std::string& user, const std::string& time, bool hand_over = true) {
    feed(R"({"type":"identify","userId":")" + user + R"(","timestamp":")" + time +
             R"(","traits":{"email":"a@example.se"}})",
         hand_over);
    feed(R"({"type":"track","userId":")" + user +
             R"(","event":"Form Submitted","properties":{"form":"w"},"timestamp":")" + time + R"("})",
         hand_over);
  }

  std::unique_ptr<Engine> engine_;
  std::vector<std::string> effects_, times_;
};

TEST_F(StepCount, NoOpenRunsFiveSteps) {
  submit("bo", "2026-03-02T10:00:00Z");
  run_out();
  // confirmation, wait-for-open, reminder, wait-for-open-after-reminder, not-opened.
  EXPECT_EQ(engine_->steps_executed(), 5u);
  EXPECT_EQ(effects_,
            (std::vector<std::string>{"confirmation:enter", "confirmation:send", "reminder:send", "not-opened:exit"}));
}

TEST_F(StepCount, AWaitResumedByItsTimerOrQuietHoursCountsOnce) {
  // The reminder's timeout ends at 22:30 Stockholm time: the send waits out quiet hours (a
  // second timer on the same step), then the open answers and the 48 h delay runs.
  submit("bo", "2026-03-02T21:30:00Z");
  feed(
      R"({"type":"track","userId":"bo","event":"Email Opened","properties":{"journey":"conversion-from-web","step":"reminder"},"timestamp":"2026-03-05T09:00:00Z"})");
  run_out();
  // confirmation, wait-for-open, reminder, wait-for-open-after-reminder, after-open, call-task.
  EXPECT_EQ(engine_->steps_executed(), 6u);
  EXPECT_EQ(effects_, (std::vector<std::string>{"confirmation:enter", "confirmation:send", "reminder:send",
                                                "call-task:task", "call-task:exit"}));
  EXPECT_EQ(times_[2], "2026-03-05T07:00:00.000Z");  // 08:00 in Stockholm
}

TEST_F(StepCount, GoalAndEntryAreNotSteps) {
  submit("bo", "2026-03-02T10:00:00Z", /*hand_over=*/false);
  feed(R"({"type":"track","userId":"bo","event":"Meeting Booked","timestamp":"2026-03-02T11:00:00Z"})");
  run_out();
  // confirmation, wait-for-open; the goal ends the instance during the wait.
  EXPECT_EQ(engine_->steps_executed(), 2u);
  EXPECT_EQ(effects_, (std::vector<std::string>{"confirmation:enter", "confirmation:send", "wait-for-open:goal",
                                                "wait-for-open:exit"}));
  // Events that start nothing execute no step.
  feed(R"({"type":"track","userId":"al","event":"Page Viewed","timestamp":"2026-03-02T12:00:00Z"})");
  EXPECT_EQ(engine_->steps_executed(), 2u);
}

}  // namespace
}  // namespace tp::journeys
