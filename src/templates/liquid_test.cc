#include "templates/liquid.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/file.h"
#include "base/time_format.h"

namespace tp::templates {
namespace {

std::string render(const std::string& text, const nlohmann::json& context = nlohmann::json::object(),
                   const RenderOptions& options = {}) {
  auto t = Template::compile(text, "t.liquid");
  if (!t.is_ok()) return "COMPILE ERROR: " + t.status().message();
  auto r = t->render(context, options);
  if (!r.is_ok()) return "RENDER ERROR: " + r.status().message();
  return *r;
}

TEST(Liquid, RendersTheContext) {
  nlohmann::json ctx = {{"user", {{"traits", {{"first_name", "Ada"}, {"tags", {"a", "b"}}}}}}};
  EXPECT_EQ(render("Hi {{ user.traits.first_name }}!", ctx), "Hi Ada!");
  EXPECT_EQ(render("{{ user.traits.tags[1] }}{{ user.traits['first_name'] }}", ctx), "bAda");
  EXPECT_EQ(render("{% for t in user.traits.tags %}{{ forloop.index }}{{ t }}{% endfor %}", ctx), "1a2b");
}

TEST(Liquid, UnknownVariablesRenderEmpty) {
  EXPECT_EQ(render("[{{ nobody }}][{{ nobody.deep[0].path }}][{{ nobody | upcase }}]"), "[][][]");
  EXPECT_EQ(render("{% if nobody %}x{% else %}y{% endif %}"), "y");
  EXPECT_EQ(render("{{ x }}", nlohmann::json::array()), "");  // a context that is not an object
}

TEST(Liquid, CompiledOnceRenderedManyTimes) {
  auto t = Template::compile("{{ n | times: 2 }},", "t.liquid");
  ASSERT_TRUE(t.is_ok());
  std::string out;
  for (int n = 0; n < 3; ++n) ASSERT_TRUE(t->render_to(out, {{"n", n}}).is_ok());
  EXPECT_EQ(out, "0,2,4,");
  Template copy = *t;  // copies share the compiled program
  EXPECT_EQ(*copy.render({{"n", 5}}), "10,");
  EXPECT_EQ(copy.file(), "t.liquid");
}

TEST(Liquid, ConcurrentRendersOfOneTemplate) {
  auto t = Template::compile("{% for i in (1..50) %}{{ name | append: i | upcase }}{% endfor %}", "t.liquid");
  ASSERT_TRUE(t.is_ok());
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      nlohmann::json ctx = {{"name", "t" + std::to_string(k)}};
      std::string want;
      for (int i = 1; i <= 50; ++i) want += "T" + std::to_string(k) + std::to_string(i);
      for (int n = 0; n < 200; ++n)
        if (*t->render(ctx) != want) ++wrong;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Liquid, EscapeModes) {
  nlohmann::json ctx = {{"s", "<a href=\"x\">Tom & 'Jerry'</a>\n"}};
  RenderOptions html{.escape = Escape::kHtml};
  RenderOptions json{.escape = Escape::kJson};
  EXPECT_EQ(render("{{ s }}", ctx), "<a href=\"x\">Tom & 'Jerry'</a>\n");
  EXPECT_EQ(render("<b>{{ s }}</b>", ctx, html),
            "<b>&lt;a href=&#34;x&#34;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;\n</b>");
  EXPECT_EQ(render("{{ s | raw }}", ctx, html), "<a href=\"x\">Tom & 'Jerry'</a>\n");
  EXPECT_EQ(render("\"{{ s }}\"", ctx, json), "\"<a href=\\\"x\\\">Tom & 'Jerry'</a>\\n\"");
  EXPECT_EQ(render("{{ s | json }}", ctx, json), "\"<a href=\\\"x\\\">Tom & 'Jerry'</a>\\n\"");
}

TEST(Liquid, NowComesFromTheClock) {
  ManualClock clock(*parse_iso8601("2030-02-03T04:05:06Z"));
  RenderOptions options{.timezone = "Asia/Tokyo", .clock = &clock};
  EXPECT_EQ(render("{{ 'now' | date: '%Y-%m-%d %H:%M:%S %Z' }}", {}, options), "2030-02-03 13:05:06 Asia/Tokyo");
  // Without a clock the system clock is used.
  std::string year = render("{{ 'now' | date: '%Y' }}");
  EXPECT_EQ(year.size(), 4u);
}

// testdata/errors.json: templates that do not compile, with their exact messages.
TEST(Liquid, CompileErrorsNamePlaceAndProblem) {
  auto text = read_file("src/templates/testdata/errors.json");
  ASSERT_TRUE(text.is_ok());
  auto doc = nlohmann::json::parse(*text);
  int n = 0;
  for (const auto& c : doc["cases"]) {
    ++n;
    auto t = Template::compile(c["template"].get<std::string>(), "t.liquid");
    ASSERT_FALSE(t.is_ok()) << c["name"];
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << c["name"];
    EXPECT_EQ(t.status().message(), c["error"].get<std::string>()) << c["name"];
  }
  EXPECT_GE(n, 40);
}

TEST(Liquid, CompileErrorsOfBytesAndSize) {
  auto bad = Template::compile("ok\n  \xff{{ x }}", "t.liquid");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "t.liquid:2:3: the template is not valid UTF-8");
  auto big = Template::compile(std::string(kMaxTemplateBytes + 1, 'x'), "big.liquid");
  ASSERT_FALSE(big.is_ok());
  EXPECT_EQ(big.status().code(), StatusCode::kTooLarge);
}

TEST(Liquid, PositionsAreRelativeToTheOrigin) {
  // A template that starts at line 10, column 5 of its file (as the parts of a template file do).
  auto t = Template::compile("ab {{ x | nope }}\n{% bad %}", "mail.email.liquid", {.line = 10, .column = 5});
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().message(), "mail.email.liquid:10:15: unknown filter \"nope\"");
  auto u = Template::compile("ab\n  {% bad %}", "mail.email.liquid", {.line = 10, .column = 5});
  EXPECT_EQ(u.status().message(), "mail.email.liquid:11:3: unknown tag \"bad\"");
}

TEST(Liquid, RenderErrorsNamePlace) {
  EXPECT_EQ(render("x\n {{ '%zz' | url_decode }}"),
            "RENDER ERROR: t.liquid:2:13: url_decode: malformed %-escape in the input");
  EXPECT_EQ(render("{{ 0 | date: '%H', 'Mars/Olympus' }}"),
            "RENDER ERROR: t.liquid:1:8: date: unknown time zone \"Mars/Olympus\"");
  RenderOptions bad_zone{.timezone = "Nowhere/Null"};
  EXPECT_EQ(render("{{ 0 | date: '%H' }}", {}, bad_zone),
            "RENDER ERROR: t.liquid:1:8: date: unknown time zone \"Nowhere/Null\"");
}

TEST(Liquid, LimitsStopHostileTemplates) {
  struct Case {
    const char* name;
    std::string text;
    RenderOptions options;
    std::string error;
  } cases[] = {
      {"loop iterations",
       "{% for a in (1..1000) %}{% for b in (1..1000) %}{% endfor %}{% endfor %}",
       {},
       "t.liquid:1:25: loops ran more than the limit of 100000 iterations"},
      {"range size",
       "{{ (1..100000000) | size }}",
       {},
       "t.liquid:1:4: range (1..100000000) has more than 100000 elements"},
      {"output size",
       "{% for a in (1..1000) %}{{ 'xxxxxxxxxx' }}{% endfor %}",
       {.max_output_bytes = 5000},
       "t.liquid:1:25: the output is larger than the limit of 5000 bytes"},
      {"memory",
       "{% assign s = 'ab' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s.size }}",
       {},
       "t.liquid:1:62: rendering needs more than 16777216 bytes of memory"},
      {"work",
       "{% capture s %}{% for i in (1..2000) %}xxxxxxxxxx{% endfor %}{% endcapture %}"
       "{% for i in (1..50000) %}{% if s contains 'y' %}{% endif %}{% endfor %}",
       {},
       "t.liquid:1:103: rendering takes more than the work limit (50000000 steps)"},
      {"capture output",
       "{% capture s %}{% for i in (1..1000) %}xxxxxxxxxx{% endfor %}{% endcapture %}",
       {.max_output_bytes = 100},
       "t.liquid:1:40: the output is larger than the limit of 100 bytes"},
  };
  for (const auto& c : cases) {
    auto t = Template::compile(c.text, "t.liquid");
    ASSERT_TRUE(t.is_ok()) << c.name << ": " << t.status().message();
    auto r = t->render({}, c.options);
    ASSERT_FALSE(r.is_ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kTooLarge) << c.name;
    EXPECT_EQ(r.status().message(), c.error) << c.name;
  }
}

TEST(Liquid, LongOperatorChainsAreBounded) {
  std::string ok = "{% if a", too_long = "{% if a";
  for (int i = 0; i < 200; ++i) ok += " and a";
  for (int i = 0; i < 300; ++i) too_long += " or a";
  EXPECT_EQ(render(ok + " %}yes{% endif %}", {{"a", true}}), "yes");
  auto t = Template::compile(too_long + " %}{% endif %}", "t.liquid");
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("expression too long: more than 256 operators in a chain"), std::string::npos);
}

TEST(Liquid, HostileContextData) {
  // Nesting far deeper than any ingested event can hold (simdjson stops at 1024) must not
  // exhaust the stack when printed, compared or serialized.
  // (Built with moves: nlohmann::json's own copy constructor recurses.)
  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 20000; ++i) {
    nlohmann::json next = nlohmann::json::array();
    next.push_back(std::move(deep));
    next.push_back(1);
    deep = std::move(next);
  }
  nlohmann::json ctx = nlohmann::json::object();
  ctx["d"] = std::move(deep);
  EXPECT_EQ(render("{{ d | size }}", ctx), "2");
  EXPECT_EQ(render("{% if d == d %}same{% endif %}", ctx), "");
  auto out = render("{{ d | json }}{{ d }}{{ d | join: ',' }}", ctx);
  EXPECT_EQ(out.find("ERROR"), std::string::npos);
  // Comparing big values costs work in proportion.
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 50000; ++i) big.push_back(i);
  EXPECT_EQ(render("{% for i in (1..2000) %}{% if big == big %}{% endif %}{% endfor %}", {{"big", big}},
                   {.max_work = 1'000'000}),
            "RENDER ERROR: t.liquid:1:25: rendering takes more than the work limit (1000000 steps)");
}

TEST(Liquid, DeepDataAndLongChainsAreFine) {
  nlohmann::json deep = "leaf";
  for (int i = 0; i < 200; ++i) deep = nlohmann::json{{"a", deep}};
  std::string path = "{{ d";
  for (int i = 0; i < 200; ++i) path += ".a";
  EXPECT_EQ(render(path + " }}", {{"d", deep}}), "leaf");
  std::string chain = "{{ 0";
  for (int i = 0; i < 500; ++i) chain += " | plus: 1";
  EXPECT_EQ(render(chain + " }}"), "500");
}

}  // namespace
}  // namespace tp::templates
