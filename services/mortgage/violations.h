// File: services/mortgage/violations.h
// -----------------------------------------------------------------------------
// A request's field violations, collected so that a validator reports every bad field at once
// (crm::InvalidFieldsError: "<first field>: <description> (and N more)", all of them in the details)
// instead of stopping at the first (issue 16). Checks that return a status (Text(), ParseCivilDay(),
// ParseRate() ...) are kept with Check() / Value(); plain conditions with Add().
//
// Example:
//   Violations v;
//   v.Check(Text("bank.code", bank.code(), true));
//   if (bank.decision_days() < 0) v.Add("bank.decision_days", "must be 0..365");
//   std::optional<absl::CivilDay> from = v.Value(ParseCivilDay(s.valid_from(), "program.schemes[0].valid_from"));
//   CRM_RETURN_IF_ERROR(v.Status());
#ifndef CRM_SERVICES_MORTGAGE_VIOLATIONS_H_
#define CRM_SERVICES_MORTGAGE_VIOLATIONS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/base/status.h"

namespace crm::mortgage {

class Violations {
 public:
  void Add(std::string_view field, std::string_view description) {
    violations_.push_back({std::string(field), std::string(description)});
  }

  // Keeps the field violations of `check` (an INVALID_ARGUMENT naming its fields); an error of another
  // kind, or one naming no field, is kept whole and reported by Status() when no violation is. Returns
  // whether `check` is OK.
  bool Check(const absl::Status& check) {
    if (check.ok()) return true;
    std::vector<FieldViolation> found = FieldViolations(check);
    if (check.code() == absl::StatusCode::kInvalidArgument && !found.empty()) {
      for (FieldViolation& f : found) violations_.push_back(std::move(f));
    } else if (other_.ok()) {
      other_ = check;
    }
    return false;
  }

  // The value of `value`, or nullopt after keeping its error as Check() does.
  template <typename T>
  std::optional<T> Value(absl::StatusOr<T> value) {
    if (!Check(value.status())) return std::nullopt;
    return *std::move(value);
  }

  // Whether nothing has been kept.
  bool ok() const { return violations_.empty() && other_.ok(); }

  // OK when nothing was kept; else INVALID_ARGUMENT carrying every violation, in the order found (or the
  // first error of another kind when there is no violation).
  absl::Status Status() const {
    if (!violations_.empty()) return InvalidFieldsError(violations_);
    return other_;
  }

 private:
  std::vector<FieldViolation> violations_;
  absl::Status other_;
};

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_VIOLATIONS_H_
