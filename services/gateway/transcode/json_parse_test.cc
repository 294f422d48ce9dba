// ParseJsonMessage() gives exactly what protobuf 3.21's JsonStringToMessage() gives - the same message
// and the same status - with the gateway's options (JsonInputOptions()). Differential: every message type
// of the suite's API descriptor set (build/proto/crm_api.pb) plus a synthetic type with every field kind
// is filled at random (seeded, json_testing.h), printed by MessageToJsonString in several option sets
// (lowerCamel or proto names, enums as names or numbers, defaults or not), mutated byte by byte, and
// parsed by both. Hand-written cases pin the edges; the last test times both parsers on a 10 000-unit
// ImportInventoryRequest (printed, not asserted).
#include "services/gateway/transcode/json_parse.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"
#include "services/gateway/transcode/json_policy.h"
#include "services/gateway/transcode/json_testing.h"

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;
using json_parse_internal::ParseJsonWithoutFallback;
using json_testing::Env;
using json_testing::Filler;
using json_testing::GetEnv;

struct Stats {
  int compared = 0;
  int direct = 0;     // read by the direct parser, no fallback
  int refused = 0;    // refused by protobuf (then also by ParseJsonMessage, with protobuf's words)
};

class JsonParseTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(env_.error, ""); }

  // Parses `json` as `d` both ways; false (with a message) on any difference.
  bool Same(const gpb::Descriptor* d, const std::string& json, Stats* stats = nullptr) {
    std::unique_ptr<gpb::Message> want = env_.New(d), got = env_.New(d), direct = env_.New(d);
    absl::Status ws = FromProtobufStatus(gpb::util::JsonStringToMessage(json, want.get(), JsonInputOptions()));
    absl::Status gs = ParseJsonMessage(json, got.get());
    absl::Status ds = ParseJsonWithoutFallback(json, direct.get());
    if (stats != nullptr) {
      ++stats->compared;
      stats->direct += ds.ok();
      stats->refused += !ws.ok();
    }
    bool same = ws.code() == gs.code() && ws.message() == gs.message() && (!ws.ok() || Bytes(*want) == Bytes(*got));
    if (ds.ok()) {  // the direct parser read it: protobuf must have accepted the very same message
      same = same && ws.ok() && Bytes(*want) == Bytes(*direct);
    } else if (ds.code() != absl::StatusCode::kUnimplemented) {
      same = false;
    }
    EXPECT_TRUE(same) << d->full_name() << " " << json << "\n protobuf: " << ws << " " << want->ShortDebugString()
                      << "\n ParseJsonMessage: " << gs << " " << got->ShortDebugString()
                      << "\n direct: " << ds << " " << direct->ShortDebugString();
    return same;
  }

  // The message's bytes, maps sorted by key (NaN-safe, unlike MessageDifferencer).
  static std::string Bytes(const gpb::Message& m) {
    std::string out;
    gpb::io::StringOutputStream stream(&out);
    gpb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
    coded.Trim();
    return out;
  }

  bool Direct(const gpb::Descriptor* d, const std::string& json) {
    std::unique_ptr<gpb::Message> m = env_.New(d);
    return ParseJsonWithoutFallback(json, m.get()).ok();
  }

  const Env& env_ = GetEnv();
};

bool HoldsAny(const gpb::FieldDescriptor* f) {
  if (f->cpp_type() != gpb::FieldDescriptor::CPPTYPE_MESSAGE) return false;
  const gpb::Descriptor* t = f->is_map() ? f->message_type()->map_value()->message_type() : f->message_type();
  return t != nullptr && (t->well_known_type() == gpb::Descriptor::WELLKNOWNTYPE_ANY ||
                          t->well_known_type() == gpb::Descriptor::WELLKNOWNTYPE_FIELDMASK);
}

// Keeps the last entry per key in every map of `m` (the filler repeats keys; protobuf refuses a JSON
// object that repeats one), so that the random texts are mostly valid; with `drop_any`, also clears
// every Any and FieldMask (the filler's masks have quoted keys and empty paths: the direct parser leaves
// both to protobuf).
void DropRepeatedMapKeys(gpb::Message* m, bool drop_any = false) {
  const gpb::Reflection* r = m->GetReflection();
  std::vector<const gpb::FieldDescriptor*> fields;
  r->ListFields(*m, &fields);
  for (const gpb::FieldDescriptor* f : fields) {
    if (f->cpp_type() != gpb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (drop_any && HoldsAny(f)) {
      r->ClearField(m, f);
      continue;
    }
    if (!f->is_repeated()) {
      DropRepeatedMapKeys(r->MutableMessage(m, f), drop_any);
      continue;
    }
    std::vector<std::unique_ptr<gpb::Message>> kept;
    std::vector<std::string> keys;
    for (int i = 0; i < r->FieldSize(*m, f); ++i) {
      std::unique_ptr<gpb::Message> e(r->GetRepeatedMessage(*m, f, i).New());
      e->CopyFrom(r->GetRepeatedMessage(*m, f, i));
      DropRepeatedMapKeys(e.get(), drop_any);
      if (f->is_map()) {
        std::string key;
        gpb::TextFormat::PrintFieldValueToString(*e, f->message_type()->map_key(), -1, &key);
        auto at = std::find(keys.begin(), keys.end(), key);
        if (at != keys.end()) {
          kept[static_cast<size_t>(at - keys.begin())] = std::move(e);
          continue;
        }
        keys.push_back(key);
      }
      kept.push_back(std::move(e));
    }
    r->ClearField(m, f);
    for (auto& e : kept) r->AddMessage(m, f)->CopyFrom(*e);
  }
}

std::vector<gpb::util::JsonPrintOptions> PrintOptionSets() {
  std::vector<gpb::util::JsonPrintOptions> out;
  for (int i = 0; i < 4; ++i) {
    gpb::util::JsonPrintOptions o = JsonOutputOptions();
    o.always_print_primitive_fields = i % 2 == 0;
    o.preserve_proto_field_names = i >= 2;
    o.always_print_enums_as_ints = i == 1 || i == 2;
    o.add_whitespace = i == 3;
    out.push_back(o);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Randomized: every type of the API, and the synthetic one many times; then mutated texts.

TEST_F(JsonParseTest, RandomMessagesOfEveryApiTypeParseLikeJsonStringToMessage) {
  gpb::LogSilencer silence;
  Filler filler(env_, 20261207);
  const std::vector<gpb::util::JsonPrintOptions> options = PrintOptionSets();
  int failures = 0;
  auto run = [&](const gpb::Descriptor* d, int n, Stats* stats) {
    for (int i = 0; i < n && failures < 10; ++i) {
      std::unique_ptr<gpb::Message> m = env_.New(d);
      filler.Fill(m.get(), 0);
      if (!m->IsInitialized()) continue;  // proto2 (descriptor.proto): protobuf would not even print it
      DropRepeatedMapKeys(m.get(), i % 2 == 1);
      std::string json;
      if (!gpb::util::MessageToJsonString(*m, &json, options[i % options.size()]).ok()) continue;
      if (!Same(d, json, stats)) ++failures;
    }
  };
  Stats api, synthetic;
  for (const gpb::Descriptor* d : env_.api_types) run(d, 40, &api);
  run(env_.pool.FindMessageTypeByName("crm.testing.jsonprint.Everything"), 2000, &synthetic);
  std::printf("API types: compared %d texts (%d read directly, %d refused by protobuf)\n"
              "synthetic: compared %d texts (%d read directly, %d refused by protobuf)\n",
              api.compared, api.direct, api.refused, synthetic.compared, synthetic.direct, synthetic.refused);
  EXPECT_EQ(failures, 0);
  EXPECT_GT(api.compared + synthetic.compared, 12000);
  // The fallback is for rare forms: Any, a well-known type at the root, proto2 types; half the synthetic
  // texts keep their Any values and odd FieldMasks.
  EXPECT_GT(api.direct, api.compared * 8 / 10);
  EXPECT_GT(synthetic.direct, 100);  // the synthetic type nests Any, masks and children deeply: most go to protobuf
}

TEST_F(JsonParseTest, MutatedTextsParseLikeJsonStringToMessage) {
  gpb::LogSilencer silence;
  Filler filler(env_, 7);
  std::mt19937_64 rng(17);
  const std::vector<gpb::util::JsonPrintOptions> options = PrintOptionSets();
  static const std::string kBytes = "{}[]\",:0123456789-+.eE \\utrfnaslNI_xyzAZ=/";
  Stats stats;
  int failures = 0;
  auto mutate = [&](std::string s) {
    for (int k = static_cast<int>(rng() % 3) + 1; k > 0 && !s.empty(); --k) {
      size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0: s.erase(at, 1 + rng() % 3); break;
        case 1: s.insert(at, 1, kBytes[rng() % kBytes.size()]); break;
        case 2: s[at] = kBytes[rng() % kBytes.size()]; break;
        default: {  // repeat a piece (duplicate keys, elements)
          size_t len = std::min<size_t>(s.size() - at, 1 + rng() % 24);
          s.insert(at, s.substr(at, len));
        }
      }
    }
    return s;
  };
  std::vector<const gpb::Descriptor*> types = env_.api_types;
  types.push_back(env_.pool.FindMessageTypeByName("crm.testing.jsonprint.Everything"));
  for (int i = 0; i < 30000 && failures < 10; ++i) {
    const gpb::Descriptor* d = types[rng() % types.size()];
    std::unique_ptr<gpb::Message> m = env_.New(d);
    filler.Fill(m.get(), 0);
    if (!m->IsInitialized()) continue;
    DropRepeatedMapKeys(m.get());
    std::string json;
    if (!gpb::util::MessageToJsonString(*m, &json, options[i % options.size()]).ok()) continue;
    if (!Same(d, mutate(json), &stats)) ++failures;
  }
  std::printf("mutated: compared %d texts (%d read directly, %d refused by protobuf)\n", stats.compared,
              stats.direct, stats.refused);
  EXPECT_EQ(failures, 0);
  EXPECT_GT(stats.direct, 1000);
  EXPECT_GT(stats.refused, 1000);
}

// ---------------------------------------------------------------------------------------------------
// Hand-written cases, on the synthetic type (json_testing.h) unless said.

class EdgeTest : public JsonParseTest {
 protected:
  const gpb::Descriptor* everything_ = env_.pool.FindMessageTypeByName("crm.testing.jsonprint.Everything");
  bool Check(const std::string& json) { return Same(everything_, json); }
};

TEST_F(EdgeTest, NamesInLowerCamelOrAsDeclared) {
  for (const char* json : {R"({"sI64":"5"})", R"({"s_i64":"5"})", R"({"sI64":"5","s_i64":"6"})",
                           R"({"si64":"5"})", R"({"S_I64":"5"})", R"({"\u0073I64":"5"})"}) {
    EXPECT_TRUE(Check(json)) << json;
  }
  EXPECT_TRUE(Direct(everything_, R"({"s_i64":"5"})"));
}

TEST_F(EdgeTest, IntegersAsNumbersOrStringsWithinTheirRange) {
  for (const char* json :
       {R"({"sI32":2147483647})", R"({"sI32":2147483648})", R"({"sI32":"-2147483648"})", R"({"sI32":-0})",
        R"({"sI32":"-0"})", R"({"sI32":1.0})", R"({"sI32":1e2})", R"({"sI32":"1e2"})", R"({"sI32":" 1"})",
        R"({"sI32":"01"})", R"({"sI32":01})", R"({"sI32":+1})", R"({"sI64":9223372036854775807})",
        R"({"sI64":"-9223372036854775808"})", R"({"sI64":9223372036854775808})",
        R"({"sU64":"18446744073709551615"})", R"({"sU64":18446744073709551616})", R"({"sU32":-1})",
        R"({"sU32":"-0"})", R"({"sS64":"-5"})", R"({"sF64":"7"})", R"({"sSf32":-3})",
        R"({"sI32":true})", R"({"sI32":"x"})"}) {
    EXPECT_TRUE(Check(json)) << json;
  }
  EXPECT_TRUE(Direct(everything_, R"({"sI64":12,"sU64":"18446744073709551615","sI32":"-7"})"));
}

TEST_F(EdgeTest, FloatingPointNumbersAndTheirNames) {
  for (const char* json :
       {R"({"sDb":1.5})", R"({"sDb":"1.5"})", R"({"sDb":-0})", R"({"sDb":-0.0})", R"({"sDb":"-0"})",
        R"({"sDb":1e308})", R"({"sDb":1e309})", R"({"sDb":"NaN"})", R"({"sDb":"-Infinity"})",
        R"({"sDb":"nan"})", R"({"sDb":4.9e-324})", R"({"sDb":1e-400})",
        R"({"sDb":18446744073709551616})", R"({"sDb":9007199254740993})", R"({"sFl":3.4028235e38})",
        R"({"sFl":3.5e38})", R"({"sFl":16777217})", R"({"sFl":0.1})", R"({"sFl":"Infinity"})",
        R"({"sFl":1e-50})"}) {
    EXPECT_TRUE(Check(json)) << json;
  }
}

TEST_F(EdgeTest, BoolsStringsAndBytes) {
  for (const char* json :
       {R"({"sBo":true})", R"({"sBo":"true"})", R"({"sBo":1})", R"({"sSt":"\u00e9\ud83d\ude00\n\"\/"})",
        R"({"sSt":"\ud83d"})", R"({"sSt":"\udc00x"})", R"({"sSt":"a\u0000b"})", "{\"sSt\":\"\xff\"}",
        "{\"sSt\":\"tab\there\"}", R"({"sSt":5})", R"({"sBy":"AQID"})", R"({"sBy":"AQI="})",
        R"({"sBy":"AQI"})", R"({"sBy":"-_8="})", R"({"sBy":"+/8="})", R"({"sBy":"AQJ="})",
        R"({"sBy":"A"})", R"({"sBy":"AQ=="})", R"({"sBy":"AQ="})", R"({"sBy":"A Q=="})"}) {
    EXPECT_TRUE(Check(json)) << json;
  }
}

TEST_F(EdgeTest, EnumsByNameOrNumber) {
  const gpb::FieldDescriptor* f = everything_->FindFieldByName("color");
  ASSERT_NE(f, nullptr);
  const std::string first = f->enum_type()->value(f->enum_type()->value_count() - 1)->name();
  for (const std::string& json :
       {absl::StrCat(R"({"color":")", first, R"("})"), std::string(R"({"color":1})"), std::string(R"({"color":77})"),
        std::string(R"({"color":"1"})"), std::string(R"({"color":"no_such"})"), std::string(R"({"color":1.5})")}) {
    EXPECT_TRUE(Check(json)) << json;
  }
}

TEST_F(EdgeTest, NullsDuplicatesAndOneofsAreProtobufs) {
  for (const char* json :
       {R"({"sI32":null})", R"({"sI32":1,"sI32":2})", R"({"rI32":[1,null]})", R"({"rI32":null})",
        R"({"sI32":1} )", R"( {"sI32":1}x)", R"({"sI32":1,})", R"({,})", R"([])", R"("x")", R"({"noSuch":1})",
        R"({"sI32":1}{})"}) {
    EXPECT_TRUE(Check(json)) << json;
  }
  for (int i = 0; i < everything_->real_oneof_decl_count(); ++i) {
    const gpb::OneofDescriptor* o = everything_->oneof_decl(i);
    if (o->field_count() < 2) continue;
    // Two members of one oneof in a text: protobuf refuses it; so does ParseJsonMessage, with its words.
    EXPECT_TRUE(Check(absl::StrCat("{\"", o->field(0)->json_name(), "\":", o->field(0)->cpp_type() ==
                                   gpb::FieldDescriptor::CPPTYPE_MESSAGE ? "{}" : "\"1\"", ",\"",
                                   o->field(1)->json_name(), "\":", o->field(1)->cpp_type() ==
                                   gpb::FieldDescriptor::CPPTYPE_MESSAGE ? "{}" : "\"1\"", "}")));
  }
}

TEST_F(EdgeTest, MapsKeyedByStringsOfTheirKeyType) {
  for (const gpb::FieldDescriptor* f : {everything_->FindFieldByName("mint"),
                                        everything_->FindFieldByName("mbool"),
                                        everything_->FindFieldByName("mstring")}) {
    if (f == nullptr) continue;
    const std::string n = f->json_name();
    for (const std::string& body : {std::string("{}"), std::string(R"({"1":{}})"), std::string(R"({"true":"x"})"),
                                    std::string(R"({"k":5})"), std::string(R"({"-1":{},"2":{}})"),
                                    std::string(R"({"1":{},"1":{}})"), std::string(R"({"x":null})")}) {
      EXPECT_TRUE(Check(absl::StrCat("{\"", n, "\":", body, "}")));
    }
  }
}

TEST_F(JsonParseTest, WellKnownTypesAsProtobufMapsThem) {
  const gpb::Descriptor* d = env_.pool.FindMessageTypeByName("crm.testing.jsonprint.Everything");
  std::vector<std::string> texts;
  for (int i = 0; i < d->field_count(); ++i) {
    const gpb::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != gpb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_map()) continue;
    const std::string& t = f->message_type()->full_name();
    std::vector<std::string> values;
    if (t == "google.protobuf.Timestamp") {
      values = {R"("2026-12-07T10:00:00Z")", R"("2026-12-07T10:00:00.5+03:00")", R"("1970-01-01T00:00:00.000000001Z")",
                R"("0001-01-01T00:00:00Z")", R"("9999-12-31T23:59:59.999999999Z")", R"("2026-12-07 10:00:00Z")",
                R"("2026-13-07T10:00:00Z")", R"(5)", R"(null)"};
    } else if (t == "google.protobuf.Duration") {
      values = {R"("1.5s")", R"("-0.5s")", R"("0s")", R"("315576000000s")", R"("315576000001s")", R"("1.0000000001s")",
                R"("01s")", R"(".5s")", R"("1")", R"("+1s")", R"("1e3s")", R"("-315576000000.999999999s")"};
    } else if (t == "google.protobuf.FieldMask") {
      values = {R"("")", R"("displayName,amount.amountMinor")", R"("a,,b")", R"("a,")", R"(",a")", R"("fooBar_baz")",
                R"("HTTPServer.gBike")", R"("a.\"k\"")", "\"a(b)\"", R"("x y")"};
    } else if (t == "google.protobuf.Struct" || t == "google.protobuf.Value" || t == "google.protobuf.ListValue") {
      values = {R"({})", R"({"a":null,"b":[1,"x",true,{"c":-0}],"d":1e400})", R"([])", R"([null,2.5,"s"])",
                R"({"a":1,"a":2})", R"(null)", R"("s")", R"(18446744073709551616)", R"(-0)", R"(12345678901234567)"};
    } else if (f->message_type()->well_known_type() >= gpb::Descriptor::WELLKNOWNTYPE_DOUBLEVALUE &&
               f->message_type()->well_known_type() <= gpb::Descriptor::WELLKNOWNTYPE_BOOLVALUE) {
      values = {R"(0)", R"("1")", R"(true)", R"("")", R"(null)", R"({"value":1})", R"(1.5)", R"("AQ==")"};
    } else if (t == "google.protobuf.Any") {
      values = {R"({})", R"({"@type":"type.googleapis.com/google.protobuf.Duration","value":"1s"})"};
    }
    for (const std::string& v : values) {
      texts.push_back(absl::StrCat("{\"", f->json_name(), "\":", v, "}"));
      if (f->is_repeated()) texts.push_back(absl::StrCat("{\"", f->json_name(), "\":[", v, ",", v, "]}"));
    }
  }
  EXPECT_GT(texts.size(), 40u);
  for (const std::string& json : texts) EXPECT_TRUE(Same(d, json)) << json;
  // Roots that are themselves well-known types go to protobuf.
  const gpb::Descriptor* s = env_.pool.FindMessageTypeByName("google.protobuf.Struct");
  EXPECT_TRUE(Same(s, R"({"a":[1,{"b":null}]})"));
  EXPECT_FALSE(Direct(s, R"({"a":1})"));
}

TEST_F(JsonParseTest, RefusalsKeepProtobufsStatus) {
  const gpb::Descriptor* d = env_.pool.FindMessageTypeByName("crm.deals.v1.ImportInventoryRequest");
  ASSERT_NE(d, nullptr);
  // protobuf 3.21 also takes a trailing comma, and an object for a repeated field: so does ParseJsonMessage.
  EXPECT_TRUE(Same(d, R"({"units":[{"externalId":"u1"}],})"));
  EXPECT_TRUE(Same(d, R"({"units":{}})"));
  for (const char* json : {R"({"units":[{"externalId":"u1","noSuchField":1}]})", R"({"units":[{"rooms":"x"}]})",
                           R"({"units":[{"rooms":1}]]})", "{\"units\":[{\"externalId\":\"\xc3\"}]}"}) {
    EXPECT_TRUE(Same(d, json)) << json;
    std::unique_ptr<gpb::Message> m = env_.New(d);
    EXPECT_EQ(ParseJsonMessage(json, m.get()).code(), absl::StatusCode::kInvalidArgument) << json;
  }
}

// ---------------------------------------------------------------------------------------------------
// The figure: an ImportInventoryRequest of 10 000 units (as tools/crm bench realty sends), both parsers.

TEST_F(JsonParseTest, TimingOfA10000UnitImport) {
  const gpb::Descriptor* d = env_.pool.FindMessageTypeByName("crm.deals.v1.ImportInventoryRequest");
  ASSERT_NE(d, nullptr);
  // The request crm-realty-bench sends, printed the way it prints it (JsonOutputOptions()).
  std::string text;
  for (int i = 0; i < 10000; ++i) {
    absl::StrAppend(&text, "units { external_id: 'bench-u-g-", i, "' building_external_id: 'bench-b-g' section_number: ",
                    1 + i / 250, " floor: ", 1 + (i % 250) / 10, " position: ", 1 + i % 10, " number: '", i + 1,
                    "' kind: APARTMENT rooms: ", i % 4, " area_centi_m2: ", 3000 + 100 * (i % 50),
                    " price_per_m2 { amount_minor: ", 25000000 + 1000 * (i % 7),
                    " currency: 'RUB' } status: AVAILABLE right_holder: 'OOO SZ Bench' }");
  }
  std::unique_ptr<gpb::Message> built = env_.New(d);
  ASSERT_TRUE(gpb::TextFormat::ParseFromString(text, built.get()));
  std::string json;
  ASSERT_TRUE(gpb::util::MessageToJsonString(*built, &json, JsonOutputOptions()).ok());
  std::unique_ptr<gpb::Message> a = env_.New(d), b = env_.New(d);
  auto time = [&](auto&& parse) {
    auto start = std::chrono::steady_clock::now();
    absl::Status s = parse();
    EXPECT_TRUE(s.ok()) << s;
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  double protobuf_ms = 1e9, direct_ms = 1e9;
  for (int i = 0; i < 3; ++i) {
    protobuf_ms = std::min(protobuf_ms, time([&] {
      return FromProtobufStatus(gpb::util::JsonStringToMessage(json, a.get(), JsonInputOptions()));
    }));
    direct_ms = std::min(direct_ms, time([&] { return ParseJsonWithoutFallback(json, b.get()); }));
  }
  EXPECT_TRUE(gpb::util::MessageDifferencer::Equals(*a, *b));
  std::printf("10 000 units, %zu bytes of JSON: JsonStringToMessage %.1f ms, ParseJsonMessage %.1f ms (%.1fx)\n",
              json.size(), protobuf_ms, direct_ms, protobuf_ms / direct_ms);
}

}  // namespace
}  // namespace crm::gateway
