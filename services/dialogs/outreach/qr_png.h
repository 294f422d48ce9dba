// File: services/dialogs/outreach/qr_png.h
// -----------------------------------------------------------------------------
// A QR code as a PNG image (T7): libqrencode encodes the text (level M, 8-bit mode), each module becomes
// `scale` × `scale` pixels with a quiet zone of 4 modules, written as a 1-bit grayscale PNG (zlib).
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_QR_PNG_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_QR_PNG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::dialogs::outreach {

absl::StatusOr<std::string> QrPng(std::string_view text, int scale = 8);

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_QR_PNG_H_
