#include "templates/template_set.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/file.h"
#include "base/time_format.h"

namespace tp::templates {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) { return read_file(p.string()).value(); }

// Each testdata/files/invalid/NAME.CHANNEL.liquid has NAME.CHANNEL.expected: its problems as
// "line:col: message", sorted.
TEST(TemplateFiles, InvalidFilesReportEveryProblemWithPosition) {
  int files = 0;
  for (const auto& e : fs::directory_iterator("src/templates/testdata/files/invalid")) {
    if (e.path().extension() != ".liquid") continue;
    ++files;
    TemplateSet set;
    std::vector<Problem> problems;
    std::string name = e.path().filename().string();
    EXPECT_FALSE(set.add(name, read(e.path()), problems)) << name;
    std::sort(problems.begin(), problems.end());
    std::string got;
    for (const auto& p : problems) got += p.to_string().substr(name.size() + 1) + "\n";
    fs::path expected = e.path();
    expected.replace_extension(".expected");
    if (std::getenv("TP_UPDATE_EXPECTED")) {  // after reading the new messages: rewrite the files
      std::ofstream(expected) << got;
      continue;
    }
    EXPECT_EQ(got, read(expected)) << e.path();
    EXPECT_EQ(set.size(), 0u);
  }
  EXPECT_GE(files, 12);
}

nlohmann::json person(const std::string& segment) {
  return {{"user",
           {{"userId", "u 1/2"},
            {"traits", {{"first_name", "Ada"}, {"segment", segment}, {"tags", {"a", "b\"c"}}, {"score", 2.5}}}}},
          {"event", {{"properties", {{"form", "whitepaper"}, {"at", "2026-06-01T16:30:00Z"}}}}},
          {"journey", {{"id", "conversion-from-web"}}}};
}

TEST(TemplateFiles, EmailPartsFieldsAndVariants) {
  std::vector<Problem> problems;
  auto set = load_template_dir("src/templates/testdata/files/valid", problems);
  ASSERT_TRUE(set.is_ok());
  for (const auto& p : problems) ADD_FAILURE() << p.to_string();
  ASSERT_EQ(set->size(), 3u);
  EXPECT_TRUE(set->contains("offer", Channel::kEmail));
  EXPECT_FALSE(set->contains("offer", Channel::kSms));
  EXPECT_EQ(*set->variants("offer", Channel::kEmail), (std::vector<std::string>{"student", "urban-couple"}));

  struct Case {
    std::string segment, variant, subject, html;
  } cases[] = {
      {"student", "student", "Hey ADA", "<p>Student Ada</p>"},
      {"urban-couple", "urban-couple", "Hello Ada", "<p>Couple</p>"},
      {"retired", "", "Hello Ada", "<p>Default for Ada & co</p>"},
      {"", "", "Hello Ada", "<p>Default for Ada & co</p>"},
  };
  for (const auto& c : cases) {
    auto m = set->render("offer", Channel::kEmail, person(c.segment));
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    EXPECT_EQ(m->variant, c.variant) << c.segment;
    EXPECT_EQ(m->subject, c.subject) << c.segment;
    EXPECT_EQ(m->html, c.html) << c.segment;
    EXPECT_EQ(m->preheader, "Default preheader");
    EXPECT_EQ(m->from, "Shop <shop@example.com>");
    EXPECT_EQ(m->reply_to, "help@example.com");
    EXPECT_EQ(m->text, "Plain Ada") << "the text part is shared by every variant";
  }
  auto m = set->render("offer", Channel::kEmail, nlohmann::json::object());
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->subject, "Hello ");
}

TEST(TemplateFiles, SmsAndWebhook) {
  auto set = load_template_dir("src/templates/testdata/files/valid");
  ASSERT_TRUE(set.is_ok()) << set.status().message();
  auto sms = set->render("reminder", Channel::kSms, person("x"));
  ASSERT_TRUE(sms.is_ok()) << sms.status().message();
  EXPECT_EQ(sms->text, "Hi Ada, see you Mon 18:30.");

  auto hook = set->render("crm-lead", Channel::kWebhook, person("x"));
  ASSERT_TRUE(hook.is_ok()) << hook.status().message();
  EXPECT_EQ(hook->method, "PUT");
  EXPECT_EQ(hook->url, "https://crm.example.com/leads/u+1%2F2");
  ASSERT_EQ(hook->headers.size(), 2u);
  EXPECT_EQ(hook->headers[0], std::make_pair(std::string("Authorization"), std::string("Bearer conversion-from-web")));
  EXPECT_EQ(hook->headers[1], std::make_pair(std::string("X-Source"), std::string("touchpoint")));
  auto body = nlohmann::json::parse(hook->body);
  EXPECT_EQ(body["tags"][1], "b\"c");
  EXPECT_EQ(body["score"], 2.5);
  EXPECT_EQ(hook->to_json()["headers"]["X-Source"], "touchpoint");

  // A value that breaks the JSON is reported with its place in the rendered body.
  nlohmann::json bad = person("x");
  bad["user"]["traits"]["score"] = "high";
  auto broken = set->render("crm-lead", Channel::kWebhook, bad);
  ASSERT_FALSE(broken.is_ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(broken.status().message().find(
                "crm-lead.webhook.liquid: the rendered body is not valid JSON at line 5, column 12: "),
            std::string::npos)
      << broken.status().message();
}

TEST(TemplateFiles, RenderErrors) {
  auto set = load_template_dir("src/templates/testdata/files/valid");
  ASSERT_TRUE(set.is_ok());
  auto missing = set->render("nope", Channel::kEmail, {});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no email template \"nope\" (nope.email.liquid)");

  nlohmann::json injected = person("x");
  injected["user"]["traits"]["first_name"] = "Ada\r\nBcc: all@example.com";
  auto m = set->render("offer", Channel::kEmail, injected);
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("offer.email.liquid: the rendered subject contains a line break"),
            std::string::npos);

  auto tight = set->render("offer", Channel::kEmail, person("x"), {.max_output_bytes = 10});
  EXPECT_EQ(tight.status().code(), StatusCode::kTooLarge);

  auto nodir = load_template_dir("src/templates/testdata/no-such-dir");
  EXPECT_FALSE(nodir.is_ok());
  auto invalid = load_template_dir("src/templates/testdata/files/invalid");
  ASSERT_FALSE(invalid.is_ok());
  EXPECT_NE(invalid.status().message().find("bad-parts.email.liquid:4:1: text outside {% part %}"), std::string::npos)
      << invalid.status().message();
}

// The seed journeys' send steps all have their template, and every example renders.
TEST(TemplateFiles, SeedJourneyTemplates) {
  std::vector<Problem> problems;
  auto set = load_template_dir("examples/journeys/templates", problems);
  ASSERT_TRUE(set.is_ok());
  for (const auto& p : problems) ADD_FAILURE() << p.to_string();
  int sends = 0;
  for (const auto& e : fs::directory_iterator("examples/journeys")) {
    if (e.path().extension() != ".yaml" || e.path().filename() == "policies.yaml") continue;
    YAML::Node journey = YAML::LoadFile(e.path().string());
    for (const auto& step : journey["steps"]) {
      if (!step["send"]) continue;
      ++sends;
      std::string name = step["send"]["template"].as<std::string>();
      auto channel = parse_channel(step["send"]["channel"].as<std::string>());
      ASSERT_TRUE(channel.has_value());
      EXPECT_TRUE(set->contains(name, *channel)) << e.path() << ": " << name;
    }
  }
  EXPECT_EQ(sends, 8);
  EXPECT_EQ(set->size(), 8u);

  ManualClock clock(*parse_iso8601("2026-03-10T08:00:00Z"));
  RenderOptions options{.timezone = "Europe/Stockholm", .clock = &clock};
  for (const auto& segment : {"student", "urban-couple", "gold", "none"}) {
    nlohmann::json ctx = {
        {"user",
         {{"userId", "u-1"},
          {"traits",
           {{"first_name", "Maja"},
            {"segment", segment},
            {"tier", "Gold"},
            {"plan", "team"},
            {"timezone", "Europe/Stockholm"}}}}},
        {"event",
         {{"event", "Form Submitted"},
          {"timestamp", "2026-03-08T14:00:00Z"},
          {"properties", {{"title", "The Guide"}, {"download_url", "https://acme.example/d?id=1&t=2"}}}}},
        {"journey", {{"id", "onboarding"}}}};
    for (const auto& [name, channel] : set->keys()) {
      auto m = set->render(name, channel, ctx, options);
      ASSERT_TRUE(m.is_ok()) << name << ": " << m.status().message();
      if (channel == Channel::kEmail) {
        EXPECT_FALSE(m->subject.empty()) << name;
        EXPECT_NE(m->html.find("Maja"), std::string::npos) << name;
        EXPECT_EQ(m->html.find("{{"), std::string::npos) << name;
      }
    }
  }
  nlohmann::json student = {{"user", {{"traits", {{"first_name", "Maja"}, {"segment", "student"}}}}}};
  auto welcome = set->render("welcome", Channel::kEmail, student, options);
  ASSERT_TRUE(welcome.is_ok());
  EXPECT_EQ(welcome->subject, "Welcome to Acme Campus, Maja!");
  EXPECT_EQ(welcome->variant, "student");
  auto confirmation =
      set->render("whitepaper-confirmation", Channel::kEmail,
                  {{"event", {{"properties", {{"download_url", "https://acme.example/d?id=1&t=2"}}}}}}, options);
  ASSERT_TRUE(confirmation.is_ok());
  EXPECT_NE(confirmation->html.find("href=\"https://acme.example/d?id=1&amp;t=2\""), std::string::npos);
  EXPECT_NE(confirmation->text.find("https://acme.example/d?id=1&t=2"), std::string::npos);
  auto sms = set->render("check-in", Channel::kSms, student, options);
  ASSERT_TRUE(sms.is_ok());
  EXPECT_EQ(sms->from, "Acme");
  EXPECT_EQ(sms->text,
            "Hi Maja, it's Acme. How is your first week going? Reply 1-5 (5 = great). Reply STOP to opt out.");
  auto offer = set->render("win-back-offer", Channel::kEmail, {{"user", {{"traits", {{"currency", "EUR"}}}}}}, options);
  ASSERT_TRUE(offer.is_ok());
  EXPECT_NE(offer->html.find("<strong>14.50 EUR</strong> a month instead of 29.00 EUR"), std::string::npos)
      << offer->html;
  EXPECT_NE(offer->html.find("The offer ends on March 24."), std::string::npos) << offer->html;
}

}  // namespace
}  // namespace tp::templates
