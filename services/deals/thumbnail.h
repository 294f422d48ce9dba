// File: services/deals/thumbnail.h
// -----------------------------------------------------------------------------
// Thumbnails of image attachments (D10). An upload is an image when its first bytes say so (JPEG, PNG,
// GIF or WebP magic), whatever content type the client declared. Its dimensions are read from the file
// header before anything is decoded, so a small file declaring a huge picture (a "decompression bomb")
// is refused without allocating its pixels. Decoding and encoding use libgd (Debian libgd-dev).
//
// The thumbnail fits inside 256 x 256 keeping the aspect ratio and is never larger than the source (a
// small image keeps its size). Its format: JPEG (quality 85) for a JPEG source — photos, no alpha —
// and PNG for PNG, GIF and WebP sources, which may be transparent (the alpha channel is kept). An
// animated GIF or WebP gives its first frame. The EXIF orientation of a JPEG is not applied.
//
// Example:
//   absl::StatusOr<crm::deals::Thumbnail> t = crm::deals::MakeThumbnail(upload_bytes);
//   if (t.ok()) {
//     store(t->content);   // t->content_type "image/png", t->width <= 256, t->height <= 256
//   }                      // else: not an image, corrupt, or too large: keep the file without one
#ifndef CRM_SERVICES_DEALS_THUMBNAIL_H_
#define CRM_SERVICES_DEALS_THUMBNAIL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::deals {

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kWebp };

// The format the magic bytes at the start of `content` announce; kUnknown for anything else. Looks at
// no more than the first 16 bytes and decodes nothing.
ImageFormat SniffImageFormat(std::string_view content);

// The MIME type of `format` ("image/jpeg", "image/png", "image/gif", "image/webp"); "" for kUnknown.
std::string_view ImageMimeType(ImageFormat format);

// What an image's header declares.
struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int64_t width = 0;
  int64_t height = 0;
};

// Reads the format and declared dimensions from the header of `content` without decoding pixels.
// INVALID_ARGUMENT when `content` is not one of the four formats or its header is truncated or
// malformed (a zero width or height included). For a GIF the dimensions are the larger of the logical
// screen and the first frame.
absl::StatusOr<ImageHeader> ReadImageHeader(std::string_view content);

// The largest (width, height) that fits inside max_side x max_side with the aspect ratio of
// width x height (each side at least 1), and never larger than the source. Requires width, height,
// max_side > 0.
struct Size {
  int64_t width = 0;
  int64_t height = 0;
  friend bool operator==(const Size&, const Size&) = default;
};
Size FitWithin(int64_t width, int64_t height, int64_t max_side);

struct ThumbnailOptions {
  // Both sides of the thumbnail are at most this.
  int max_side = 256;
  // Images whose header declares more pixels than this are not decoded (40 megapixels).
  int64_t max_source_pixels = int64_t{40'000'000};
};

// A thumbnail, ready to store.
struct Thumbnail {
  std::string content;       // the encoded image
  std::string content_type;  // "image/jpeg" or "image/png"
  int width = 0;
  int height = 0;
};

// Makes the thumbnail of image `content` (see the file comment for size and format). Errors, none of
// which a caller needs to pass on to the uploader: INVALID_ARGUMENT "not an image" when the magic bytes
// match no supported format; RESOURCE_EXHAUSTED when the declared dimensions exceed
// options.max_source_pixels (nothing is decoded); DATA_LOSS when the image is corrupt or truncated and
// cannot be decoded; INTERNAL when encoding fails. Thread-safe; at most two decodes run at once in the
// process (others wait), which bounds the memory decoding takes (4 bytes a pixel).
absl::StatusOr<Thumbnail> MakeThumbnail(std::string_view content, const ThumbnailOptions& options = {});

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_THUMBNAIL_H_
