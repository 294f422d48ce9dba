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

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;
using FD = gpb::FieldDescriptor;
using FDP = gpb::FieldDescriptorProto;

constexpr char kPkg[] = "crm.testing.jsonprint";

// ---------------------------------------------------------------------------------------------------
// The pool: the API descriptor set, struct.proto and wrappers.proto (not imported by the APIs yet), and
// a synthetic file with every field kind, declared out of field-number order on purpose.

class MessageBuilder {
 public:
  MessageBuilder(gpb::FileDescriptorProto* file, std::string name) : file_(file) {
    d_ = file->add_message_type();
    d_->set_name(std::move(name));
  }
  FDP* Add(const std::string& name, int number, FDP::Type type, const std::string& type_name = "",
           bool repeated = false) {
    FDP* f = d_->add_field();
    f->set_name(name);
    f->set_number(number);
    f->set_type(type);
    f->set_label(repeated ? FDP::LABEL_REPEATED : FDP::LABEL_OPTIONAL);
    if (!type_name.empty()) f->set_type_name(type_name);
    return f;
  }
  FDP* AddMessage(const std::string& name, int number, const std::string& type_name, bool repeated = false) {
    return Add(name, number, FDP::TYPE_MESSAGE, type_name, repeated);
  }
  // map<key, value> `name` (a name without '_' or digits, so that its entry is "<Name>Entry").
  void AddMap(const std::string& name, int number, FDP::Type key, FDP::Type value,
              const std::string& value_type_name = "") {
    std::string entry_name = name + "Entry";
    entry_name[0] = static_cast<char>(std::toupper(entry_name[0]));
    gpb::DescriptorProto* entry = d_->add_nested_type();
    entry->set_name(entry_name);
    entry->mutable_options()->set_map_entry(true);
    FDP* k = entry->add_field();
    k->set_name("key");
    k->set_number(1);
    k->set_type(key);
    k->set_label(FDP::LABEL_OPTIONAL);
    FDP* v = entry->add_field();
    v->set_name("value");
    v->set_number(2);
    v->set_type(value);
    v->set_label(FDP::LABEL_OPTIONAL);
    if (!value_type_name.empty()) v->set_type_name(value_type_name);
    AddMessage(name, number, absl::StrCat(".", kPkg, ".", d_->name(), ".", entry_name), true);
  }
  int AddOneof(const std::string& name) {
    d_->add_oneof_decl()->set_name(name);
    return d_->oneof_decl_size() - 1;
  }
  // proto3 `optional`: a synthetic oneof (declared after the real ones).
  FDP* AddOptional(const std::string& name, int number, FDP::Type type, const std::string& type_name = "") {
    FDP* f = Add(name, number, type, type_name);
    f->set_proto3_optional(true);
    f->set_oneof_index(AddOneof("_" + name));
    return f;
  }

 private:
  gpb::FileDescriptorProto* file_;
  gpb::DescriptorProto* d_;
};

gpb::FileDescriptorProto SyntheticFile() {
  gpb::FileDescriptorProto file;
  file.set_name("crm/testing/v1/json_print_test.proto");
  file.set_package(kPkg);
  file.set_syntax("proto3");
  for (const char* dep : {"google/protobuf/any.proto", "google/protobuf/duration.proto",
                          "google/protobuf/empty.proto", "google/protobuf/field_mask.proto",
                          "google/protobuf/struct.proto", "google/protobuf/timestamp.proto",
                          "google/protobuf/wrappers.proto"}) {
    file.add_dependency(dep);
  }
  gpb::EnumDescriptorProto* color = file.add_enum_type();
  color->set_name("Color");
  color->mutable_options()->set_allow_alias(true);
  for (auto [name, number] : std::vector<std::pair<const char*, int>>{
           {"COLOR_UNSPECIFIED", 0}, {"COLOR_RED", 1}, {"COLOR_GREEN", 2}, {"COLOR_NEGATIVE", -3}, {"COLOR_SCARLET", 1}}) {
    gpb::EnumValueDescriptorProto* v = color->add_value();
    v->set_name(name);
    v->set_number(number);
  }
  const std::string kColor = absl::StrCat(".", kPkg, ".Color");
  const std::string kLeaf = absl::StrCat(".", kPkg, ".Leaf");
  const std::string kEverything = absl::StrCat(".", kPkg, ".Everything");

  MessageBuilder leaf(&file, "Leaf");
  leaf.Add("n", 2, FDP::TYPE_INT64);
  leaf.Add("name", 1, FDP::TYPE_STRING);
  leaf.Add("color", 3, FDP::TYPE_ENUM, kColor);

  MessageBuilder only_oneof(&file, "OnlyOneof");
  int k = only_oneof.AddOneof("kind");
  only_oneof.Add("a", 1, FDP::TYPE_INT32)->set_oneof_index(k);
  only_oneof.Add("b", 2, FDP::TYPE_STRING)->set_oneof_index(k);

  struct Wkt {
    const char* name;
    const char* type;
  };
  const std::vector<Wkt> wkts = {
      {"ts", ".google.protobuf.Timestamp"},   {"dur", ".google.protobuf.Duration"},
      {"dv", ".google.protobuf.DoubleValue"}, {"fv", ".google.protobuf.FloatValue"},
      {"iv", ".google.protobuf.Int64Value"},  {"uv", ".google.protobuf.UInt64Value"},
      {"ismall", ".google.protobuf.Int32Value"}, {"usmall", ".google.protobuf.UInt32Value"},
      {"bv", ".google.protobuf.BoolValue"},   {"sv", ".google.protobuf.StringValue"},
      {"byv", ".google.protobuf.BytesValue"}, {"any", ".google.protobuf.Any"},
      {"struct", ".google.protobuf.Struct"},  {"value", ".google.protobuf.Value"},
      {"list", ".google.protobuf.ListValue"}, {"mask", ".google.protobuf.FieldMask"},
      {"empty", ".google.protobuf.Empty"}};

  MessageBuilder e(&file, "Everything");
  // Well-known types first (high numbers), then scalars in reverse, to make declaration order differ.
  for (size_t i = 0; i < wkts.size(); ++i) e.AddMessage(absl::StrCat("w_", wkts[i].name), 80 + i, wkts[i].type);
  const std::vector<std::pair<const char*, FDP::Type>> scalars = {
      {"i32", FDP::TYPE_INT32},     {"i64", FDP::TYPE_INT64},     {"u32", FDP::TYPE_UINT32},
      {"u64", FDP::TYPE_UINT64},    {"s32", FDP::TYPE_SINT32},    {"s64", FDP::TYPE_SINT64},
      {"f32", FDP::TYPE_FIXED32},   {"f64", FDP::TYPE_FIXED64},   {"sf32", FDP::TYPE_SFIXED32},
      {"sf64", FDP::TYPE_SFIXED64}, {"fl", FDP::TYPE_FLOAT},      {"db", FDP::TYPE_DOUBLE},
      {"bo", FDP::TYPE_BOOL},       {"st", FDP::TYPE_STRING},     {"by", FDP::TYPE_BYTES}};
  for (int i = static_cast<int>(scalars.size()) - 1; i >= 0; --i) {
    e.Add(absl::StrCat("s_", scalars[i].first), 1 + i, scalars[i].second);
  }
  e.Add("color", 16, FDP::TYPE_ENUM, kColor);
  e.Add("null_value", 17, FDP::TYPE_ENUM, ".google.protobuf.NullValue");
  e.AddMessage("leaf", 19, kLeaf);
  e.AddMessage("child", 18, kEverything);
  e.Add("custom_name", 120, FDP::TYPE_STRING)->set_json_name("cu<s>tom\"Na\\me");
  for (size_t i = 0; i < scalars.size(); ++i) {
    e.Add(absl::StrCat("r_", scalars[i].first), 20 + i, scalars[i].second, "", true);
  }
  e.Add("r_color", 35, FDP::TYPE_ENUM, kColor, true);
  e.Add("r_null", 36, FDP::TYPE_ENUM, ".google.protobuf.NullValue", true);
  e.AddMessage("r_leaf", 37, kLeaf, true);
  e.AddMessage("r_child", 38, kEverything, true);
  for (size_t i = 0; i < wkts.size(); ++i) {
    e.AddMessage(absl::StrCat("rw_", wkts[i].name), 100 + i, wkts[i].type, true);
  }
  int n = 40;
  e.AddMap("mstring", n++, FDP::TYPE_STRING, FDP::TYPE_STRING);
  e.AddMap("mint", n++, FDP::TYPE_INT32, FDP::TYPE_MESSAGE, kLeaf);
  e.AddMap("mlong", n++, FDP::TYPE_INT64, FDP::TYPE_ENUM, kColor);
  e.AddMap("muint", n++, FDP::TYPE_UINT32, FDP::TYPE_DOUBLE);
  e.AddMap("mulong", n++, FDP::TYPE_UINT64, FDP::TYPE_BYTES);
  e.AddMap("msint", n++, FDP::TYPE_SINT32, FDP::TYPE_FLOAT);
  e.AddMap("mslong", n++, FDP::TYPE_SINT64, FDP::TYPE_INT64);
  e.AddMap("mfixed", n++, FDP::TYPE_FIXED32, FDP::TYPE_BOOL);
  e.AddMap("mfixedlong", n++, FDP::TYPE_FIXED64, FDP::TYPE_UINT64);
  e.AddMap("msfixed", n++, FDP::TYPE_SFIXED32, FDP::TYPE_STRING);
  e.AddMap("msfixedlong", n++, FDP::TYPE_SFIXED64, FDP::TYPE_INT32);
  e.AddMap("mbool", n++, FDP::TYPE_BOOL, FDP::TYPE_STRING);
  e.AddMap("mtime", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, ".google.protobuf.Timestamp");
  e.AddMap("mvalue", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, ".google.protobuf.Value");
  e.AddMap("many", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, ".google.protobuf.Any");
  e.AddMap("mstruct", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, ".google.protobuf.Struct");
  e.AddMap("mlist", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, ".google.protobuf.ListValue");
  e.AddMap("mchild", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, kEverything);
  e.AddMap("mwrapped", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, ".google.protobuf.Int32Value");
  e.AddMap("mnull", n++, FDP::TYPE_STRING, FDP::TYPE_ENUM, ".google.protobuf.NullValue");
  e.AddMap("mmask", n++, FDP::TYPE_STRING, FDP::TYPE_MESSAGE, ".google.protobuf.FieldMask");
  int choice = e.AddOneof("choice");
  e.Add("o_string", 66, FDP::TYPE_STRING)->set_oneof_index(choice);
  e.Add("o_int", 61, FDP::TYPE_INT32)->set_oneof_index(choice);
  e.AddMessage("o_leaf", 62, kLeaf)->set_oneof_index(choice);
  e.AddMessage("o_time", 63, ".google.protobuf.Timestamp")->set_oneof_index(choice);
  e.Add("o_color", 64, FDP::TYPE_ENUM, kColor)->set_oneof_index(choice);
  e.Add("o_null", 65, FDP::TYPE_ENUM, ".google.protobuf.NullValue")->set_oneof_index(choice);
  e.AddMessage("o_value", 67, ".google.protobuf.Value")->set_oneof_index(choice);
  e.Add("o_bytes", 68, FDP::TYPE_BYTES)->set_oneof_index(choice);
  e.Add("o_double", 69, FDP::TYPE_DOUBLE)->set_oneof_index(choice);
  int other = e.AddOneof("other");
  e.AddMessage("p_struct", 71, ".google.protobuf.Struct")->set_oneof_index(other);
  e.Add("p_bool", 70, FDP::TYPE_BOOL)->set_oneof_index(other);
  e.AddOptional("opt_int", 75, FDP::TYPE_INT32);
  e.AddOptional("opt_string", 73, FDP::TYPE_STRING);
  e.AddOptional("opt_leaf", 74, FDP::TYPE_MESSAGE, kLeaf);
  e.AddOptional("opt_color", 72, FDP::TYPE_ENUM, kColor);
  e.AddOptional("opt_double", 76, FDP::TYPE_DOUBLE);
  e.AddOptional("opt_null", 77, FDP::TYPE_ENUM, ".google.protobuf.NullValue");
  return file;
}

struct Env {
  gpb::DescriptorPool pool;
  std::unique_ptr<gpb::DynamicMessageFactory> factory;
  std::vector<const gpb::Descriptor*> api_types;  // every message type of crm_api.pb (no map entries)
  std::vector<const gpb::Descriptor*> any_types;  // what the random Any values pack
  std::string error;

  std::unique_ptr<gpb::Message> New(const gpb::Descriptor* d) const {
    return std::unique_ptr<gpb::Message>(factory->GetPrototype(d)->New());
  }
  std::unique_ptr<gpb::Message> New(const std::string& name) const {
    const gpb::Descriptor* d = pool.FindMessageTypeByName(name);
    EXPECT_NE(d, nullptr) << name;
    return New(d);
  }
};

void CollectTypes(const gpb::Descriptor* d, std::vector<const gpb::Descriptor*>* out) {
  if (d->options().map_entry()) return;
  out->push_back(d);
  for (int i = 0; i < d->nested_type_count(); ++i) CollectTypes(d->nested_type(i), out);
}

const Env& GetEnv() {
  static const Env* env = [] {
    auto* e = new Env;
    auto services = LoadDescriptorSetFiles({CRM_API_PB}, &e->pool);
    if (!services.ok()) e->error = std::string(services.status().message());
    std::ifstream in(CRM_API_PB, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    gpb::FileDescriptorSet set;
    if (!set.ParseFromString(bytes.str())) e->error = "cannot read " CRM_API_PB;
    for (const gpb::Descriptor* generated : {gpb::Struct::descriptor(), gpb::Int32Value::descriptor()}) {
      gpb::FileDescriptorProto proto;
      generated->file()->CopyTo(&proto);
      if (e->pool.FindFileByName(proto.name()) == nullptr && e->pool.BuildFile(proto) == nullptr) {
        e->error = "cannot add " + proto.name();
      }
    }
    const gpb::FileDescriptor* synthetic = e->pool.BuildFile(SyntheticFile());
    if (synthetic == nullptr) e->error = "the synthetic test file does not build";
    for (const gpb::FileDescriptorProto& file : set.file()) {
      const gpb::FileDescriptor* fd = e->pool.FindFileByName(file.name());
      for (int i = 0; fd != nullptr && i < fd->message_type_count(); ++i) CollectTypes(fd->message_type(i), &e->api_types);
    }
    for (const gpb::Descriptor* d : e->api_types) {
      if (d->file()->syntax() == gpb::FileDescriptor::SYNTAX_PROTO3) e->any_types.push_back(d);
    }
    for (const char* name : {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
                             "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
                             "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
                             "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
                             "google.protobuf.Duration", "google.protobuf.FieldMask", "crm.testing.jsonprint.Leaf",
                             "crm.testing.jsonprint.OnlyOneof", "crm.testing.jsonprint.Everything"}) {
      if (const gpb::Descriptor* d = e->pool.FindMessageTypeByName(name)) e->any_types.push_back(d);
    }
    e->factory = std::make_unique<gpb::DynamicMessageFactory>(&e->pool);
    return e;
  }();
  return *env;
}

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

// ---------------------------------------------------------------------------------------------------
// Random messages.

class Filler {
 public:
  Filler(const Env& env, uint64_t seed) : env_(env), rng_(seed) {}

  void Fill(gpb::Message* m, int depth) {
    const gpb::Descriptor* d = m->GetDescriptor();
    const std::string& name = d->full_name();
    if (name == "google.protobuf.Timestamp") return FillTime(m, kTimestampMin, kTimestampMax, false);
    if (name == "google.protobuf.Duration") return FillTime(m, -kDurationMax, kDurationMax, true);
    if (name == "google.protobuf.Any") return FillAny(m, depth);
    if (name == "google.protobuf.Struct") return FillStruct(m, depth);
    if (name == "google.protobuf.Value") return FillValue(m, depth);
    if (name == "google.protobuf.ListValue") return FillList(m, depth);
    if (name == "google.protobuf.FieldMask") return FillMask(m);
    const gpb::Reflection* r = m->GetReflection();
    const double p = depth == 0 ? 0.75 : depth >= kMaxDepth ? 0.2 : 0.5;
    for (int i = 0; i < d->field_count(); ++i) {
      const FD* f = d->field(i);
      if (f->real_containing_oneof() != nullptr) continue;
      if (!Chance(p)) continue;
      if (f->is_map()) {
        for (int n = Int(0, 3); n > 0; --n) {
          gpb::Message* entry = r->AddMessage(m, f);
          const gpb::Descriptor* ed = entry->GetDescriptor();
          SetKey(entry, ed->map_key());
          const FD* vf = ed->map_value();
          if (vf->cpp_type() == FD::CPPTYPE_MESSAGE) {
            if (Chance(0.9)) Fill(entry->GetReflection()->MutableMessage(entry, vf), depth + 1);
          } else {
            SetScalar(entry, vf);
          }
        }
      } else if (f->is_repeated()) {
        for (int n = Int(0, 3); n > 0; --n) {
          if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
            gpb::Message* sub = r->AddMessage(m, f);
            if (depth < kMaxDepth) Fill(sub, depth + 1);
          } else {
            AddScalar(m, f);
          }
        }
      } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        gpb::Message* sub = r->MutableMessage(m, f);
        if (depth < kMaxDepth) Fill(sub, depth + 1);
      } else {
        SetScalar(m, f);
      }
    }
    for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
      const gpb::OneofDescriptor* o = d->oneof_decl(i);
      if (!Chance(p)) continue;
      const FD* f = o->field(Int(0, o->field_count() - 1));
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        gpb::Message* sub = r->MutableMessage(m, f);
        if (depth < kMaxDepth) Fill(sub, depth + 1);
      } else {
        SetScalar(m, f);
      }
    }
  }

  std::string RandomString() {
    static const std::vector<std::string> kPieces = {
        "",      "plain",           "Иванова Анна Сергеевна", "emoji 😀", "\u2028\u2029",   "quote\"",
        "back\\slash", "<tag>&'/",  std::string("\x01\x1f\x7f\x00z", 5),   "\u0085\u009f\u00a0",
        "\u00ad\u0600\u0603\u06dd\u070f\u17b4\u17b5\u200b\u200f\u202a\u202e\u2060\u2064\u206a\u206f",
        "\ufeff\ufff9\ufffa\ufffb\ufffc", "\U0001d173\U0001d17a\U0001d17b\U000e0001\U000e0020\U000e007f\U000e0080",
        "tab\tnl\nret\rff\fbs\b", "日本語", "\U0010ffff", "é"};
    static const std::vector<std::string> kInvalid = {
        "\xff", "\xc3(", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\xc0\x80", "\xc1\xbf", "\x80",
        "\xf8\x88\x80\x80\x80", "\xe0\x80\xbc"};
    std::string s;
    for (int n = Int(0, 3); n > 0; --n) s += kPieces[Int(0, static_cast<int>(kPieces.size()) - 1)];
    if (Chance(0.003)) s.insert(Int(0, static_cast<int>(s.size())), kInvalid[Int(0, static_cast<int>(kInvalid.size()) - 1)]);
    return s;
  }

  double RandomDouble() {
    static const std::vector<double> kSpecial = {
        0.0, -0.0, 1, -1, 0.1, 1.0 / 3, 1e21, 1e22, 1e-7, 123456789012345678.0, 9007199254740993.0,
        0.30000000000000004, 5e-324, std::numeric_limits<double>::min(), std::numeric_limits<double>::max(),
        -std::numeric_limits<double>::max(), std::numeric_limits<double>::quiet_NaN(),
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 100, 1e15, 1e16, 1e17};
    switch (Int(0, 3)) {
      case 0: return kSpecial[Int(0, static_cast<int>(kSpecial.size()) - 1)];
      case 1: {
        uint64_t bits = rng_();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
      }
      case 2: return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
      default: return static_cast<double>(Int(-1000000, 1000000)) / 100;
    }
  }

  float RandomFloat() {
    static const std::vector<float> kSpecial = {
        0.0f, -0.0f, 1, -1, 0.1f, 1.0f / 3, 1e21f, 1e-7f, 16777217.0f, 1e-45f, std::numeric_limits<float>::min(),
        std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(), std::numeric_limits<float>::quiet_NaN(),
        std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), 3.4e38f, 1e-40f};
    switch (Int(0, 3)) {
      case 0: return kSpecial[Int(0, static_cast<int>(kSpecial.size()) - 1)];
      case 1: {
        uint32_t bits = static_cast<uint32_t>(rng_());
        float f;
        std::memcpy(&f, &bits, sizeof f);
        return f;
      }
      case 2: return std::uniform_real_distribution<float>(-1e6f, 1e6f)(rng_);
      default: return static_cast<float>(Int(-100000, 100000)) / 100;
    }
  }

 private:
  static constexpr int kMaxDepth = 3;
  static constexpr int64_t kTimestampMin = -62135596800LL;
  static constexpr int64_t kTimestampMax = 253402300799LL;
  static constexpr int64_t kDurationMax = 315576000000LL;

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int64_t Int64(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

  template <typename T>
  T Integer() {
    switch (Int(0, 4)) {
      case 0: return std::numeric_limits<T>::min();
      case 1: return std::numeric_limits<T>::max();
      case 2: return static_cast<T>(Int(-2, 2));
      default: return static_cast<T>(rng_());
    }
  }

  int EnumValue(const gpb::EnumDescriptor* e) {
    if (Chance(0.1)) return Chance(0.5) ? 99 : -7;  // unknown to the enum (proto3 enums are open)
    if (Chance(0.3)) return 0;
    return e->value(Int(0, e->value_count() - 1))->number();
  }

  std::string RandomBytes() {
    std::string s(Int(0, 8), '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }

  void SetScalar(gpb::Message* m, const FD* f) {
    const gpb::Reflection* r = m->GetReflection();
    switch (f->cpp_type()) {
      case FD::CPPTYPE_INT32: return r->SetInt32(m, f, Integer<int32_t>());
      case FD::CPPTYPE_INT64: return r->SetInt64(m, f, Integer<int64_t>());
      case FD::CPPTYPE_UINT32: return r->SetUInt32(m, f, Integer<uint32_t>());
      case FD::CPPTYPE_UINT64: return r->SetUInt64(m, f, Integer<uint64_t>());
      case FD::CPPTYPE_DOUBLE: return r->SetDouble(m, f, RandomDouble());
      case FD::CPPTYPE_FLOAT: return r->SetFloat(m, f, RandomFloat());
      case FD::CPPTYPE_BOOL: return r->SetBool(m, f, Chance(0.5));
      case FD::CPPTYPE_ENUM: return r->SetEnumValue(m, f, EnumValue(f->enum_type()));
      case FD::CPPTYPE_STRING:
        return r->SetString(m, f, f->type() == FD::TYPE_BYTES ? RandomBytes() : RandomString());
      case FD::CPPTYPE_MESSAGE: break;
    }
  }

  void AddScalar(gpb::Message* m, const FD* f) {
    const gpb::Reflection* r = m->GetReflection();
    switch (f->cpp_type()) {
      case FD::CPPTYPE_INT32: return r->AddInt32(m, f, Integer<int32_t>());
      case FD::CPPTYPE_INT64: return r->AddInt64(m, f, Integer<int64_t>());
      case FD::CPPTYPE_UINT32: return r->AddUInt32(m, f, Integer<uint32_t>());
      case FD::CPPTYPE_UINT64: return r->AddUInt64(m, f, Integer<uint64_t>());
      case FD::CPPTYPE_DOUBLE: return r->AddDouble(m, f, RandomDouble());
      case FD::CPPTYPE_FLOAT: return r->AddFloat(m, f, RandomFloat());
      case FD::CPPTYPE_BOOL: return r->AddBool(m, f, Chance(0.5));
      case FD::CPPTYPE_ENUM: return r->AddEnumValue(m, f, EnumValue(f->enum_type()));
      case FD::CPPTYPE_STRING:
        return r->AddString(m, f, f->type() == FD::TYPE_BYTES ? RandomBytes() : RandomString());
      case FD::CPPTYPE_MESSAGE: break;
    }
  }

  // Map keys from a small set, so that keys repeat now and then.
  void SetKey(gpb::Message* entry, const FD* f) {
    static const std::vector<std::string> kKeys = {"",      "a",   "b",     "ключ", "x\"y",  "<k>",  "k\u2028", "a_b",
                                                   "c",     "d",   "e\\f",  "日本", "g h",  "i.j",  "1",       "kK",
                                                   "lm",    "n/o", "p\tq",  "rs",   "tu",   "vw",   "xy",      "z"};
    const gpb::Reflection* r = entry->GetReflection();
    const int small = Int(-2, 2);
    switch (f->cpp_type()) {
      case FD::CPPTYPE_STRING: return r->SetString(entry, f, kKeys[Int(0, static_cast<int>(kKeys.size()) - 1)]);
      case FD::CPPTYPE_BOOL: return r->SetBool(entry, f, Chance(0.5));
      case FD::CPPTYPE_INT32: return r->SetInt32(entry, f, Chance(0.8) ? small : Integer<int32_t>());
      case FD::CPPTYPE_INT64: return r->SetInt64(entry, f, Chance(0.8) ? small : Integer<int64_t>());
      case FD::CPPTYPE_UINT32: return r->SetUInt32(entry, f, Chance(0.8) ? small + 2 : Integer<uint32_t>());
      case FD::CPPTYPE_UINT64: return r->SetUInt64(entry, f, Chance(0.8) ? small + 2 : Integer<uint64_t>());
      default: break;
    }
  }

  void FillTime(gpb::Message* m, int64_t min, int64_t max, bool duration) {
    const gpb::Reflection* r = m->GetReflection();
    const FD* seconds = m->GetDescriptor()->FindFieldByNumber(1);
    const FD* nanos = m->GetDescriptor()->FindFieldByNumber(2);
    // Mostly valid; now and then at or beyond the limits (protobuf's error, through the fallback).
    int64_t s;
    const int roll = Int(0, 999);
    if (roll < 970) {
      s = Int64(min, max);
    } else if (roll < 998) {
      s = std::vector<int64_t>{min, max, 0, -1, 1}[Int(0, 4)];
    } else {
      s = std::vector<int64_t>{min - 1, max + 1, std::numeric_limits<int64_t>::max()}[Int(0, 2)];
    }
    int32_t n = 0;
    switch (Int(0, 4)) {
      case 0: n = 0; break;
      case 1: n = Int(0, 999) * 1000000; break;
      case 2: n = Int(0, 999999) * 1000; break;
      case 3: n = Int(0, 999999999); break;
      default: n = Chance(0.5) ? 999999999 : 1; break;
    }
    if (Chance(0.002)) n = Chance(0.5) ? -1 : 1000000000;
    if (duration && s < 0 && n > 0 && Chance(0.998)) n = -n;
    if (duration && s == 0 && Chance(0.3)) n = -n;
    r->SetInt64(m, seconds, s);
    r->SetInt32(m, nanos, n);
  }

  void FillAny(gpb::Message* m, int depth) {
    const gpb::Reflection* r = m->GetReflection();
    const FD* url = m->GetDescriptor()->FindFieldByNumber(1);
    const FD* value = m->GetDescriptor()->FindFieldByNumber(2);
    const int roll = Int(0, 999);
    if (roll < 50) return;
    if (roll < 80) return r->SetString(m, url, "type.googleapis.com/crm.testing.jsonprint.Leaf");
    if (roll < 82) return r->SetString(m, value, "\x08\x01");
    if (roll < 84) {
      r->SetString(m, url, "type.example.com/crm.testing.jsonprint.Leaf");
      return r->SetString(m, value, "\x10\x01");
    }
    if (roll < 86) {
      r->SetString(m, url, "type.googleapis.com/no.such.Type");
      return r->SetString(m, value, "\x10\x01");
    }
    const gpb::Descriptor* type =
        depth >= kMaxDepth ? env_.pool.FindMessageTypeByName("crm.testing.jsonprint.Leaf")
                           : env_.any_types[Int(0, static_cast<int>(env_.any_types.size()) - 1)];
    std::unique_ptr<gpb::Message> packed = env_.New(type);
    Fill(packed.get(), depth + 1);
    r->SetString(m, url, "type.googleapis.com/" + type->full_name());
    r->SetString(m, value, packed->SerializeAsString());
  }

  void FillValue(gpb::Message* m, int depth) {
    const gpb::Reflection* r = m->GetReflection();
    const gpb::Descriptor* d = m->GetDescriptor();
    switch (Int(0, depth >= kMaxDepth + 1 ? 4 : 6)) {
      case 0: return;  // no kind
      case 1: return r->SetEnumValue(m, d->FindFieldByNumber(1), Chance(0.9) ? 0 : 3);
      case 2: return r->SetDouble(m, d->FindFieldByNumber(2), RandomDouble());
      case 3: return r->SetString(m, d->FindFieldByNumber(3), RandomString());
      case 4: return r->SetBool(m, d->FindFieldByNumber(4), Chance(0.5));
      case 5: return FillStruct(r->MutableMessage(m, d->FindFieldByNumber(5)), depth + 1);
      default: return FillList(r->MutableMessage(m, d->FindFieldByNumber(6)), depth + 1);
    }
  }

  void FillStruct(gpb::Message* m, int depth) {
    const gpb::Reflection* r = m->GetReflection();
    const FD* fields = m->GetDescriptor()->FindFieldByNumber(1);
    std::vector<std::string> keys;
    for (int n = Int(0, 3); n > 0; --n) {
      gpb::Message* entry = r->AddMessage(m, fields);
      const FD* key = entry->GetDescriptor()->map_key();
      // Keys of a Struct repeat only when a backend misbehaves (then protobuf's tree merges them).
      do {
        SetKey(entry, key);
      } while (std::find(keys.begin(), keys.end(), entry->GetReflection()->GetString(*entry, key)) != keys.end() &&
               !Chance(0.02));
      keys.push_back(entry->GetReflection()->GetString(*entry, key));
      if (Chance(0.95)) FillValue(entry->GetReflection()->MutableMessage(entry, entry->GetDescriptor()->map_value()), depth + 1);
    }
  }

  void FillList(gpb::Message* m, int depth) {
    const gpb::Reflection* r = m->GetReflection();
    const FD* values = m->GetDescriptor()->FindFieldByNumber(1);
    for (int n = Int(0, 3); n > 0; --n) FillValue(r->AddMessage(m, values), depth + 1);
  }

  void FillMask(gpb::Message* m) {
    static const std::vector<std::string> kPaths = {
        "foo_bar", "a.b_c", "x.\"quoted_key.y\".z_w", "FooBar", "_lead", "trail_", "a__b", "", "map_field[\"k_1\"]",
        "(ext.some_name).sub_field", "ABCdef", "aBC", "display_name", "x.\"esc\\\"aped_q\".y", "HTTPServer_url"};
    const FD* paths = m->GetDescriptor()->FindFieldByNumber(1);
    for (int n = Int(0, 3); n > 0; --n) {
      m->GetReflection()->AddString(m, paths, kPaths[Int(0, static_cast<int>(kPaths.size()) - 1)]);
    }
  }

  const Env& env_;
  std::mt19937_64 rng_;
};

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
