#include "libs/rpc/input_guard.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "crm/common/v1/validation.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm::rpc {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

class Checker {
 public:
  void Walk(const Message& m, const std::string& prefix) {
    const Reflection* r = m.GetReflection();
    std::vector<const FieldDescriptor*> fields;
    r->ListFields(m, &fields);  // only the fields that are set: cheap for small requests
    for (const FieldDescriptor* f : fields) {
      if (Full()) return;
      const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
      if (f->is_map()) {
        WalkMap(m, f, path);
      } else if (f->is_repeated()) {
        const int n = r->FieldSize(m, f);
        for (int i = 0; i < n && !Full(); ++i) Element(m, f, i, absl::StrCat(path, "[", i, "]"));
      } else {
        Element(m, f, -1, path);
      }
    }
  }

  std::vector<FieldViolation> violations;

 private:
  bool Full() const { return static_cast<int>(violations.size()) >= kMaxViolations; }

  // A map field is a repeated message of (key, value): its path shows the key.
  void WalkMap(const Message& m, const FieldDescriptor* f, const std::string& path) {
    const Reflection* r = m.GetReflection();
    const int n = r->FieldSize(m, f);
    for (int i = 0; i < n && !Full(); ++i) {
      const Message& entry = r->GetRepeatedMessage(m, f, i);
      const FieldDescriptor* key = f->message_type()->map_key();
      const FieldDescriptor* value = f->message_type()->map_value();
      std::string shown;
      if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        const std::string k = entry.GetReflection()->GetString(entry, key);
        if (HasForbiddenControl(k)) {
          Add(path, "a key holds a control character (only tab, line feed and carriage return are allowed)");
          continue;
        }
        shown = absl::StrCat(path, "[\"", k, "\"]");
      } else {
        shown = absl::StrCat(path, "[", i, "]");
      }
      Element(entry, value, -1, shown);
    }
  }

  // One value of `f` in `m` (element `index` of a repeated field, or the field itself when -1).
  void Element(const Message& m, const FieldDescriptor* f, int index, const std::string& path) {
    const Reflection* r = m.GetReflection();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        Walk(index < 0 ? r->GetMessage(m, f) : r->GetRepeatedMessage(m, f, index), path);
        return;
      case FieldDescriptor::CPPTYPE_STRING: {
        if (f->type() == FieldDescriptor::TYPE_BYTES) return;
        std::string scratch;
        const std::string& s = index < 0 ? r->GetStringReference(m, f, &scratch)
                                         : r->GetRepeatedStringReference(m, f, index, &scratch);
        size_t at = 0;
        if (HasForbiddenControl(s, &at)) {
          Add(path, absl::StrCat("holds a control character at byte ", at,
                                 " (only tab, line feed and carriage return are allowed in text)"));
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        const auto& o = f->options();
        const bool has_min = o.HasExtension(crm::common::v1::min);
        const bool has_max = o.HasExtension(crm::common::v1::max);
        if (!has_min && !has_max) return;
        const int64_t min = has_min ? o.GetExtension(crm::common::v1::min) : INT64_MIN;
        const int64_t max = has_max ? o.GetExtension(crm::common::v1::max) : INT64_MAX;
        const absl::int128 v = Value(m, f, index);
        if (v < min || v > max) Add(path, absl::StrCat("must be within ", min, "..", max));
        return;
      }
      default:
        return;
    }
  }

  // The integer as a wide signed value (uint64 above INT64_MAX counts as above every bound).
  static absl::int128 Value(const Message& m, const FieldDescriptor* f, int index) {
    const Reflection* r = m.GetReflection();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return index < 0 ? r->GetInt32(m, f) : r->GetRepeatedInt32(m, f, index);
      case FieldDescriptor::CPPTYPE_INT64:
        return index < 0 ? r->GetInt64(m, f) : r->GetRepeatedInt64(m, f, index);
      case FieldDescriptor::CPPTYPE_UINT32:
        return index < 0 ? r->GetUInt32(m, f) : r->GetRepeatedUInt32(m, f, index);
      default:
        return index < 0 ? r->GetUInt64(m, f) : r->GetRepeatedUInt64(m, f, index);
    }
  }

  void Add(const std::string& path, std::string description) {
    violations.push_back(FieldViolation{path, std::move(description)});
  }
};

}  // namespace

absl::Status CheckRequest(const google::protobuf::Message& request) {
  Checker c;
  c.Walk(request, "");
  if (c.violations.empty()) return absl::OkStatus();
  return InvalidFieldsError(c.violations);
}

}  // namespace crm::rpc
