// PrintJson() prints exactly what protobuf 3.21's MessageToJsonString() prints - the same bytes and the
// same status - for both option sets the gateway uses (JsonOutputOptions(), and the same with
// always_print_primitive_fields = false). Every message type of the suite's API descriptor set
// (build/proto/crm_api.pb) plus a synthetic type with every field kind is filled at random (seeded) and
// compared, as built and as the gateway sees it (parsed from the wire); hand-written cases pin the edges.
// The last test times both printers on a ListDealsResponse of 60 cards (printed, not asserted).
#include "services/gateway/transcode/json_print.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/api/http.pb.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/type.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/json_policy.h"
#include "services/gateway/transcode/json_testing.h"

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;
using FD = gpb::FieldDescriptor;
using json_testing::Env;
using json_testing::Filler;
using json_testing::GetEnv;

// ---------------------------------------------------------------------------------------------------
// Comparison.

struct Stats {
  int compared = 0;
  int direct = 0;  // printed by the direct printer, no fallback
};

gpb::util::JsonPrintOptions Options(bool always_print_primitive_fields) {
  gpb::util::JsonPrintOptions o = JsonOutputOptions();
  o.always_print_primitive_fields = always_print_primitive_fields;
  return o;
}

// Compares PrintJson with MessageToJsonString for both option sets; returns false on a difference.
bool Same(const gpb::Message& m, Stats* stats = nullptr) {
  bool same = true;
  for (bool defaults : {true, false}) {
    const gpb::util::JsonPrintOptions opts = Options(defaults);
    const std::string prefix = "[prefix]";
    std::string want = prefix;
    const absl::Status want_status = FromProtobufStatus(gpb::util::MessageToJsonString(m, &want, opts));
    std::string got = prefix;
    const absl::Status got_status = PrintJson(m, opts, &got);
    std::string direct = prefix;
    const absl::Status direct_status = json_print_internal::PrintJsonWithoutFallback(m, opts, &direct);
    if (want != got || want_status != got_status) {
      ADD_FAILURE() << "always_print_primitive_fields=" << defaults << " " << m.GetDescriptor()->full_name() << "\n"
                    << "message:  " << m.ShortDebugString().substr(0, 4000) << "\n"
                    << "protobuf: " << want_status << " " << want.substr(0, 4000) << "\n"
                    << "PrintJson: " << got_status << " " << got.substr(0, 4000);
      same = false;
    }
    if (direct_status.ok()) {
      if (direct != want) {
        ADD_FAILURE() << "direct printer differs: " << direct.substr(0, 4000) << "\nwant " << want.substr(0, 4000);
        same = false;
      }
    } else {
      EXPECT_EQ(direct_status.code(), absl::StatusCode::kUnimplemented) << direct_status;
      EXPECT_EQ(direct, prefix) << "the direct printer left output behind";
    }
    if (stats != nullptr) {
      ++stats->compared;
      if (direct_status.ok()) ++stats->direct;
    }
  }
  return same;
}

// Whether PrintJson printed `m` itself (both option sets), not MessageToJsonString.
bool Direct(const gpb::Message& m) {
  for (bool defaults : {true, false}) {
    std::string out;
    if (!json_print_internal::PrintJsonWithoutFallback(m, Options(defaults), &out).ok()) return false;
  }
  return true;
}

std::string Json(const gpb::Message& m, bool defaults = true) {
  std::string out;
  absl::Status s = PrintJson(m, Options(defaults), &out);
  return s.ok() ? out : "ERROR " + std::string(s.message());
}


class JsonPrintTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(env_.error, ""); }
  const Env& env_ = GetEnv();
};

// ---------------------------------------------------------------------------------------------------
// Randomized: every type of the API, and the synthetic one many times.

TEST_F(JsonPrintTest, RandomMessagesOfEveryApiTypePrintLikeMessageToJsonString) {
  gpb::LogSilencer silence;  // invalid UTF-8 makes protobuf log while serializing
  Filler filler(env_, 20240611);
  int failures = 0;
  // Each message as built, and as the gateway has it: parsed from the backend's bytes (a string with
  // invalid UTF-8 does not parse).
  auto run = [&](const gpb::Descriptor* d, int n, Stats* built, Stats* parsed) {
    for (int i = 0; i < n && failures < 10; ++i) {
      std::unique_ptr<gpb::Message> m = env_.New(d);
      filler.Fill(m.get(), 0);
      if (!m->IsInitialized()) continue;  // proto2 (descriptor.proto): protobuf would not even serialize it
      if (!Same(*m, built)) ++failures;
      std::unique_ptr<gpb::Message> wire = env_.New(d);
      if (wire->ParseFromString(m->SerializeAsString()) && !Same(*wire, parsed)) ++failures;
    }
  };
  Stats api_built, api_parsed, synthetic_built, synthetic_parsed;
  for (const gpb::Descriptor* d : env_.api_types) run(d, 20, &api_built, &api_parsed);
  run(env_.pool.FindMessageTypeByName("crm.testing.jsonprint.Everything"), 800, &synthetic_built, &synthetic_parsed);
  std::printf("API types: compared %d built messages (%d printed directly), %d parsed (%d directly)\n"
              "synthetic: compared %d built messages (%d printed directly), %d parsed (%d directly)\n",
              api_built.compared, api_built.direct, api_parsed.compared, api_parsed.direct, synthetic_built.compared,
              synthetic_built.direct, synthetic_parsed.compared, synthetic_parsed.direct);
  EXPECT_EQ(failures, 0);
  EXPECT_GT(api_built.compared + synthetic_built.compared, 12000);
  // The fallback is for rare cases: out-of-range times, a broken Any, proto2 types (descriptor.proto is
  // in the set), a well-known type at the root, repeated keys in a Struct.
  EXPECT_GT(api_built.direct, api_built.compared * 9 / 10);
  EXPECT_GT(api_parsed.direct, api_parsed.compared * 9 / 10);
  EXPECT_GT(synthetic_built.direct, synthetic_built.compared / 2);
}

TEST_F(JsonPrintTest, EmptyMessagesOfEveryApiTypePrintDirectly) {
  // Every proto3 API type is printed by the direct printer (no fallback at all), but for the well-known
  // types that protobuf renders specially at the root.
  for (const gpb::Descriptor* d : env_.api_types) {
    if (d->file()->syntax() != gpb::FileDescriptor::SYNTAX_PROTO3) continue;
    if (d->full_name() == "google.protobuf.Any" || d->full_name() == "google.protobuf.Timestamp" ||
        d->full_name() == "google.protobuf.Duration" || d->full_name() == "google.protobuf.FieldMask") {
      EXPECT_TRUE(Same(*env_.New(d))) << d->full_name();
      continue;
    }
    std::unique_ptr<gpb::Message> m = env_.New(d);
    EXPECT_TRUE(Direct(*m)) << d->full_name();
    EXPECT_TRUE(Same(*m)) << d->full_name();
  }
}

// ---------------------------------------------------------------------------------------------------
// Hand-written cases.

TEST_F(JsonPrintTest, DealCardKeepsProtobufsFieldOrder) {
  std::unique_ptr<gpb::Message> card = env_.New("crm.deals.v1.DealCard");
  const gpb::Descriptor* d = card->GetDescriptor();
  const gpb::Reflection* r = card->GetReflection();
  r->SetString(card.get(), d->FindFieldByName("id"), "d1");
  r->SetString(card.get(), d->FindFieldByName("name"), "Квартира <A&B>");
  gpb::Message* created = r->MutableMessage(card.get(), d->FindFieldByName("create_time"));
  created->GetReflection()->SetInt64(created, created->GetDescriptor()->FindFieldByNumber(1), 1700000000);
  gpb::Message* next = r->MutableMessage(card.get(), d->FindFieldByName("next_task_time"));
  next->GetReflection()->SetInt32(next, next->GetDescriptor()->FindFieldByNumber(2), 5000000);
  r->AddString(card.get(), d->FindFieldByName("tags"), "vip");
  r->SetInt64(card.get(), d->FindFieldByName("version"), 3);
  // Timestamps after everything else, in field-number order; defaults printed; '<' '>' escaped.
  EXPECT_EQ(Json(*card),
            R"({"id":"d1","name":"Квартира \u003cA&B\u003e","stageId":"","responsibleId":"","clientId":"",)"
            R"("hasOpenTasks":false,"priority":"PRIORITY_UNSPECIFIED","tags":["vip"],"version":"3",)"
            R"("responsibleName":"","clientName":"","nextTaskId":"","nextTaskTitle":"","overdue":false,"typeCode":"",)"
            R"("nextTaskTime":"1970-01-01T00:00:00.005Z","createTime":"2023-11-14T22:13:20Z"})");
  EXPECT_EQ(Json(*card, false),
            R"({"id":"d1","name":"Квартира \u003cA&B\u003e","nextTaskTime":"1970-01-01T00:00:00.005Z",)"
            R"("tags":["vip"],"createTime":"2023-11-14T22:13:20Z","version":"3"})");
  EXPECT_TRUE(Direct(*card));
  EXPECT_TRUE(Same(*card));
}

TEST_F(JsonPrintTest, EveryCodePointEscapesLikeProtobuf) {
  std::unique_ptr<gpb::Message> leaf = env_.New("crm.testing.jsonprint.Leaf");
  const FD* name = leaf->GetDescriptor()->FindFieldByName("name");
  auto utf8 = [](uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  };
  std::string all;
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    utf8(cp, &all);
  }
  leaf->GetReflection()->SetString(leaf.get(), name, all);
  EXPECT_TRUE(Direct(*leaf));
  EXPECT_TRUE(Same(*leaf));
  // Spot checks of what protobuf 3.21 does.
  leaf->GetReflection()->SetString(leaf.get(), name, "\u2028<>&'\"\\/\x7f\u0085\U0001d173é\t");
  EXPECT_EQ(Json(*leaf, false),
            R"({"name":"\u2028\u003c\u003e&'\"\\/\u007f\u0085\ud834\udd73é\t"})");
}

TEST_F(JsonPrintTest, InvalidUtf8IsDroppedLikeProtobuf) {
  gpb::LogSilencer silence;
  std::unique_ptr<gpb::Message> leaf = env_.New("crm.testing.jsonprint.Leaf");
  const FD* name = leaf->GetDescriptor()->FindFieldByName("name");
  for (std::string bad : {"a\xff" "b", "a\xc3(b", "\xed\xa0\x80x", "x\xe2\x82", "\xf4\x90\x80\x80y", "\xc0\x80",
                          "\xc1\xbf", "\xc0\xa2", "\xc1\x81", "\x80\x80", "\xf8\x88\x80\x80\x80", "\xe0\x80\xbc",
                          "\xf0\x9f\x98", "\xf0\x9f\x98\x80\xff\xe2\x80\xa8", "\xe2\x80", "\xf7\xbf\xbf\xbf"}) {
    leaf->GetReflection()->SetString(leaf.get(), name, bad);
    EXPECT_TRUE(Same(*leaf)) << bad;
    EXPECT_TRUE(Direct(*leaf)) << bad;
  }
  EXPECT_EQ(Json(*leaf, false), R"({"name":""})");  // U+7FFFF... beyond U+10FFFF: dropped
}

TEST_F(JsonPrintTest, NumbersPrintLikeProtobuf) {
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
  const gpb::Descriptor* d = m->GetDescriptor();
  const gpb::Reflection* r = m->GetReflection();
  Filler filler(env_, 7);
  for (int i = 0; i < 3000; ++i) {
    m->Clear();
    r->SetDouble(m.get(), d->FindFieldByName("s_db"), filler.RandomDouble());
    r->SetFloat(m.get(), d->FindFieldByName("s_fl"), filler.RandomFloat());
    r->AddDouble(m.get(), d->FindFieldByName("r_db"), filler.RandomDouble());
    r->AddFloat(m.get(), d->FindFieldByName("r_fl"), filler.RandomFloat());
    ASSERT_TRUE(Same(*m)) << i;
  }
  m->Clear();
  r->SetDouble(m.get(), d->FindFieldByName("s_db"), std::numeric_limits<double>::quiet_NaN());
  r->SetFloat(m.get(), d->FindFieldByName("s_fl"), -std::numeric_limits<float>::infinity());
  r->SetInt64(m.get(), d->FindFieldByName("s_i64"), std::numeric_limits<int64_t>::min());
  r->SetUInt64(m.get(), d->FindFieldByName("s_u64"), std::numeric_limits<uint64_t>::max());
  r->SetUInt32(m.get(), d->FindFieldByName("s_u32"), std::numeric_limits<uint32_t>::max());
  r->AddDouble(m.get(), d->FindFieldByName("r_db"), 0.1);
  r->AddDouble(m.get(), d->FindFieldByName("r_db"), 1e21);
  r->AddDouble(m.get(), d->FindFieldByName("r_db"), 9007199254740993.0);
  EXPECT_EQ(Json(*m, false),
            R"({"sI64":"-9223372036854775808","sU32":4294967295,"sU64":"18446744073709551615",)"
            R"("sFl":"-Infinity","sDb":"NaN","rDb":[0.1,1e+21,9007199254740992]})");
  EXPECT_TRUE(Same(*m));
}

TEST_F(JsonPrintTest, TimestampsAndDurationsAtAndBeyondTheirLimits) {
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
  const gpb::Descriptor* d = m->GetDescriptor();
  const gpb::Reflection* r = m->GetReflection();
  const int64_t seconds[] = {-62135596800LL, -62135596801LL, 253402300799LL, 253402300800LL, 0, -1, 1,
                             951782400 /* 2000-02-29 */, -2208988800LL /* 1900 */, 315576000000LL, 315576000001LL,
                             -315576000000LL, -315576000001LL, 4102444800LL};
  const int32_t nanos[] = {0, 1, 10, 1000, 1000000, 999999999, 123456789, -1, -999999999, 1000000000, -1000000000};
  for (int64_t s : seconds) {
    for (int32_t n : nanos) {
      for (const char* field : {"w_ts", "w_dur"}) {
        m->Clear();
        gpb::Message* t = r->MutableMessage(m.get(), d->FindFieldByName(field));
        t->GetReflection()->SetInt64(t, t->GetDescriptor()->FindFieldByNumber(1), s);
        t->GetReflection()->SetInt32(t, t->GetDescriptor()->FindFieldByNumber(2), n);
        r->SetString(m.get(), d->FindFieldByName("s_st"), "before");
        r->AddString(m.get(), d->FindFieldByName("r_st"), "after");
        ASSERT_TRUE(Same(*m)) << field << " " << s << " " << n;
      }
    }
  }
  // Random instants over the whole range.
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) {
    m->Clear();
    gpb::Message* t = r->MutableMessage(m.get(), d->FindFieldByName("w_ts"));
    t->GetReflection()->SetInt64(t, t->GetDescriptor()->FindFieldByNumber(1),
                                 std::uniform_int_distribution<int64_t>(-62135596800LL, 253402300799LL)(rng));
    t->GetReflection()->SetInt32(t, t->GetDescriptor()->FindFieldByNumber(2),
                                 std::uniform_int_distribution<int32_t>(0, 999999999)(rng));
    ASSERT_TRUE(Same(*m)) << t->ShortDebugString();
  }
}

TEST_F(JsonPrintTest, FieldMasksConvertPathsLikeProtobuf) {
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
  const FD* mask_field = m->GetDescriptor()->FindFieldByName("w_mask");
  const std::vector<std::vector<std::string>> cases = {
      {"foo_bar", "a.b_c"}, {"", "a"}, {"a", ""}, {"x.\"quoted_key.y\".z_w"}, {"FooBar", "HTTPServer", "aBC"},
      {"_lead", "trail_", "a__b"}, {"(ext.some_name).sub_field"}, {"x.\"unterminated_quote"}, {}};
  for (const auto& paths : cases) {
    m->Clear();
    gpb::Message* mask = m->GetReflection()->MutableMessage(m.get(), mask_field);
    for (const std::string& p : paths) {
      mask->GetReflection()->AddString(mask, mask->GetDescriptor()->FindFieldByNumber(1), p);
    }
    EXPECT_TRUE(Same(*m)) << mask->ShortDebugString();
    EXPECT_TRUE(Direct(*m));
  }
}

// Packs `inner` into the Any `any` under `url` (default: its type's URL).
void Pack(const gpb::Message& inner, gpb::Message* any, std::string url = "") {
  if (url.empty()) url = "type.googleapis.com/" + inner.GetDescriptor()->full_name();
  const gpb::Descriptor* d = any->GetDescriptor();
  any->GetReflection()->SetString(any, d->FindFieldByNumber(1), url);
  any->GetReflection()->SetString(any, d->FindFieldByNumber(2), inner.SerializeAsString());
}

TEST_F(JsonPrintTest, AnyResolvesInTheMessagesPoolOrFallsBack) {
  gpb::LogSilencer silence;
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
  const gpb::Descriptor* d = m->GetDescriptor();
  const gpb::Reflection* r = m->GetReflection();
  const FD* any_field = d->FindFieldByName("w_any");
  auto any = [&] {
    m->Clear();
    return r->MutableMessage(m.get(), any_field);
  };
  std::unique_ptr<gpb::Message> leaf = env_.New("crm.testing.jsonprint.Leaf");
  leaf->GetReflection()->SetString(leaf.get(), leaf->GetDescriptor()->FindFieldByName("name"), "x");
  leaf->GetReflection()->SetInt64(leaf.get(), leaf->GetDescriptor()->FindFieldByName("n"), 5);

  Pack(*leaf, any());
  EXPECT_TRUE(Direct(*m));
  EXPECT_TRUE(Same(*m));
  EXPECT_THAT(Json(*m), ::testing::HasSubstr(
                            R"("wAny":{"@type":"type.googleapis.com/crm.testing.jsonprint.Leaf","n":"5","name":"x",)"
                            R"("color":"COLOR_UNSPECIFIED"})"));
  // Empty; a type URL alone; a value without type URL; a foreign URL prefix; an unknown type.
  const FD* url_field = any_field->message_type()->FindFieldByNumber(1);
  const FD* value_field = any_field->message_type()->FindFieldByNumber(2);
  any();
  EXPECT_TRUE(Same(*m));
  gpb::Message* a = any();
  a->GetReflection()->SetString(a, url_field, "whatever/x.Y");
  EXPECT_TRUE(Same(*m));
  EXPECT_TRUE(Direct(*m));
  a = any();
  a->GetReflection()->SetString(a, value_field, leaf->SerializeAsString());
  EXPECT_TRUE(Same(*m));
  Pack(*leaf, any(), "type.example.com/crm.testing.jsonprint.Leaf");
  EXPECT_TRUE(Same(*m));
  EXPECT_FALSE(Direct(*m));
  Pack(*leaf, any(), "type.googleapis.com/crm.testing.jsonprint.Nope");
  EXPECT_TRUE(Same(*m));
  // Well-known types inside: rendered under "value" (FieldMask and ListValue with protobuf's extra list).
  std::unique_ptr<gpb::Message> mask = env_.New("google.protobuf.FieldMask");
  mask->GetReflection()->AddString(mask.get(), mask->GetDescriptor()->field(0), "a.b_c");
  Pack(*mask, any());
  EXPECT_THAT(Json(*m), ::testing::HasSubstr(
                            R"("wAny":{"@type":"type.googleapis.com/google.protobuf.FieldMask","paths":[],"value":"a.bC"})"));
  EXPECT_THAT(Json(*m, false),
              ::testing::HasSubstr(R"("wAny":{"@type":"type.googleapis.com/google.protobuf.FieldMask","value":"a.bC"})"));
  EXPECT_TRUE(Direct(*m));
  EXPECT_TRUE(Same(*m));
  std::unique_ptr<gpb::Message> inner;
  for (const char* type : {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
                           "google.protobuf.ListValue", "google.protobuf.Struct", "google.protobuf.Value",
                           "google.protobuf.Int64Value", "google.protobuf.StringValue", "google.protobuf.BytesValue",
                           "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Empty",
                           "google.protobuf.Any", "crm.testing.jsonprint.OnlyOneof", "crm.testing.jsonprint.Everything"}) {
    Filler filler(env_, 11);
    for (int i = 0; i < 40; ++i) {
      inner = env_.New(type);
      filler.Fill(inner.get(), 1);
      Pack(*inner, any());
      ASSERT_TRUE(Same(*m)) << type << " " << inner->ShortDebugString();
      // ...also as a list element and a map value.
      m->Clear();
      Pack(*inner, r->AddMessage(m.get(), d->FindFieldByName("rw_any")));
      gpb::Message* entry = r->AddMessage(m.get(), d->FindFieldByName("many"));
      Pack(*inner, entry->GetReflection()->MutableMessage(entry, entry->GetDescriptor()->map_value()));
      ASSERT_TRUE(Same(*m)) << type << " " << inner->ShortDebugString();
    }
  }
  // Bytes that are not the canonical serialization (fields out of order): protobuf prints them in their
  // order, so PrintJson leaves them to it.
  a = any();
  a->GetReflection()->SetString(a, url_field, "type.googleapis.com/crm.testing.jsonprint.Leaf");
  a->GetReflection()->SetString(a, value_field, std::string("\x10\x05\x0a\x01x", 5));
  EXPECT_TRUE(Same(*m));
  EXPECT_FALSE(Direct(*m));
}

TEST_F(JsonPrintTest, MapsPrintInSerializationOrderNotSorted) {
  // protobuf 3.21 does not sort map entries: MessageToJsonString prints them as the message serializes
  // them, which for a message parsed from the wire is the wire order.
  std::unique_ptr<gpb::Message> e = env_.New("crm.testing.jsonprint.Everything");
  const FD* mint = e->GetDescriptor()->FindFieldByName("mint");
  const FD* mstring = e->GetDescriptor()->FindFieldByName("mstring");
  for (int key : {3, -1, 2}) {
    gpb::Message* entry = e->GetReflection()->AddMessage(e.get(), mint);
    entry->GetReflection()->SetInt32(entry, entry->GetDescriptor()->map_key(), key);
  }
  for (const char* key : {"b", "a", "c"}) {
    gpb::Message* entry = e->GetReflection()->AddMessage(e.get(), mstring);
    entry->GetReflection()->SetString(entry, entry->GetDescriptor()->map_key(), key);
  }
  std::unique_ptr<gpb::Message> wire = env_.New(e->GetDescriptor());
  ASSERT_TRUE(wire->ParseFromString(e->SerializeAsString()));
  EXPECT_EQ(Json(*wire, false), R"({"mstring":{"b":"","a":"","c":""},"mint":{"3":{},"-1":{},"2":{}}})");
  EXPECT_TRUE(Same(*wire));
  EXPECT_TRUE(Direct(*wire));
}

TEST_F(JsonPrintTest, RepeatedMapKeysFromTheWire) {
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
  const gpb::Descriptor* d = m->GetDescriptor();
  const gpb::Reflection* r = m->GetReflection();
  for (const char* field : {"mstring", "mchild", "mvalue"}) {
    m->Clear();
    for (const char* key : {"b", "a", "b"}) {
      gpb::Message* e = r->AddMessage(m.get(), d->FindFieldByName(field));
      e->GetReflection()->SetString(e, e->GetDescriptor()->map_key(), key);
      const FD* vf = e->GetDescriptor()->map_value();
      if (vf->cpp_type() == FD::CPPTYPE_STRING) {
        e->GetReflection()->SetString(e, vf, key);
      } else if (vf->message_type()->full_name() == "google.protobuf.Value") {
        gpb::Message* v = e->GetReflection()->MutableMessage(e, vf);
        v->GetReflection()->SetString(v, v->GetDescriptor()->FindFieldByNumber(3), key);
      }
    }
    std::unique_ptr<gpb::Message> wire = env_.New(d);
    ASSERT_TRUE(wire->ParseFromString(m->SerializeAsString()));
    EXPECT_TRUE(Same(*m)) << field;
    EXPECT_TRUE(Same(*wire)) << field;
  }
  // Inside a Struct, protobuf's tree merges repeated keys: left to protobuf.
  m->Clear();
  gpb::Message* s = r->MutableMessage(m.get(), d->FindFieldByName("w_struct"));
  for (const char* key : {"k", "k"}) {
    gpb::Message* e = s->GetReflection()->AddMessage(s, s->GetDescriptor()->FindFieldByNumber(1));
    e->GetReflection()->SetString(e, e->GetDescriptor()->map_key(), key);
    gpb::Message* v = e->GetReflection()->MutableMessage(e, e->GetDescriptor()->map_value());
    v->GetReflection()->SetBool(v, v->GetDescriptor()->FindFieldByNumber(4), true);
  }
  EXPECT_TRUE(Same(*m));
}

TEST_F(JsonPrintTest, UnknownFields) {
  gpb::LogSilencer silence;
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Leaf");
  // name="x", unknown field 99 (varint), field 2 (int64 n) sent as a string: unknown under a known number.
  for (std::string bytes : {std::string("\x0a\x01x\x98\x06\x07", 6), std::string("\x0a\x01x\x12\x01y", 6),
                            std::string("\x0a\x01x\xfa\x06\x02hi", 8)}) {
    ASSERT_TRUE(m->ParseFromString(bytes));
    EXPECT_TRUE(Same(*m));
  }
  // Unknown fields inside a well-known type.
  std::unique_ptr<gpb::Message> e = env_.New("crm.testing.jsonprint.Everything");
  gpb::Message* ts = e->GetReflection()->MutableMessage(e.get(), e->GetDescriptor()->FindFieldByName("w_ts"));
  ASSERT_TRUE(ts->ParseFromString(std::string("\x08\x01\x18\x05", 4)));
  EXPECT_TRUE(Same(*e));
  gpb::Message* iv = e->GetReflection()->MutableMessage(e.get(), e->GetDescriptor()->FindFieldByName("w_iv"));
  ASSERT_TRUE(iv->ParseFromString(std::string("\x08\x01\x18\x05", 4)));
  EXPECT_TRUE(Same(*e));
}

TEST_F(JsonPrintTest, NestingAtProtobufsDepthLimit) {
  for (int depth : {1, 30, 62, 63, 64, 65, 66, 80}) {
    std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
    gpb::Message* cur = m.get();
    for (int i = 0; i < depth; ++i) {
      cur = cur->GetReflection()->MutableMessage(cur, cur->GetDescriptor()->FindFieldByName("child"));
    }
    cur->GetReflection()->SetInt32(cur, cur->GetDescriptor()->FindFieldByName("s_i32"), depth);
    EXPECT_TRUE(Same(*m)) << depth;
  }
}

TEST_F(JsonPrintTest, NullValueFields) {
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
  const gpb::Descriptor* d = m->GetDescriptor();
  const gpb::Reflection* r = m->GetReflection();
  EXPECT_THAT(Json(*m), ::testing::HasSubstr(R"("nullValue":"NULL_VALUE")"));
  r->SetEnumValue(m.get(), d->FindFieldByName("null_value"), 3);
  r->AddEnumValue(m.get(), d->FindFieldByName("r_null"), 0);
  r->SetEnumValue(m.get(), d->FindFieldByName("o_null"), 0);
  r->SetEnumValue(m.get(), d->FindFieldByName("opt_null"), 0);
  EXPECT_TRUE(Same(*m));
  EXPECT_TRUE(Direct(*m));
  EXPECT_EQ(Json(*m, false), R"({"nullValue":null,"rNull":[null],"oNull":null,"optNull":null})");
}

TEST_F(JsonPrintTest, WhatIsLeftToProtobuf) {
  gpb::LogSilencer silence;
  // A well-known type at the root (protobuf renders a FloatValue root as a bool here); a proto2 type;
  // other options.
  std::unique_ptr<gpb::Message> f = env_.New("google.protobuf.FloatValue");
  f->GetReflection()->SetFloat(f.get(), f->GetDescriptor()->field(0), 2.5f);
  EXPECT_TRUE(Same(*f));
  EXPECT_EQ(Json(*f), "true");
  std::unique_ptr<gpb::Message> ts = env_.New("google.protobuf.Timestamp");
  EXPECT_TRUE(Same(*ts));
  std::unique_ptr<gpb::Message> proto2 = env_.New("google.protobuf.FileDescriptorProto");
  proto2->GetReflection()->SetString(proto2.get(), proto2->GetDescriptor()->FindFieldByName("name"), "a.proto");
  EXPECT_TRUE(Same(*proto2));
  EXPECT_FALSE(Direct(*proto2));
  std::unique_ptr<gpb::Message> leaf = env_.New("crm.testing.jsonprint.Leaf");
  gpb::util::JsonPrintOptions pretty = JsonOutputOptions();
  pretty.add_whitespace = true;
  std::string want, got;
  ASSERT_TRUE(gpb::util::MessageToJsonString(*leaf, &want, pretty).ok());
  ASSERT_TRUE(PrintJson(*leaf, pretty, &got).ok());
  EXPECT_EQ(got, want);
  // An error keeps protobuf's status; output left behind is protobuf's too.
  std::unique_ptr<gpb::Message> m = env_.New("crm.testing.jsonprint.Everything");
  gpb::Message* t = m->GetReflection()->MutableMessage(m.get(), m->GetDescriptor()->FindFieldByName("w_ts"));
  t->GetReflection()->SetInt64(t, t->GetDescriptor()->FindFieldByNumber(1), 253402300800LL);
  std::string out = "x";
  absl::Status s = PrintJson(*m, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("Timestamp seconds exceeds limit"));
  EXPECT_TRUE(Same(*m));
}

TEST_F(JsonPrintTest, GeneratedMessagesToo) {
  google::api::HttpRule rule;
  rule.set_selector("a.B");
  rule.set_post("/v1/{name=things/*}:do");
  rule.set_body("*");
  rule.add_additional_bindings()->set_get("/v1/x");
  EXPECT_TRUE(Direct(rule));
  EXPECT_TRUE(Same(rule));
  gpb::Type type;
  type.set_name("t");
  gpb::Option* option = type.add_options();
  option->set_name("o");
  gpb::StringValue sv;
  sv.set_value("v<");
  option->mutable_value()->PackFrom(sv);
  type.add_fields()->set_json_name("jn");
  EXPECT_TRUE(Direct(type));
  EXPECT_TRUE(Same(type));
}

// ---------------------------------------------------------------------------------------------------
// The figure: a ListDealsResponse of 60 filled cards, as the gateway has it (parsed from the wire).

TEST_F(JsonPrintTest, TimingOfA60CardDealList) {
  std::unique_ptr<gpb::Message> built = env_.New("crm.deals.v1.ListDealsResponse");
  const gpb::Descriptor* d = built->GetDescriptor();
  const FD* deals = d->FindFieldByName("deals");
  for (int i = 0; i < 60; ++i) {
    gpb::Message* card = built->GetReflection()->AddMessage(built.get(), deals);
    const gpb::Descriptor* cd = card->GetDescriptor();
    const gpb::Reflection* r = card->GetReflection();
    r->SetString(card, cd->FindFieldByName("id"), absl::StrCat("0190f0e2-7c1a-7000-8000-0000000", 10000 + i));
    r->SetString(card, cd->FindFieldByName("name"), absl::StrCat("Квартира на Тверской, ", i, " м²"));
    r->SetString(card, cd->FindFieldByName("stage_id"), "0190f0e2-7c1a-7000-8000-000000000101");
    r->SetString(card, cd->FindFieldByName("responsible_id"), "0190f0e2-7c1a-7000-8000-000000000201");
    r->SetString(card, cd->FindFieldByName("client_id"), absl::StrCat("0190f0e2-7c1a-7000-8000-0000000", 20000 + i));
    gpb::Message* amount = r->MutableMessage(card, cd->FindFieldByName("amount"));
    amount->GetReflection()->SetInt64(amount, amount->GetDescriptor()->FindFieldByName("amount_minor"),
                                      1500000000LL + i * 1000);
    amount->GetReflection()->SetString(amount, amount->GetDescriptor()->FindFieldByName("currency"), "RUB");
    for (const char* ts_field : {"next_task_time", "create_time"}) {
      gpb::Message* ts = r->MutableMessage(card, cd->FindFieldByName(ts_field));
      ts->GetReflection()->SetInt64(ts, ts->GetDescriptor()->FindFieldByNumber(1), 1718000000 + i * 3600);
      ts->GetReflection()->SetInt32(ts, ts->GetDescriptor()->FindFieldByNumber(2), 123000000);
    }
    r->SetBool(card, cd->FindFieldByName("has_open_tasks"), i % 2 == 0);
    r->SetEnumValue(card, cd->FindFieldByName("priority"), 1 + i % 3);
    r->AddString(card, cd->FindFieldByName("tags"), "ипотека");
    r->AddString(card, cd->FindFieldByName("tags"), "vip");
    r->SetInt64(card, cd->FindFieldByName("version"), 7 + i);
  }
  built->GetReflection()->SetString(built.get(), d->FindFieldByName("next_page_token"), "eyJvZmZzZXQiOjYwfQ");
  std::unique_ptr<gpb::Message> m = env_.New(d);
  ASSERT_TRUE(m->ParseFromString(built->SerializeAsString()));
  ASSERT_TRUE(Direct(*m));
  ASSERT_TRUE(Same(*m));

  // CPU time of this thread (the machine may be busy with other work), in microseconds per call.
  auto time_us = [](int iterations, const std::function<void()>& f) {
    auto cpu_us = [] {
      timespec t;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
      return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
    };
    f();  // warm up
    const double start = cpu_us();
    for (int i = 0; i < iterations; ++i) f();
    return (cpu_us() - start) / iterations;
  };
  for (bool defaults : {true, false}) {
    const gpb::util::JsonPrintOptions opts = Options(defaults);
    size_t bytes = 0;
    const double old_us = time_us(300, [&] {
      std::string out;
      (void)gpb::util::MessageToJsonString(*m, &out, opts);
      bytes = out.size();
    });
    const double new_us = time_us(3000, [&] {
      std::string out;
      (void)PrintJson(*m, opts, &out);
    });
    std::printf("ListDealsResponse, 60 cards, %zu bytes of JSON, always_print_primitive_fields=%d, CPU per call: "
                "MessageToJsonString %.1f us, PrintJson %.1f us (%.1fx)\n",
                bytes, defaults, old_us, new_us, old_us / new_us);
  }
}

}  // namespace
}  // namespace crm::gateway
