// File: services/deals/thumbnail.cc
#include "services/deals/thumbnail.h"

#include <dlfcn.h>
#include <gd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/log/log.h"

namespace crm::deals {

namespace {

constexpr int kJpegQuality = 85;
constexpr int kPngCompression = 6;
constexpr int kMaxConcurrentDecodes = 2;

unsigned Byte(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }
uint32_t Be16(std::string_view s, size_t i) { return (Byte(s, i) << 8) | Byte(s, i + 1); }
uint32_t Be32(std::string_view s, size_t i) { return (Be16(s, i) << 16) | Be16(s, i + 2); }
uint32_t Le16(std::string_view s, size_t i) { return Byte(s, i) | (Byte(s, i + 1) << 8); }
uint32_t Le24(std::string_view s, size_t i) { return Le16(s, i) | (Byte(s, i + 2) << 16); }
uint32_t Le32(std::string_view s, size_t i) { return Le24(s, i) | (Byte(s, i + 3) << 24); }

absl::Status Malformed(const char* what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed image header: ", what));
}

absl::StatusOr<ImageHeader> JpegHeader(std::string_view s) {
  // Segments after SOI: FF <marker> [<length BE16, counting itself> <data>]; the frame header (SOFn)
  // holds precision (1), height (2), width (2).
  size_t pos = 2;
  while (pos < s.size()) {
    if (Byte(s, pos) != 0xFF) return Malformed("JPEG: expected a marker");
    while (pos < s.size() && Byte(s, pos) == 0xFF) ++pos;  // fill bytes
    if (pos >= s.size()) break;
    const unsigned marker = Byte(s, pos++);
    if (marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (marker == 0xD9 || marker == 0xDA) return Malformed("JPEG: no frame header before the scan");
    if (pos + 2 > s.size()) break;
    const uint32_t length = Be16(s, pos);
    if (length < 2) return Malformed("JPEG: segment length");
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (length < 7 || pos + 7 > s.size()) break;
      ImageHeader h{ImageFormat::kJpeg, Be16(s, pos + 5), Be16(s, pos + 3)};
      if (h.width == 0 || h.height == 0) return Malformed("JPEG: zero width or height");
      return h;
    }
    pos += length;
  }
  return Malformed("JPEG: truncated before the frame header");
}

absl::StatusOr<ImageHeader> PngHeader(std::string_view s) {
  // The signature (8) is followed by IHDR: length (4), "IHDR", width BE32, height BE32.
  if (s.size() < 24 || s.substr(12, 4) != "IHDR") return Malformed("PNG: no IHDR");
  ImageHeader h{ImageFormat::kPng, Be32(s, 16), Be32(s, 20)};
  if (h.width == 0 || h.height == 0) return Malformed("PNG: zero width or height");
  return h;
}

absl::StatusOr<ImageHeader> GifHeader(std::string_view s) {
  // "GIF8?a", logical screen width LE16, height LE16, flags, background, aspect; the global colour
  // table; then extensions (0x21 label sub-blocks...) until the first image descriptor (0x2C).
  if (s.size() < 13) return Malformed("GIF: truncated");
  ImageHeader h{ImageFormat::kGif, Le16(s, 6), Le16(s, 8)};
  const unsigned flags = Byte(s, 10);
  size_t pos = 13;
  if (flags & 0x80) pos += 3u << ((flags & 7) + 1);
  while (pos < s.size()) {
    const unsigned block = Byte(s, pos++);
    if (block == 0x2C) {
      if (pos + 8 > s.size()) break;
      h.width = std::max<int64_t>(h.width, Le16(s, pos + 4));
      h.height = std::max<int64_t>(h.height, Le16(s, pos + 6));
      if (h.width == 0 || h.height == 0) return Malformed("GIF: zero width or height");
      return h;
    }
    if (block != 0x21) return Malformed("GIF: unexpected block");
    ++pos;  // the extension's label
    while (pos < s.size()) {
      const unsigned size = Byte(s, pos++);
      if (size == 0) break;
      pos += size;
    }
  }
  return Malformed("GIF: truncated before the first image");
}

absl::StatusOr<ImageHeader> WebpHeader(std::string_view s) {
  // "RIFF" size "WEBP", then the first chunk: fourcc, size, data (at 20).
  if (s.size() < 30) return Malformed("WebP: truncated");
  const std::string_view chunk = s.substr(12, 4);
  ImageHeader h{ImageFormat::kWebp, 0, 0};
  if (chunk == "VP8 ") {
    // Lossy: frame tag (3), start code 9D 01 2A, width and height LE16 (14 bits each, 2 scale bits).
    if (Byte(s, 23) != 0x9D || Byte(s, 24) != 0x01 || Byte(s, 25) != 0x2A) return Malformed("WebP: VP8 start code");
    h.width = Le16(s, 26) & 0x3FFF;
    h.height = Le16(s, 28) & 0x3FFF;
  } else if (chunk == "VP8L") {
    // Lossless: signature 0x2F, then width-1 and height-1 in 14 bits each.
    if (Byte(s, 20) != 0x2F) return Malformed("WebP: VP8L signature");
    const uint32_t bits = Le32(s, 21);
    h.width = (bits & 0x3FFF) + 1;
    h.height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (chunk == "VP8X") {
    // Extended: flags (1), reserved (3), canvas width-1 and height-1 in 24 bits each.
    h.width = int64_t{Le24(s, 24)} + 1;
    h.height = int64_t{Le24(s, 27)} + 1;
  } else {
    return Malformed("WebP: unknown first chunk");
  }
  if (h.width == 0 || h.height == 0) return Malformed("WebP: zero width or height");
  return h;
}

// libgd reports decoding problems through this (its default prints to stderr).
void GdError(int priority, const char* format, va_list args) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, format, args);
  crm::log::Debug("libgd", {{"priority", priority}, {"message", std::string_view(buf)}});
}

// libgd and the codecs it pulls in (AVIF, HEIF, x265, TIFF, X11 …) are loaded on the first thumbnail,
// not at start: they are about 4.5 MB of the service's resident memory, and most replicas never decode
// an image (issue 14's idle-RSS budget). The functions used, resolved once.
struct Gd {
  decltype(&gdImageCreateFromJpegPtrEx) from_jpeg = nullptr;
  decltype(&gdImageCreateFromPngPtr) from_png = nullptr;
  decltype(&gdImageCreateFromGifPtr) from_gif = nullptr;
  decltype(&gdImageCreateFromWebpPtr) from_webp = nullptr;
  decltype(&gdImageCreateTrueColor) create_true_color = nullptr;
  decltype(&gdImagePaletteToTrueColor) palette_to_true_color = nullptr;
  decltype(&gdImageAlphaBlending) alpha_blending = nullptr;
  decltype(&gdImageSaveAlpha) save_alpha = nullptr;
  decltype(&gdImageCopyResampled) copy_resampled = nullptr;
  decltype(&gdImageJpegPtr) jpeg_ptr = nullptr;
  decltype(&gdImagePngPtrEx) png_ptr = nullptr;
  decltype(&gdImageDestroy) destroy = nullptr;
  decltype(&gdFree) free = nullptr;
  decltype(&gdSetErrorMethod) set_error_method = nullptr;
};

// The loaded library, or nullptr when libgd cannot be loaded (the error is logged once).
const Gd* LoadGd() {
  static const Gd* const gd = []() -> const Gd* {
    void* lib = ::dlopen("libgd.so.3", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      crm::log::Error("cannot load libgd: no thumbnails", {{"error", std::string_view(::dlerror())}});
      return nullptr;
    }
    auto* g = new Gd;
    bool ok = true;
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      if (fn == nullptr) ok = false;
    };
    bind(g->from_jpeg, "gdImageCreateFromJpegPtrEx");
    bind(g->from_png, "gdImageCreateFromPngPtr");
    bind(g->from_gif, "gdImageCreateFromGifPtr");
    bind(g->from_webp, "gdImageCreateFromWebpPtr");
    bind(g->create_true_color, "gdImageCreateTrueColor");
    bind(g->palette_to_true_color, "gdImagePaletteToTrueColor");
    bind(g->alpha_blending, "gdImageAlphaBlending");
    bind(g->save_alpha, "gdImageSaveAlpha");
    bind(g->copy_resampled, "gdImageCopyResampled");
    bind(g->jpeg_ptr, "gdImageJpegPtr");
    bind(g->png_ptr, "gdImagePngPtrEx");
    bind(g->destroy, "gdImageDestroy");
    bind(g->free, "gdFree");
    bind(g->set_error_method, "gdSetErrorMethod");
    if (!ok) {
      crm::log::Error("libgd lacks a function the thumbnails need: no thumbnails", {});
      return nullptr;
    }
    g->set_error_method(GdError);
    return g;
  }();
  return gd;
}

struct GdImageDeleter {
  void operator()(gdImage* im) const { LoadGd()->destroy(im); }
};
using GdImage = std::unique_ptr<gdImage, GdImageDeleter>;

struct GdFreeDeleter {
  void operator()(void* p) const { LoadGd()->free(p); }
};

// At most kMaxConcurrentDecodes holders at a time.
class DecodeSlot {
 public:
  DecodeSlot() {
    Mu().LockWhen(absl::Condition(+[](int* n) { return *n < kMaxConcurrentDecodes; }, &InFlight()));
    ++InFlight();
    Mu().Unlock();
  }
  ~DecodeSlot() {
    absl::MutexLock lock(&Mu());
    --InFlight();
  }
  DecodeSlot(const DecodeSlot&) = delete;
  DecodeSlot& operator=(const DecodeSlot&) = delete;

 private:
  static absl::Mutex& Mu() {
    static absl::Mutex* mu = new absl::Mutex();
    return *mu;
  }
  static int& InFlight() {
    static int n = 0;
    return n;
  }
};

GdImage Decode(const Gd& gd, ImageFormat format, std::string_view content) {
  void* data = const_cast<char*>(content.data());  // libgd only reads it
  const int size = static_cast<int>(content.size());
  switch (format) {
    case ImageFormat::kJpeg:
      return GdImage(gd.from_jpeg(size, data, /*ignore_warning=*/1));
    case ImageFormat::kPng:
      return GdImage(gd.from_png(size, data));
    case ImageFormat::kGif:
      return GdImage(gd.from_gif(size, data));
    case ImageFormat::kWebp:
      return GdImage(gd.from_webp(size, data));
    case ImageFormat::kUnknown:
      break;
  }
  return nullptr;
}

}  // namespace

ImageFormat SniffImageFormat(std::string_view s) {
  if (s.size() >= 3 && Byte(s, 0) == 0xFF && Byte(s, 1) == 0xD8 && Byte(s, 2) == 0xFF) return ImageFormat::kJpeg;
  if (s.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (s.substr(0, 6) == "GIF87a" || s.substr(0, 6) == "GIF89a") return ImageFormat::kGif;
  if (s.size() >= 12 && s.substr(0, 4) == "RIFF" && s.substr(8, 4) == "WEBP") return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

std::string_view ImageMimeType(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kGif:
      return "image/gif";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kUnknown:
      break;
  }
  return "";
}

absl::StatusOr<ImageHeader> ReadImageHeader(std::string_view content) {
  switch (SniffImageFormat(content)) {
    case ImageFormat::kJpeg:
      return JpegHeader(content);
    case ImageFormat::kPng:
      return PngHeader(content);
    case ImageFormat::kGif:
      return GifHeader(content);
    case ImageFormat::kWebp:
      return WebpHeader(content);
    case ImageFormat::kUnknown:
      break;
  }
  return absl::InvalidArgumentError("not an image");
}

Size FitWithin(int64_t width, int64_t height, int64_t max_side) {
  if (width <= max_side && height <= max_side) return {width, height};
  // Scale the longer side to max_side and the other in proportion, rounded to the nearest pixel.
  if (width >= height) return {max_side, std::max<int64_t>(1, (height * max_side + width / 2) / width)};
  return {std::max<int64_t>(1, (width * max_side + height / 2) / height), max_side};
}

absl::StatusOr<Thumbnail> MakeThumbnail(std::string_view content, const ThumbnailOptions& options) {
  const ImageFormat format = SniffImageFormat(content);
  if (format == ImageFormat::kUnknown) return absl::InvalidArgumentError("not an image");
  absl::StatusOr<ImageHeader> header = ReadImageHeader(content);
  if (!header.ok()) return absl::DataLossError(header.status().message());
  if (header->width > options.max_source_pixels / header->height) {
    return absl::ResourceExhaustedError(
        absl::StrCat("image of ", header->width, "x", header->height, " is larger than ", options.max_source_pixels,
                     " pixels"));
  }
  if (content.size() > static_cast<size_t>(INT32_MAX)) return absl::ResourceExhaustedError("image file too large");

  const Gd* gd = LoadGd();
  if (gd == nullptr) return absl::UnavailableError("image support (libgd) is not installed");
  DecodeSlot slot;
  GdImage src = Decode(*gd, format, content);
  if (src == nullptr) return absl::DataLossError("cannot decode the image");
  const int64_t sw = gdImageSX(src.get());
  const int64_t sh = gdImageSY(src.get());
  // The decoder may disagree with the header we read (a GIF frame, an odd JPEG): check again.
  if (sw <= 0 || sh <= 0 || sw > options.max_source_pixels / sh) {
    return absl::ResourceExhaustedError("decoded image is larger than allowed");
  }
  if (!gdImageTrueColor(src.get()) && !gd->palette_to_true_color(src.get())) {
    return absl::InternalError("cannot convert the palette image");
  }
  const Size fit = FitWithin(sw, sh, options.max_side);
  GdImage dst(gd->create_true_color(static_cast<int>(fit.width), static_cast<int>(fit.height)));
  if (dst == nullptr) return absl::InternalError("cannot allocate the thumbnail");
  const bool jpeg = format == ImageFormat::kJpeg;
  if (!jpeg) {
    // Write the resampled alpha as it is (no blending onto the black canvas) and keep it in the PNG.
    gd->alpha_blending(dst.get(), 0);
    gd->save_alpha(dst.get(), 1);
  }
  gd->copy_resampled(dst.get(), src.get(), 0, 0, 0, 0, static_cast<int>(fit.width), static_cast<int>(fit.height),
                       static_cast<int>(sw), static_cast<int>(sh));
  src.reset();

  int size = 0;
  std::unique_ptr<void, GdFreeDeleter> out(jpeg ? gd->jpeg_ptr(dst.get(), &size, kJpegQuality)
                                                : gd->png_ptr(dst.get(), &size, kPngCompression));
  if (out == nullptr || size <= 0) return absl::InternalError("cannot encode the thumbnail");
  Thumbnail t;
  t.content.assign(static_cast<const char*>(out.get()), static_cast<size_t>(size));
  t.content_type = jpeg ? "image/jpeg" : "image/png";
  t.width = static_cast<int>(fit.width);
  t.height = static_cast<int>(fit.height);
  return t;
}

}  // namespace crm::deals
