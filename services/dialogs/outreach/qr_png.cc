// File: services/dialogs/outreach/qr_png.cc
#include "services/dialogs/outreach/qr_png.h"

#include <qrencode.h>
#include <zlib.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace crm::dialogs::outreach {
namespace {

constexpr int kQuiet = 4;

void Be32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void Chunk(std::string& out, const char* type, const std::string& data) {
  Be32(out, static_cast<uint32_t>(data.size()));
  std::string body(type, 4);
  body.append(data);
  out.append(body);
  Be32(out, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

}  // namespace

absl::StatusOr<std::string> QrPng(std::string_view text, int scale) {
  const std::string s(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString8bit(s.c_str(), 0, QR_ECLEVEL_M), &QRcode_free);
  if (qr == nullptr) return absl::InternalError("libqrencode could not encode the link");
  const int modules = qr->width + 2 * kQuiet;
  const int side = modules * scale;
  const int row_bytes = (side + 7) / 8;
  std::vector<unsigned char> raw;
  raw.reserve(static_cast<size_t>(side) * (row_bytes + 1));
  for (int y = 0; y < side; ++y) {
    raw.push_back(0);  // filter: none
    const int my = y / scale - kQuiet;
    std::vector<unsigned char> row(row_bytes, 0);
    for (int x = 0; x < side; ++x) {
      const int mx = x / scale - kQuiet;
      const bool dark = my >= 0 && my < qr->width && mx >= 0 && mx < qr->width &&
                        (qr->data[my * qr->width + mx] & 1) != 0;
      if (!dark) row[x / 8] |= static_cast<unsigned char>(0x80 >> (x % 8));  // 1 = white
    }
    raw.insert(raw.end(), row.begin(), row.end());
  }
  uLongf packed_size = compressBound(raw.size());
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, raw.data(), raw.size(), 9) != Z_OK) {
    return absl::InternalError("zlib could not compress the image");
  }
  packed.resize(packed_size);
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  Be32(ihdr, static_cast<uint32_t>(side));
  Be32(ihdr, static_cast<uint32_t>(side));
  ihdr.append({1, 0, 0, 0, 0});  // bit depth 1, grayscale, deflate, adaptive filtering, no interlace
  Chunk(png, "IHDR", ihdr);
  Chunk(png, "IDAT", packed);
  Chunk(png, "IEND", "");
  return png;
}

}  // namespace crm::dialogs::outreach
