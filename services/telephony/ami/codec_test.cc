// File: services/telephony/ami/codec_test.cc
// The AMI wire format: greeting, messages split anywhere across reads, repeated keys, colons in values,
// bounded sizes, encoding (no line injection) and the correlation of answers and lists by ActionID.
#include "services/telephony/ami/codec.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::telephony::ami {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kStream[] =
    "Asterisk Call Manager/5.0.2\r\n"
    "Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
    "Event: Newchannel\r\nChannel: PJSIP/101-0000002a\r\nUniqueid: 1733650000.42\r\n"
    "Variable: a=1\r\nVariable: b=2\r\nTime: 12:30:01\r\n\r\n";

std::vector<Message> Drain(Decoder& d) {
  std::vector<Message> out;
  while (auto m = d.Next()) out.push_back(*std::move(m));
  return out;
}

TEST(Decoder, WholeStream) {
  Decoder d;
  ASSERT_TRUE(d.Feed(kStream).ok());
  EXPECT_EQ(d.greeting(), "Asterisk Call Manager/5.0.2");
  std::vector<Message> m = Drain(d);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].response(), "Success");
  EXPECT_EQ(m[0].action_id(), "1");
  EXPECT_EQ(m[1].event(), "Newchannel");
  EXPECT_EQ(m[1].Get("channel"), "PJSIP/101-0000002a");  // keys compare case-insensitively
  EXPECT_EQ(m[1].Get("UniqueID"), "1733650000.42");
  EXPECT_THAT(m[1].GetAll("Variable"), ElementsAre("a=1", "b=2"));  // repeated keys kept in order
  EXPECT_EQ(m[1].Get("Time"), "12:30:01");                          // colons in values
  EXPECT_EQ(m[1].Get("Absent"), "");
  EXPECT_FALSE(m[1].Has("Absent"));
}

TEST(Decoder, EverySplitGivesTheSameMessages) {
  const std::string stream = kStream;
  Decoder whole;
  ASSERT_TRUE(whole.Feed(stream).ok());
  const std::vector<Message> expected = Drain(whole);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    for (std::size_t step : {1u, 3u, 7u}) {
      Decoder d;
      ASSERT_TRUE(d.Feed(absl::string_view(stream).substr(0, cut)).ok());
      for (std::size_t i = cut; i < stream.size(); i += step) {
        ASSERT_TRUE(d.Feed(absl::string_view(stream).substr(i, step)).ok()) << cut << "/" << step;
      }
      std::vector<Message> got = Drain(d);
      ASSERT_EQ(got.size(), expected.size()) << "cut " << cut << " step " << step;
      for (std::size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k].fields, expected[k].fields);
    }
  }
}

TEST(Decoder, BareNewlinesAndExtraBlankLines) {
  Decoder d;
  ASSERT_TRUE(d.Feed("Asterisk Call Manager/2.10.4\n\n\nEvent: FullyBooted\nStatus: Fully Booted\n\n").ok());
  std::vector<Message> m = Drain(d);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_THAT(m[0].fields, ElementsAre(Pair("Event", "FullyBooted"), Pair("Status", "Fully Booted")));
}

TEST(Decoder, IncompleteMessageWaits) {
  Decoder d;
  ASSERT_TRUE(d.Feed("Asterisk Call Manager/5.0.2\r\nEvent: Hangup\r\nCause: 16\r\n").ok());
  EXPECT_FALSE(d.Next().has_value());
  ASSERT_TRUE(d.Feed("\r\n").ok());
  EXPECT_TRUE(d.Next().has_value());
}

TEST(Decoder, RefusesWhatIsNotAmi) {
  Decoder d;
  EXPECT_EQ(d.Feed("SSH-2.0-OpenSSH_9.2\r\n").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(d.Feed("Event: X\r\n\r\n").ok());  // spent
}

struct LimitCase {
  const char* name;
  std::string input;
};

TEST(Decoder, BoundedSizes) {
  const Limits limits{.max_line = 64, .max_fields = 4, .max_message = 120};
  const std::string greeting = "Asterisk Call Manager/5.0.2\r\n";
  const std::vector<LimitCase> cases = {
      {"a line without end", greeting + std::string(65, 'x')},
      {"a long line", greeting + "Event: " + std::string(80, 'x') + "\r\n"},
      {"a long greeting", "Asterisk Call Manager/" + std::string(100, '5')},
      {"too many lines", greeting + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n"},
      {"a large message", greeting + "A: " + std::string(50, 'x') + "\r\nB: " + std::string(50, 'x') +
                              "\r\nC: " + std::string(50, 'x') + "\r\n"},
  };
  for (const LimitCase& c : cases) {
    Decoder d(limits);
    // Fed a byte at a time too: the bound holds however the bytes arrive.
    absl::Status s;
    for (char ch : c.input) {
      s = d.Feed(absl::string_view(&ch, 1));
      if (!s.ok()) break;
    }
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << c.name;
  }
  Decoder ok(limits);
  EXPECT_TRUE(ok.Feed(greeting + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\nA: 1\r\n\r\n").ok());
}

// Hostile bytes (a fixed seed): the decoder never grows past its limits — it yields bounded messages or
// fails — however the bytes come.
TEST(Decoder, HostileBytesStayBounded) {
  const Limits limits{.max_line = 256, .max_fields = 16, .max_message = 1024};
  std::mt19937 rng(20261208);
  const std::string alphabet("ab:: \r\n\n\n\r\0\xff", 12);  // NUL and 0xff included
  int messages = 0;
  for (int round = 0; round < 300; ++round) {
    Decoder d(limits);
    absl::Status s = d.Feed("Asterisk Call Manager/5.0.2\r\n");
    for (int chunk = 0; chunk < 50 && s.ok(); ++chunk) {
      std::string bytes(rng() % 300, 'x');
      for (char& c : bytes) c = alphabet[rng() % alphabet.size()];
      s = d.Feed(bytes);
      while (auto m = d.Next()) {
        ++messages;
        ASSERT_LE(m->fields.size(), limits.max_fields);
        std::size_t size = 0;
        for (const auto& [k, v] : m->fields) {
          ASSERT_LE(k.size() + v.size(), limits.max_line);
          size += k.size() + v.size();
        }
        ASSERT_LE(size, limits.max_message);
      }
    }
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    }
  }
  EXPECT_GT(messages, 0);  // the input is not all garbage: some messages came through
}

TEST(EncodeAction, LinesAndActionId) {
  auto bytes = EncodeAction("Originate", "ref-1",
                            {{"Channel", "PJSIP/101"}, {"Variable", "a=1"}, {"Variable", "b=2"}});
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes,
            "Action: Originate\r\nActionID: ref-1\r\nChannel: PJSIP/101\r\nVariable: a=1\r\nVariable: b=2\r\n\r\n");
  // What we encode, we decode.
  Decoder d;
  ASSERT_TRUE(d.Feed("Asterisk Call Manager/5.0.2\r\n" + *bytes).ok());
  auto m = d.Next();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->Get("Action"), "Originate");
  EXPECT_THAT(m->GetAll("Variable"), ElementsAre("a=1", "b=2"));
}

TEST(EncodeAction, RefusesLineInjection) {
  EXPECT_EQ(EncodeAction("Hangup", "1", {{"Channel", "PJSIP/1\r\nAction: Logoff"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(EncodeAction("Hangup", "1\n", {}).ok());
  EXPECT_FALSE(EncodeAction("Hangup", "1", {{"Bad: key", "x"}}).ok());
  EXPECT_FALSE(EncodeAction("Hangup", "1", {{"", "x"}}).ok());
  EXPECT_FALSE(EncodeAction("", "1", {}).ok());
}

Message Msg(std::vector<std::pair<std::string, std::string>> f) { return Message{.fields = std::move(f)}; }

TEST(Correlator, ResponsesByActionIdOthersAreEvents) {
  Correlator c;
  c.Expect("a");
  c.Expect("b");
  std::string id;
  Reply reply;
  Message event = Msg({{"Event", "Newchannel"}, {"Uniqueid", "1.1"}});
  EXPECT_EQ(c.Offer(event, &id, &reply), Correlator::Outcome::kEvent);
  EXPECT_EQ(event.event(), "Newchannel");  // left as it was
  Message unknown = Msg({{"Response", "Success"}, {"ActionID", "zzz"}});
  EXPECT_EQ(c.Offer(unknown, &id, &reply), Correlator::Outcome::kEvent);
  Message rb = Msg({{"Response", "Error"}, {"ActionID", "b"}, {"Message", "No such channel"}});
  ASSERT_EQ(c.Offer(rb, &id, &reply), Correlator::Outcome::kReply);  // answers in any order
  EXPECT_EQ(id, "b");
  EXPECT_EQ(reply.response.Get("Message"), "No such channel");
  EXPECT_FALSE(c.pending("b"));
  EXPECT_TRUE(c.pending("a"));
  c.Forget("a");
  Message ra = Msg({{"Response", "Success"}, {"ActionID", "a"}});
  EXPECT_EQ(c.Offer(ra, &id, &reply), Correlator::Outcome::kEvent);  // too late: forgotten
}

TEST(Correlator, ListsCollectTheirEvents) {
  Correlator c(/*max_list_items=*/2);
  c.Expect("list");
  std::string id;
  Reply reply;
  Message start = Msg({{"Response", "Success"}, {"ActionID", "list"}, {"EventList", "start"}});
  EXPECT_EQ(c.Offer(start, &id, &reply), Correlator::Outcome::kAbsorbed);
  Message between = Msg({{"Event", "Hangup"}, {"Uniqueid", "9.9"}});  // an ordinary event in between
  EXPECT_EQ(c.Offer(between, &id, &reply), Correlator::Outcome::kEvent);
  for (const char* leg : {"1.1", "1.2"}) {
    Message item = Msg({{"Event", "CoreShowChannel"}, {"ActionID", "list"}, {"Uniqueid", leg}});
    EXPECT_EQ(c.Offer(item, &id, &reply), Correlator::Outcome::kAbsorbed);
  }
  Message done = Msg({{"Event", "CoreShowChannelsComplete"}, {"ActionID", "list"}, {"EventList", "Complete"},
                      {"ListItems", "2"}});
  ASSERT_EQ(c.Offer(done, &id, &reply), Correlator::Outcome::kReply);
  EXPECT_EQ(id, "list");
  ASSERT_EQ(reply.list.size(), 2u);
  EXPECT_EQ(reply.list[1].Get("Uniqueid"), "1.2");
  EXPECT_FALSE(reply.truncated);

  c.Expect("big");
  Message s2 = Msg({{"Response", "Success"}, {"ActionID", "big"}, {"EventList", "start"}});
  c.Offer(s2, &id, &reply);
  for (int i = 0; i < 3; ++i) {
    Message item = Msg({{"Event", "CoreShowChannel"}, {"ActionID", "big"}});
    c.Offer(item, &id, &reply);
  }
  Message d2 = Msg({{"Event", "CoreShowChannelsComplete"}, {"ActionID", "big"}, {"EventList", "Complete"}});
  ASSERT_EQ(c.Offer(d2, &id, &reply), Correlator::Outcome::kReply);
  EXPECT_EQ(reply.list.size(), 2u);  // bounded
  EXPECT_TRUE(reply.truncated);
}

TEST(Correlator, AListRefusedAnswersAtOnce) {
  Correlator c;
  c.Expect("x");
  std::string id;
  Reply reply;
  Message err = Msg({{"Response", "Error"}, {"ActionID", "x"}, {"Message", "Permission denied"}});
  EXPECT_EQ(c.Offer(err, &id, &reply), Correlator::Outcome::kReply);
}

}  // namespace
}  // namespace crm::telephony::ami
