// File: services/gateway/transcode/json_testing.h
// -----------------------------------------------------------------------------
// For the JSON tests only (json_print_test, json_parse_test): the suite's API descriptor set
// (CRM_API_PB, the target's compile definition) with struct.proto, wrappers.proto and a synthetic type
// with every field kind, in one pool; and Filler, which fills any message of it at random (seeded):
// every scalar kind at its edges, maps, oneofs, Timestamp/Duration at and beyond their limits, FieldMask,
// Struct/Value/ListValue, Any (resolvable or not).
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_JSON_TESTING_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_JSON_TESTING_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "services/gateway/transcode/descriptor_set.h"

namespace crm::gateway::json_testing {

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

inline gpb::FileDescriptorProto SyntheticFile() {
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

inline void CollectTypes(const gpb::Descriptor* d, std::vector<const gpb::Descriptor*>* out) {
  if (d->options().map_entry()) return;
  out->push_back(d);
  for (int i = 0; i < d->nested_type_count(); ++i) CollectTypes(d->nested_type(i), out);
}

inline const Env& GetEnv() {
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

}  // namespace crm::gateway::json_testing

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_JSON_TESTING_H_
