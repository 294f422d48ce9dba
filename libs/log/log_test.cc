#include "libs/log/log.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::log {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// A strict parser for the flat objects the logger writes: {"key": string|number|true|false|null, ...}.
// Strings are decoded (escapes, surrogate pairs); raw control characters and invalid UTF-8 are errors.
// Non-string values are returned as their raw token.
class FlatJson {
 public:
  static std::optional<std::vector<std::pair<std::string, std::string>>> Parse(std::string_view s) {
    FlatJson p(s);
    std::vector<std::pair<std::string, std::string>> out;
    if (!p.Eat('{')) return std::nullopt;
    if (p.Eat('}')) return p.AtEnd() ? std::optional(out) : std::nullopt;
    do {
      std::string key, value;
      if (!p.String(&key) || !p.Eat(':') || !p.Value(&value)) return std::nullopt;
      out.emplace_back(std::move(key), std::move(value));
    } while (p.Eat(','));
    if (!p.Eat('}') || !p.AtEnd()) return std::nullopt;
    return out;
  }

 private:
  explicit FlatJson(std::string_view s) : s_(s) {}
  bool AtEnd() const { return i_ == s_.size(); }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool Hex4(uint32_t* v) {
    if (i_ + 4 > s_.size()) return false;
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      *v <<= 4;
      if (c >= '0' && c <= '9')
        *v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        *v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        *v |= c - 'A' + 10;
      else
        return false;
    }
    return true;
  }
  // One UTF-8 character, strictly validated.
  bool Utf8(std::string* out) {
    const unsigned char c = static_cast<unsigned char>(s_[i_]);
    int len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (i_ + len > s_.size()) return false;
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s_[i_ + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    out->append(s_.substr(i_, len));
    i_ += len;
    return true;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (i_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;
      if (c >= 0x80) {
        if (!Utf8(out)) return false;
        continue;
      }
      ++i_;
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (!Eat('\\') || !Eat('u') || !Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }
  bool Value(std::string* out) {
    if (i_ < s_.size() && s_[i_] == '"') return String(out);
    for (std::string_view lit : {"true", "false", "null"}) {
      if (s_.substr(i_, lit.size()) == lit) {
        *out = std::string(lit);
        i_ += lit.size();
        return true;
      }
    }
    // Number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    static const std::regex kNumber(R"(^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_search(s_.begin() + i_, s_.end(), m, kNumber) || m.length(0) == 0) return false;
    *out = std::string(s_.substr(i_, m.length(0)));
    i_ += m.length(0);
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Captures lines for the duration of a test; resets the logger afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Init("deals", Level::kDebug);
    SetSinkForTesting([this](std::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    SetSinkForTesting(nullptr);
    Init("unknown", Level::kInfo);
  }
  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  // The single captured line with its timestamp checked and cut off: `,"level":...}`.
  std::string OnlyLineAfterTs() {
    std::vector<std::string> lines = Lines();
    EXPECT_EQ(lines.size(), 1u);
    if (lines.size() != 1) return "";
    static const std::regex kPrefix(R"(^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")");
    std::smatch m;
    EXPECT_TRUE(std::regex_search(lines[0], m, kPrefix)) << lines[0];
    EXPECT_TRUE(FlatJson::Parse(lines[0]).has_value()) << lines[0];
    return lines[0].substr(m.length(0));
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(LogTest, LineShape) {
  Info("deal moved", {{"deal_id", "019a"}, {"stage", 3}});
  EXPECT_EQ(OnlyLineAfterTs(),
            R"(,"level":"info","service":"deals","msg":"deal moved","deal_id":"019a","stage":3})");
}

TEST_F(LogTest, TimestampIsNow) {
  const absl::Time before = absl::Now() - absl::Seconds(1);
  Info("x");
  const auto parsed = FlatJson::Parse(Lines().at(0));
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(parsed->at(0).first, "ts");
  absl::Time ts;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, parsed->at(0).second, &ts, &err)) << err;
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, absl::Now());
}

TEST_F(LogTest, EveryFieldType) {
  const std::string owned = "s3";
  const absl::Status status = absl::NotFoundError("deal \"7\"");
  const char* null_str = nullptr;
  Info("m", {{"sv", std::string_view("s1")},
             {"cs", "s2"},
             {"str", owned},
             {"asv", absl::string_view("s4")},
             {"null", null_str},
             {"i", -42},
             {"i64min", std::numeric_limits<int64_t>::min()},
             {"u64max", std::numeric_limits<uint64_t>::max()},
             {"u16", uint16_t{7}},
             {"d", 0.5},
             {"big", 1e21},
             {"f", 2.25f},
             {"nan", std::numeric_limits<double>::quiet_NaN()},
             {"inf", -std::numeric_limits<double>::infinity()},
             {"yes", true},
             {"no", false},
             {"err", status},
             {"ok", absl::OkStatus()},
             {"at", absl::FromUnixMillis(1795514400123)},
             {"took", absl::Milliseconds(1500)},
             {"msg", "reserved"}});
  EXPECT_EQ(OnlyLineAfterTs(),
            R"(,"level":"info","service":"deals","msg":"m","sv":"s1","cs":"s2","str":"s3","asv":"s4",)"
            R"("null":null,"i":-42,"i64min":-9223372036854775808,"u64max":18446744073709551615,"u16":7,)"
            R"("d":0.5,"big":1e+21,"f":2.25,"nan":"NaN","inf":"-Infinity","yes":true,"no":false,)"
            R"("err":"NOT_FOUND: deal \"7\"","ok":"OK","at":"2026-11-24T10:00:00.123Z","took":1.5,)"
            R"("_msg":"reserved"})");
}

TEST_F(LogTest, EscapesQuotesBackslashAndControlCharacters) {
  Info("say \"hi\"\\ \n\r\t\b\f\x01\x1f\x7f end", {{"k\"ey", "v\\al"}});
  EXPECT_EQ(OnlyLineAfterTs(),
            R"(,"level":"info","service":"deals","msg":"say \"hi\"\\ \n\r\t\b\f\u0001\u001f\u007f end",)"
            R"("k\"ey":"v\\al"})");
}

TEST_F(LogTest, KeepsValidUtf8AndReplacesInvalid) {
  Info("Сделка 😀 €");
  Info(
      "a\xff"
      "b");                  // stray byte
  Info("x\xe2\x82");         // truncated at the end: one replacement
  Info("\xc0\xaf");          // overlong '/': two replacements
  Info("\xed\xa0\x80");      // surrogate U+D800: three
  Info("\xf4\x90\x80\x80");  // above U+10FFFF: four
  Info(
      "\xe2\x82"
      "A");  // truncated then ASCII
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 7u);
  const std::string r = "\xEF\xBF\xBD";
  const std::vector<std::string> expected = {"Сделка 😀 €", "a" + r + "b", "x" + r, r + r,
                                             r + r + r,    r + r + r + r, r + "A"};
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto parsed = FlatJson::Parse(lines[i]);
    ASSERT_TRUE(parsed.has_value()) << lines[i];
    EXPECT_THAT(*parsed, testing::Contains(Pair("msg", expected[i]))) << lines[i];
  }
}

TEST_F(LogTest, AppendJsonStringAlone) {
  std::string out = "[";
  AppendJsonString(&out, std::string_view("a\0b", 3));
  EXPECT_EQ(out, R"(["a\u0000b")");
}

TEST_F(LogTest, MinLevelFilters) {
  Init("deals", Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  Debug("d");
  Info("i");
  Warn("w");
  Error("e", {{"n", 1}});
  Log(Level::kInfo, "i2");
  Log(Level::kError, "e2");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr(R"("level":"warn","service":"deals","msg":"w"})"));
  EXPECT_THAT(lines[1], HasSubstr(R"("level":"error","service":"deals","msg":"e","n":1})"));
  EXPECT_THAT(lines[2], HasSubstr(R"("level":"error","service":"deals","msg":"e2"})"));
}

TEST_F(LogTest, DebugLevelLogsEverything) {
  Debug("d");
  Info("i");
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_THAT(Lines()[0], HasSubstr(R"("level":"debug")"));
}

TEST(ParseLevelTest, Names) {
  EXPECT_EQ(ParseLevel("debug").value(), Level::kDebug);
  EXPECT_EQ(ParseLevel("INFO").value(), Level::kInfo);
  EXPECT_EQ(ParseLevel("warn").value(), Level::kWarn);
  EXPECT_EQ(ParseLevel("Warning").value(), Level::kWarn);
  EXPECT_EQ(ParseLevel("ERROR").value(), Level::kError);
  const auto bad = ParseLevel("verbose");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("verbose"));
  EXPECT_FALSE(ParseLevel("").ok());
}

TEST_F(LogTest, RequestIdScopesNestAndRestore) {
  EXPECT_EQ(CurrentRequestId(), "");
  Info("none");
  {
    ScopedRequestId outer("req-1");
    EXPECT_EQ(CurrentRequestId(), "req-1");
    Info("outer");
    {
      ScopedRequestId inner("req-2");
      Info("inner");
    }
    EXPECT_EQ(CurrentRequestId(), "req-1");
    Info("outer again");
  }
  EXPECT_EQ(CurrentRequestId(), "");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], HasSubstr(R"("service":"deals","msg":"none"})"));
  EXPECT_THAT(lines[1], HasSubstr(R"("service":"deals","request_id":"req-1","msg":"outer"})"));
  EXPECT_THAT(lines[2], HasSubstr(R"("request_id":"req-2","msg":"inner"})"));
  EXPECT_THAT(lines[3], HasSubstr(R"("request_id":"req-1","msg":"outer again"})"));
}

TEST_F(LogTest, RequestIdIsPerThreadAndLinesDoNotInterleave) {
  constexpr int kThreads = 4, kLines = 500;
  ScopedRequestId main_id("main");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      EXPECT_EQ(CurrentRequestId(), "");  // not inherited from the spawning thread
      ScopedRequestId rid("req-" + std::to_string(t));
      for (int i = 0; i < kLines; ++i) Info("work", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(CurrentRequestId(), "main");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), size_t{kThreads * kLines});
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    const auto parsed = FlatJson::Parse(line);
    ASSERT_TRUE(parsed.has_value()) << line;
    std::string rid, thread, i;
    for (const auto& [k, v] : *parsed) {
      if (k == "request_id") rid = v;
      if (k == "thread") thread = v;
      if (k == "i") i = v;
    }
    EXPECT_EQ(rid, "req-" + thread) << line;
    const int t = std::stoi(thread);
    EXPECT_EQ(std::stoi(i), next[t]++) << line;  // each thread's lines arrive in its order
  }
}

TEST(LogStderrTest, WritesOneNewlineTerminatedLineToStderr) {
  Init("robots", Level::kInfo);
  testing::internal::CaptureStderr();
  Info("to stderr", {{"n", 1}});
  const std::string out = testing::internal::GetCapturedStderr();
  Init("unknown", Level::kInfo);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_THAT(out, HasSubstr(R"("level":"info","service":"robots","msg":"to stderr","n":1})"));
  EXPECT_TRUE(FlatJson::Parse(std::string_view(out).substr(0, out.size() - 1)).has_value()) << out;
}

// Runs in a fresh process (re-executed), so no other test's Init() has happened.
TEST(LogDefaultsDeathTest, ServiceUnknownAndLevelInfoBeforeInit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::vector<std::string> lines;
        SetSinkForTesting([&lines](std::string_view line) { lines.emplace_back(line); });
        Debug("hidden");
        Info("shown");
        const bool ok =
            lines.size() == 1 &&
            lines[0].find(R"("level":"info","service":"unknown","msg":"shown"})") != std::string::npos;
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace crm::log
