// File: services/dialogs/outreach/render.h
// -----------------------------------------------------------------------------
// Message templates (T7), pure: validation of a template as an administrator saves it, and rendering for
// a project with the caller's parameters. No I/O; table test render_test.cc.
//
//   * Placeholders are {{n}} (n = 1, 2, …) in the text and in buttons' texts. {{n}}'s value: the
//     caller's parameters[n-1] when given and not empty, else the template's value of parameter n for the
//     project, else its default; none → INVALID_ARGUMENT naming "parameters[n-1]" (every missing one at
//     once). A rendered text longer than Telegram's 4096 characters, or empty, is refused naming "text".
//   * Buttons: inline (callback_data 1..64 bytes, or a url) and reply (text, request_contact), not both.
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_RENDER_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_RENDER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/dialogs/v1/outreach.pb.h"
#include "libs/base/status.h"

namespace crm::dialogs::outreach {

namespace v1 = ::crm::dialogs::v1;

inline constexpr size_t kMaxMessageChars = 4096;  // Telegram's limit of a text message
inline constexpr size_t kMaxCallbackBytes = 64;

// The placeholders' numbers in `text`, in order of appearance (repeats kept); {{0}} or {{x}} are not
// placeholders (text).
std::vector<int> Placeholders(std::string_view text);

// Every problem of `t` as a template to store (fields under `prefix`, e.g. "template."): name 1..200,
// text 1..4096, placeholders ≥ 1, parameters' indexes unique and ≥ 1, buttons as above.
std::vector<FieldViolation> ValidateTemplate(const v1::Template& t, std::string_view prefix);

// See the file comment. `field` names the caller's parameters ("parameters").
absl::StatusOr<v1::RenderedTemplate> Render(const v1::Template& t, std::string_view project,
                                            const std::vector<std::string>& parameters);

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_RENDER_H_
