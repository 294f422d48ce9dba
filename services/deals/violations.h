// File: services/deals/violations.h
// -----------------------------------------------------------------------------
// Every field violation of a request at once (issue 16, G1): deals' validators collect what is wrong with
// a request in a Violations and answer one INVALID_ARGUMENT carrying all of them
// (crm::InvalidFieldsError: message "<first field>: <desc> (and N more)", every violation in details,
// field paths as the proto spells them), instead of stopping at the first.
//
// Example:
//   Violations v;
//   if (deal.name().empty()) v.Add("deal.name", "required");
//   CRM_RETURN_IF_ERROR(v.Merge(CheckTags(deal)));          // a check that returns InvalidFieldError
//   std::optional<std::string> phone = v.Value(NormalizePhone("client.phones[0]", raw));
//   CRM_RETURN_IF_ERROR(v.Status());                         // OK, or every violation
#ifndef CRM_SERVICES_DEALS_VIOLATIONS_H_
#define CRM_SERVICES_DEALS_VIOLATIONS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/base/status.h"

namespace crm::deals {

class Violations {
 public:
  // Records that `field` (a proto path: "deal.amount.amount_minor", "parts[2].percent") is wrong.
  void Add(std::string_view field, std::string_view description) {
    all_.push_back({std::string(field), std::string(description)});
  }

  // Records the field violations of `s` when it is an INVALID_ARGUMENT carrying some and returns OK;
  // returns any other failure (to return at once: a database error is no field's fault).
  absl::Status Merge(const absl::Status& s) {
    if (s.ok()) return s;
    std::vector<FieldViolation> found = FieldViolations(s);
    if (s.code() != absl::StatusCode::kInvalidArgument || found.empty()) return s;
    all_.insert(all_.end(), found.begin(), found.end());
    return absl::OkStatus();
  }

  // The value of `r`, or nullopt after recording its violations (Merge; another failure is kept and
  // answered by Status()).
  template <typename T>
  std::optional<T> Value(absl::StatusOr<T> r) {
    if (r.ok()) return *std::move(r);
    if (absl::Status other = Merge(r.status()); !other.ok() && other_.ok()) other_ = other;
    return std::nullopt;
  }

  bool empty() const { return all_.empty() && other_.ok(); }
  const std::vector<FieldViolation>& all() const { return all_; }

  // OK when nothing was recorded; else a failure Value() kept, else INVALID_ARGUMENT with every violation.
  absl::Status Status() const {
    if (!other_.ok()) return other_;
    if (all_.empty()) return absl::OkStatus();
    return InvalidFieldsError(all_);
  }

 private:
  std::vector<FieldViolation> all_;
  absl::Status other_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_VIOLATIONS_H_
