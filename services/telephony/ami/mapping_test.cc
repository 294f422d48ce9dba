// File: services/telephony/ami/mapping_test.cc
// AMI events → CallEvents: one table row per event shape, deterministic keys, direction and extension from
// the channel, recordings through the URL template, the resynchronisation's ended fact.
#include "services/telephony/ami/mapping.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::telephony::ami {
namespace {

using calls::CallEvent;
using Kind = CallEvent::Kind;
using Dir = CallEvent::Direction;

const absl::Time kReceived = absl::FromUnixSeconds(1765000000);

Mapper Make(std::string templ = "https://pbx.example.com/rec/{file}") {
  auto m = Mapper::Create({.recording_url_template = std::move(templ)});
  EXPECT_TRUE(m.ok()) << m.status();
  return *std::move(m);
}

Message Msg(std::vector<std::pair<std::string, std::string>> f) { return Message{.fields = std::move(f)}; }

struct Row {
  const char* name;
  Message event;
  // Expected: one string per fact "kind|event_key|call|leg|channel|dir|from|to|ext|line|reason|answered|url".
  std::vector<std::string> facts;
};

std::string DirName(Dir d) {
  switch (d) {
    case Dir::kInbound: return "in";
    case Dir::kOutbound: return "out";
    case Dir::kInternal: return "internal";
    default: return "?";
  }
}

std::string Show(const CallEvent& e) {
  return std::string(calls::KindName(e.kind)) + "|" + e.event_key + "|" + e.call_key + "|" + e.leg_key + "|" +
         e.channel + "|" + DirName(e.direction) + "|" + e.from + "|" + e.to + "|" + e.extension + "|" + e.line + "|" +
         e.end_reason + "|" + (e.answered ? "1" : "0") + "|" + e.recording_url;
}

TEST(Mapper, Table) {
  const std::vector<Row> rows = {
      {"inbound first leg from a trunk",
       Msg({{"Event", "Newchannel"}, {"Channel", "PJSIP/trunk-00000001"}, {"CallerIDNum", "79991234567"},
            {"Exten", "74951234567"}, {"Uniqueid", "1765000000.1"}, {"Linkedid", "1765000000.1"}}),
       {"ringing|1765000000.1:ringing|1765000000.1|1765000000.1|PJSIP/trunk-00000001|in|79991234567|74951234567|"
        "|74951234567||0|"}},
      {"the employee's leg of that call",
       Msg({{"Event", "Newchannel"}, {"Channel", "PJSIP/101-00000002"}, {"CallerIDNum", "<unknown>"},
            {"Exten", "s"}, {"Uniqueid", "1765000000.2"}, {"Linkedid", "1765000000.1"}}),
       {"ringing|1765000000.2:ringing|1765000000.1|1765000000.2|PJSIP/101-00000002|?||s|101|||0|"}},
      {"outbound from a phone",
       Msg({{"Event", "Newchannel"}, {"Channel", "SIP/2001-0000000a"}, {"CallerIDNum", "2001"},
            {"Exten", "84951112233"}, {"Uniqueid", "5.1"}, {"Linkedid", "5.1"}}),
       {"ringing|5.1:ringing|5.1|5.1|SIP/2001-0000000a|out|2001|84951112233|2001|||0|"}},
      {"internal: phone to extension",
       Msg({{"Event", "Newchannel"}, {"Channel", "PJSIP/101-0000000b"}, {"CallerIDNum", "101"}, {"Exten", "102"},
            {"Uniqueid", "6.1"}, {"Linkedid", "6.1"}}),
       {"ringing|6.1:ringing|6.1|6.1|PJSIP/101-0000000b|internal|101|102|101|||0|"}},
      {"a name that is not an extension is an outside party",
       Msg({{"Event", "Newchannel"}, {"Channel", "PJSIP/1234567-0000000c"}, {"CallerIDNum", "1"},
            {"Exten", "2"}, {"Uniqueid", "7.1"}, {"Linkedid", "7.1"}}),
       {"ringing|7.1:ringing|7.1|7.1|PJSIP/1234567-0000000c|in|1|2||2||0|"}},
      {"DialBegin: the dialled leg rings (same key as its Newchannel)",
       Msg({{"Event", "DialBegin"}, {"Channel", "PJSIP/trunk-00000001"}, {"CallerIDNum", "79991234567"},
            {"Uniqueid", "1765000000.1"}, {"Linkedid", "1765000000.1"}, {"DestChannel", "PJSIP/101-00000002"},
            {"DestCallerIDNum", "101"}, {"DestExten", "s"}, {"DestUniqueid", "1765000000.2"},
            {"DestLinkedid", "1765000000.1"}, {"DialString", "PJSIP/101"}}),
       {"ringing|1765000000.2:ringing|1765000000.1|1765000000.2|PJSIP/101-00000002|?|79991234567|101|101|||0|"}},
      {"DialEnd ANSWER: the dialled leg answered",
       Msg({{"Event", "DialEnd"}, {"Channel", "PJSIP/trunk-00000001"}, {"Uniqueid", "1765000000.1"},
            {"DestChannel", "PJSIP/101-00000002"}, {"DestUniqueid", "1765000000.2"},
            {"DestLinkedid", "1765000000.1"}, {"DialStatus", "ANSWER"}}),
       {"answered|1765000000.2:answered|1765000000.1|1765000000.2|PJSIP/101-00000002|?|||101|||1|"}},
      {"DialEnd BUSY: the dialled leg ended busy",
       Msg({{"Event", "DialEnd"}, {"Uniqueid", "1.1"}, {"DestChannel", "PJSIP/101-00000003"},
            {"DestUniqueid", "1.3"}, {"DestLinkedid", "1.1"}, {"DialStatus", "BUSY"}}),
       {"ended|1.3:ended|1.1|1.3|PJSIP/101-00000003|?|||101||BUSY|0|"}},
      {"DialEnd NOANSWER", Msg({{"Event", "DialEnd"}, {"DestUniqueid", "1.4"}, {"DestLinkedid", "1.1"},
                                {"DestChannel", "PJSIP/102-4"}, {"DialStatus", "NOANSWER"}}),
       {"ended|1.4:ended|1.1|1.4|PJSIP/102-4|?|||102||NOANSWER|0|"}},
      {"DialEnd CONTINUE is no fact",
       Msg({{"Event", "DialEnd"}, {"DestUniqueid", "1.4"}, {"DialStatus", "CONTINUE"}}), {}},
      {"BridgeEnter: answered",
       Msg({{"Event", "BridgeEnter"}, {"BridgeTechnology", "simple_bridge"}, {"Channel", "PJSIP/trunk-00000001"},
            {"Uniqueid", "1765000000.1"}, {"Linkedid", "1765000000.1"}, {"CallerIDNum", "79991234567"},
            {"Exten", "74951234567"}}),
       {"answered|1765000000.1:answered|1765000000.1|1765000000.1|PJSIP/trunk-00000001|in|79991234567|"
        "74951234567||74951234567||1|"}},
      {"BridgeEnter into a holding bridge (parking, music) is no answer",
       Msg({{"Event", "BridgeEnter"}, {"BridgeTechnology", "holding_bridge"}, {"Uniqueid", "1.1"}}), {}},
      {"Hangup: ended with Cause-txt",
       Msg({{"Event", "Hangup"}, {"Channel", "PJSIP/101-00000002"}, {"ChannelStateDesc", "Up"},
            {"Uniqueid", "1765000000.2"}, {"Linkedid", "1765000000.1"}, {"Cause", "16"},
            {"Cause-txt", "Normal Clearing"}, {"Timestamp", "1765000123.500000"}}),
       {"ended|1765000000.2:ended|1765000000.1|1765000000.2|PJSIP/101-00000002|?|||101||Normal Clearing|1|"}},
      {"Hangup without Cause-txt: the number",
       Msg({{"Event", "Hangup"}, {"Channel", "PJSIP/101-9"}, {"ChannelStateDesc", "Ring"}, {"Uniqueid", "2.2"},
            {"Linkedid", "2.1"}, {"Cause", "19"}}),
       {"ended|2.2:ended|2.1|2.2|PJSIP/101-9|?|||101||19|0|"}},
      {"MixMonitor's file name: recording",
       Msg({{"Event", "VarSet"}, {"Channel", "PJSIP/trunk-00000001"}, {"Uniqueid", "1765000000.1"},
            {"Linkedid", "1765000000.1"}, {"Variable", "MIXMONITOR_FILENAME"},
            {"Value", "/var/spool/asterisk/monitor/2026/12/08/in 1.wav"}}),
       {"recording|1765000000.1:recording|1765000000.1|1765000000.1|PJSIP/trunk-00000001|in||||||0|"
        "https://pbx.example.com/rec/in%201.wav"}},
      {"another VarSet is no fact",
       Msg({{"Event", "VarSet"}, {"Uniqueid", "1.1"}, {"Variable", "DIALSTATUS"}, {"Value", "ANSWER"}}), {}},
      {"Cdr with a RecordingFile (cdr_manager.conf mapping)",
       Msg({{"Event", "Cdr"}, {"Source", "79991234567"}, {"Destination", "101"},
            {"Channel", "PJSIP/trunk-00000001"}, {"UniqueID", "1765000000.1"}, {"RecordingFile", "rec-1.wav"}}),
       {"recording|1765000000.1:recording|1765000000.1|1765000000.1|PJSIP/trunk-00000001|?|79991234567|101|||"
        "|0|https://pbx.example.com/rec/rec-1.wav"}},
      {"Cdr with a UserField that is no audio file is no fact",
       Msg({{"Event", "Cdr"}, {"UniqueID", "1.1"}, {"UserField", "vip"}}), {}},
      {"CoreShowChannel bridged: ringing and answered",
       Msg({{"Event", "CoreShowChannel"}, {"ActionID", "x"}, {"Channel", "PJSIP/101-00000002"},
            {"Uniqueid", "1765000000.2"}, {"Linkedid", "1765000000.1"}, {"CallerIDNum", "101"}, {"Exten", "s"},
            {"BridgeId", "b-1"}}),
       {"ringing|1765000000.2:ringing|1765000000.1|1765000000.2|PJSIP/101-00000002|?|101|s|101|||0|",
        "answered|1765000000.2:answered|1765000000.1|1765000000.2|PJSIP/101-00000002|?|101|s|101|||0|"}},
      {"a Local channel is plumbing, no party",
       Msg({{"Event", "Newchannel"}, {"Channel", "Local/101@from-internal-00000001;1"}, {"Uniqueid", "8.1"},
            {"Linkedid", "8.1"}}),
       {}},
      {"nor is a Local channel dialled",
       Msg({{"Event", "DialBegin"}, {"Uniqueid", "8.0"}, {"DestChannel", "Local/101@from-internal-00000001;1"},
            {"DestUniqueid", "8.1"}, {"DestLinkedid", "8.0"}}),
       {}},
      {"an event that is no call fact", Msg({{"Event", "FullyBooted"}, {"Status", "Fully Booted"}}), {}},
      {"a Hangup without Uniqueid is ignored", Msg({{"Event", "Hangup"}, {"Channel", "X/1"}}), {}},
  };
  Mapper mapper = Make();
  for (const Row& row : rows) {
    std::vector<std::string> got;
    for (const CallEvent& e : mapper.Map(row.event, kReceived)) {
      EXPECT_EQ(e.provider, "asterisk") << row.name;
      got.push_back(Show(e));
    }
    EXPECT_EQ(got, row.facts) << row.name;
  }
}

TEST(Mapper, KeysAreTheFactsNotTheArrival) {
  Mapper mapper = Make();
  Message hangup = Msg({{"Event", "Hangup"}, {"Channel", "PJSIP/101-2"}, {"Uniqueid", "9.2"}, {"Linkedid", "9.1"},
                        {"Cause-txt", "Normal Clearing"}});
  auto a = mapper.Map(hangup, kReceived);
  auto b = mapper.Map(hangup, kReceived + absl::Hours(5));  // replayed later, by another replica
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].event_key, b[0].event_key);
  // The resynchronisation's ended fact for a missed Hangup has the Hangup's key.
  CallEvent resync = mapper.EndedByResync({.call_key = "9.1", .leg_key = "9.2", .channel = "PJSIP/101-2"},
                                          kReceived + absl::Hours(1));
  EXPECT_EQ(resync.event_key, a[0].event_key);
  EXPECT_EQ(resync.kind, Kind::kEnded);
  EXPECT_EQ(resync.end_reason, "LINK_LOST");
  EXPECT_EQ(resync.extension, "101");
  EXPECT_EQ(resync.call_key, "9.1");
}

TEST(Mapper, TimeFromTheEventElseReceipt) {
  Mapper mapper = Make();
  auto with = mapper.Map(Msg({{"Event", "Hangup"}, {"Uniqueid", "1.1"}, {"Timestamp", "1765000123.5"}}), kReceived);
  ASSERT_EQ(with.size(), 1u);
  EXPECT_EQ(with[0].time, absl::FromUnixMillis(1765000123500));
  auto without = mapper.Map(Msg({{"Event", "Hangup"}, {"Uniqueid", "1.1"}}), kReceived);
  EXPECT_EQ(without[0].time, kReceived);
}

TEST(Mapper, NoRecordingsWithoutATemplate) {
  Mapper mapper = Make("");
  EXPECT_TRUE(mapper.Map(Msg({{"Event", "VarSet"}, {"Uniqueid", "1.1"}, {"Variable", "MIXMONITOR_FILENAME"},
                              {"Value", "/x.wav"}}), kReceived).empty());
}

TEST(Mapper, PathTemplate) {
  Mapper mapper = Make("https://pbx/files/{path}");
  auto r = mapper.Map(Msg({{"Event", "VarSet"}, {"Uniqueid", "1.1"}, {"Variable", "MIXMONITOR_FILENAME"},
                           {"Value", "/var/spool/a&b.wav"}}), kReceived);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].recording_url, "https://pbx/files/var/spool/a%26b.wav");
}

TEST(Mapper, Extensions) {
  Mapper mapper = Make();
  EXPECT_EQ(mapper.ExtensionOf("PJSIP/101-0000002a"), "101");
  EXPECT_EQ(mapper.ExtensionOf("SIP/2001-00000001"), "2001");
  EXPECT_EQ(mapper.ExtensionOf("Local/101@from-internal-00000001;1"), "101");
  EXPECT_EQ(mapper.ExtensionOf("PJSIP/trunk-00000001"), "");
  EXPECT_EQ(mapper.ExtensionOf("PJSIP/123456-00000001"), "");
  EXPECT_EQ(mapper.ExtensionOf("garbage"), "");
  auto custom = Mapper::Create({.extension_pattern = "^op[0-9]+$"});
  ASSERT_TRUE(custom.ok());
  EXPECT_EQ(custom->ExtensionOf("PJSIP/op7-00000001"), "op7");
  EXPECT_EQ(custom->ExtensionOf("PJSIP/101-00000001"), "");
}

TEST(Mapper, BadSettingsNamed) {
  auto bad_pattern = Mapper::Create({.extension_pattern = "(["});
  EXPECT_THAT(std::string(bad_pattern.status().message()), ::testing::StartsWith("EXTENSION_PATTERN:"));
  auto bad_template = Mapper::Create({.recording_url_template = "https://pbx/rec/"});
  EXPECT_THAT(std::string(bad_template.status().message()), ::testing::StartsWith("RECORDING_URL_TEMPLATE:"));
}

}  // namespace
}  // namespace crm::telephony::ami
