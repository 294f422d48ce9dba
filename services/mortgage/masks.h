// File: services/mortgage/masks.h
// -----------------------------------------------------------------------------
// update_mask for mortgage's PATCH methods (issue 16; AIP-134): only the fields the mask names change.
// A path is a field of the resource ("decision_days") or a field inside one of its message fields
// ("profile.accrual", "limits.max_loan"): what the gateway derives from the keys of a PATCH body. "*"
// names every field. The resource's identity and output-only fields (its id, its version, ...) may be
// named and are ignored: a client may send back what it read. A masked message or repeated field is
// replaced whole, never merged into. An empty mask, or a path that is not a field, is INVALID_ARGUMENT
// naming update_mask (every such path at once).
//
// Example:
//   CRM_ASSIGN_OR_RETURN(FieldMask mask, EffectiveMask(req.update_mask(), *v1::Bank::descriptor(), {"id", "version"}));
//   v1::Bank next = current;
//   ApplyMask(mask, req.bank(), next);   // next = current with the masked fields of req.bank()
#ifndef CRM_SERVICES_MORTGAGE_MASKS_H_
#define CRM_SERVICES_MORTGAGE_MASKS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/field_mask_util.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm::mortgage {

// The paths of `mask` that change a message of type `type`: "*" expanded to every field, the `ignored`
// top-level fields (identity, output only) and the paths under them left out, duplicates removed.
inline absl::StatusOr<google::protobuf::FieldMask> EffectiveMask(const google::protobuf::FieldMask& mask,
                                                                 const google::protobuf::Descriptor& type,
                                                                 const std::set<std::string>& ignored) {
  if (mask.paths().empty()) {
    return InvalidFieldError("update_mask", "required: name the fields to change (\"*\" for all of them)");
  }
  std::vector<FieldViolation> unknown;
  std::set<std::string> paths;
  for (const std::string& path : mask.paths()) {
    if (path == "*") {
      for (int i = 0; i < type.field_count(); ++i) {
        if (!ignored.contains(type.field(i)->name())) paths.insert(type.field(i)->name());
      }
      continue;
    }
    if (!google::protobuf::util::FieldMaskUtil::GetFieldDescriptors(&type, path, nullptr)) {
      unknown.push_back({"update_mask", absl::StrCat("no field ", QuoteForError(path), " in ", type.name())});
      continue;
    }
    if (!ignored.contains(path.substr(0, path.find('.')))) paths.insert(path);
  }
  if (!unknown.empty()) return InvalidFieldsError(unknown);
  google::protobuf::FieldMask out;
  for (const std::string& p : paths) out.add_paths(p);
  google::protobuf::FieldMask canonical;  // "a" covers "a.b"
  google::protobuf::util::FieldMaskUtil::ToCanonicalForm(out, &canonical);
  return canonical;
}

// Copies the fields `mask` (an EffectiveMask) names from `patch` into `target`, replacing masked
// message and repeated fields whole.
inline void ApplyMask(const google::protobuf::FieldMask& mask, const google::protobuf::Message& patch,
                      google::protobuf::Message& target) {
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(patch, mask, options, &target);
}

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_MASKS_H_
