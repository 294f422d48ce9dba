// File: services/deals/timeline_test.cc
// Image thumbnails of attachments (thumbnail.h) and attachment download (TimelineService.GetAttachment):
// header parsing and fitting as plain functions, then uploads and downloads through an in-process
// crm::rpc::Server (DealService and TimelineService, signed principals) on the ServiceTest harness
// (deals_testing.h): a fresh PostgreSQL database per test (CRM_TEST_PG_DSN), with a temp-dir blob store.
// Test images are drawn and checked with libgd.
#include <gd.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/deals/v1/tasks.grpc.pb.h"
#include "libs/auth/secrets.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/rpc/call.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/thumbnail.h"
#include "services/deals/timeline.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using grpc::StatusCode;

using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids

// ---------------------------------------------------------------------------------------------------
// Images made with libgd

struct GdDeleter {
  void operator()(gdImage* im) const { gdImageDestroy(im); }
};
using Image = std::unique_ptr<gdImage, GdDeleter>;

enum class Encoding { kJpeg, kPng, kGif, kWebpLossy, kWebpLossless };

// A width x height image: opaque red, with a fully transparent left half when `transparent_left`.
Image Draw(int width, int height, bool transparent_left = false) {
  Image im(gdImageCreateTrueColor(width, height));
  gdImageAlphaBlending(im.get(), 0);
  gdImageSaveAlpha(im.get(), 1);
  gdImageFilledRectangle(im.get(), 0, 0, width - 1, height - 1, gdTrueColorAlpha(220, 20, 20, 0));
  if (transparent_left) {
    gdImageFilledRectangle(im.get(), 0, 0, width / 2 - 1, height - 1, gdTrueColorAlpha(0, 0, 0, gdAlphaTransparent));
  }
  return im;
}

std::string Encode(gdImage* im, Encoding e) {
  int size = 0;
  void* data = nullptr;
  switch (e) {
    case Encoding::kJpeg:
      data = gdImageJpegPtr(im, &size, 90);
      break;
    case Encoding::kPng:
      data = gdImagePngPtr(im, &size);
      break;
    case Encoding::kGif:
      data = gdImageGifPtr(im, &size);
      break;
    case Encoding::kWebpLossy:
      data = gdImageWebpPtrEx(im, &size, 80);
      break;
    case Encoding::kWebpLossless:
      data = gdImageWebpPtrEx(im, &size, gdWebpLossless);
      break;
  }
  EXPECT_NE(data, nullptr);
  std::string out(static_cast<const char*>(data), static_cast<size_t>(size));
  gdFree(data);
  return out;
}

std::string MakeImage(int width, int height, Encoding e, bool transparent_left = false) {
  Image im = Draw(width, height, transparent_left);
  return Encode(im.get(), e);
}

// Decodes `content` (JPEG or PNG by `content_type`); nullptr when it does not decode.
Image Decode(const std::string& content, const std::string& content_type) {
  void* data = const_cast<char*>(content.data());
  const int size = static_cast<int>(content.size());
  if (content_type == "image/jpeg") return Image(gdImageCreateFromJpegPtr(size, data));
  if (content_type == "image/png") return Image(gdImageCreateFromPngPtr(size, data));
  return nullptr;
}

// ---------------------------------------------------------------------------------------------------
// Headers and fitting (no database)

TEST(ThumbnailTest, FitWithinKeepsTheAspectRatioAndNeverUpscales) {
  EXPECT_EQ(FitWithin(1024, 768, 256), (Size{256, 192}));
  EXPECT_EQ(FitWithin(100, 400, 256), (Size{64, 256}));
  EXPECT_EQ(FitWithin(256, 256, 256), (Size{256, 256}));
  EXPECT_EQ(FitWithin(40, 30, 256), (Size{40, 30}));        // small: as it is
  EXPECT_EQ(FitWithin(10000, 3, 256), (Size{256, 1}));      // at least one pixel
  EXPECT_EQ(FitWithin(1000, 999, 256), (Size{256, 256}));   // rounded to the nearest pixel
  EXPECT_EQ(FitWithin(257, 100, 256), (Size{256, 100}));
}

TEST(ThumbnailTest, HeadersOfEveryFormatGiveTheDimensionsWithoutDecoding) {
  const struct {
    Encoding encoding;
    ImageFormat format;
  } cases[] = {{Encoding::kJpeg, ImageFormat::kJpeg},
               {Encoding::kPng, ImageFormat::kPng},
               {Encoding::kGif, ImageFormat::kGif},
               {Encoding::kWebpLossy, ImageFormat::kWebp},
               {Encoding::kWebpLossless, ImageFormat::kWebp}};
  for (const auto& c : cases) {
    const std::string image = MakeImage(300, 200, c.encoding);
    EXPECT_EQ(SniffImageFormat(image), c.format);
    absl::StatusOr<ImageHeader> h = ReadImageHeader(image);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->format, c.format);
    EXPECT_EQ(h->width, 300);
    EXPECT_EQ(h->height, 200);
  }
  // An extended WebP (VP8X) names its canvas: 24-bit width-1 and height-1.
  std::string vp8x("RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x10\0\0\0", 24);
  vp8x += std::string("\x3f\x1f\x00\x1f\x4e\x00", 6);  // 8000 x 20000
  absl::StatusOr<ImageHeader> h = ReadImageHeader(vp8x);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->width, 8000);
  EXPECT_EQ(h->height, 20000);

  EXPECT_EQ(SniffImageFormat("%PDF-1.4"), ImageFormat::kUnknown);
  EXPECT_EQ(ReadImageHeader("%PDF-1.4").status().code(), absl::StatusCode::kInvalidArgument);
  const std::string png = MakeImage(300, 200, Encoding::kPng);
  EXPECT_EQ(ReadImageHeader(png.substr(0, 20)).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string jpeg = MakeImage(300, 200, Encoding::kJpeg);
  EXPECT_EQ(ReadImageHeader(jpeg.substr(0, 4)).status().code(), absl::StatusCode::kInvalidArgument);
}

// A PNG whose IHDR declares width x height (the CRC is left stale: it is never decoded).
std::string PngDeclaring(uint32_t width, uint32_t height) {
  std::string png = MakeImage(8, 8, Encoding::kPng);
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<char>((width >> (24 - 8 * i)) & 0xFF);
    png[20 + i] = static_cast<char>((height >> (24 - 8 * i)) & 0xFF);
  }
  return png;
}

// A JPEG whose frame header declares width x height.
std::string JpegDeclaring(uint16_t width, uint16_t height) {
  std::string jpeg = MakeImage(8, 8, Encoding::kJpeg);
  const size_t sof = jpeg.find("\xFF\xC0");
  EXPECT_NE(sof, std::string::npos);
  jpeg[sof + 5] = static_cast<char>(height >> 8);
  jpeg[sof + 6] = static_cast<char>(height & 0xFF);
  jpeg[sof + 7] = static_cast<char>(width >> 8);
  jpeg[sof + 8] = static_cast<char>(width & 0xFF);
  return jpeg;
}

TEST(ThumbnailTest, ImagesDeclaringTooManyPixelsAreNotDecoded) {
  // 100 000 x 100 000 is 10 gigapixels in a file of a few hundred bytes.
  absl::StatusOr<Thumbnail> bomb = MakeThumbnail(PngDeclaring(100000, 100000));
  EXPECT_EQ(bomb.status().code(), absl::StatusCode::kResourceExhausted) << bomb.status();
  bomb = MakeThumbnail(JpegDeclaring(65000, 65000));
  EXPECT_EQ(bomb.status().code(), absl::StatusCode::kResourceExhausted) << bomb.status();
  // The limit is the declared product: a real 300 x 200 image is refused under a 50 000 pixel limit.
  const std::string real = MakeImage(300, 200, Encoding::kPng);
  EXPECT_EQ(MakeThumbnail(real, {.max_source_pixels = 50000}).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(MakeThumbnail(real, {.max_source_pixels = 60000}).ok());
  EXPECT_EQ(MakeThumbnail("plain text").status().code(), absl::StatusCode::kInvalidArgument);
  // A header that is fine in front of garbage: not decodable.
  std::string corrupt = real.substr(0, 40) + std::string(200, '\x5a');
  EXPECT_EQ(MakeThumbnail(corrupt).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ThumbnailTest, ThumbnailsOfEveryFormatFitAndDecode) {
  for (Encoding e : {Encoding::kJpeg, Encoding::kPng, Encoding::kGif, Encoding::kWebpLossy,
                     Encoding::kWebpLossless}) {
    absl::StatusOr<Thumbnail> t = MakeThumbnail(MakeImage(600, 300, e));
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->content_type, e == Encoding::kJpeg ? "image/jpeg" : "image/png");
    EXPECT_EQ(t->width, 256);
    EXPECT_EQ(t->height, 128);
    Image decoded = Decode(t->content, t->content_type);
    ASSERT_NE(decoded, nullptr);
    EXPECT_EQ(gdImageSX(decoded.get()), 256);
    EXPECT_EQ(gdImageSY(decoded.get()), 128);
    // The picture survives: the middle is (nearly) the red it was drawn in.
    const int c = gdImageGetTrueColorPixel(decoded.get(), 128, 64);
    EXPECT_NEAR(gdTrueColorGetRed(c), 220, 12);
    EXPECT_NEAR(gdTrueColorGetGreen(c), 20, 12);
    EXPECT_NEAR(gdTrueColorGetBlue(c), 20, 12);
  }
}

// ---------------------------------------------------------------------------------------------------
// Upload and download through TimelineService

class AttachmentsTest : public ServiceTest {
 protected:
  AttachmentsTest() : ServiceTest("dtimeline") {}

  void SetUp() override {
    clock_.Set(absl::FromUnixSeconds(1'800'000'000));
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    Sql(absl::StrCat("INSERT INTO pipelines (id, name, currency) VALUES ('", kPipeline, "', 'Продажа', 'RUB');",
                     "INSERT INTO stages (id, pipeline_id, position, name, kind, gates) VALUES ('", kNew, "', '",
                     kPipeline, "', 1, 'Неразобранное', 1, '{}');"));
    blob_dir_ = std::filesystem::temp_directory_path() / absl::StrCat("dtimeline-blobs-", NewUuidV7());
    blobs_ = std::make_unique<LocalDirBlobStore>(blob_dir_.string(), kMaxAttachmentBytes);
    deals_ = std::make_unique<DealStore>(*pool_, clock_);
    timeline_ = std::make_unique<TimelineStore>(*pool_, clock_, *blobs_);
    deal_service_ = std::make_unique<DealServiceImpl>(*deals_);
    timeline_service_ = std::make_unique<TimelineServiceImpl>(*timeline_);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(32 << 20);
    auto channel = Serve({deal_service_.get(), timeline_service_.get()}, args);
    deal_stub_ = v1::DealService::NewStub(channel);
    timeline_stub_ = v1::TimelineService::NewStub(channel);
  }

  void TearDown() override {
    ServiceTest::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(blob_dir_, ec);
  }

  // Files in the blob store.
  int BlobCount() {
    int n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(blob_dir_)) n += e.is_regular_file();
    return n;
  }

  v1::Deal MustDeal(const Principal& p) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CreateDealRequest req;
    req.mutable_deal()->set_name("Квартира");
    req.mutable_deal()->set_pipeline_id(kPipeline);
    v1::Deal out;
    grpc::Status s = deal_stub_->CreateDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    clock_.Advance(absl::Seconds(1));
    return out;
  }
  grpc::Status Upload(const Principal& p, const std::string& deal_id, const std::string& file_name,
                      const std::string& content_type, const std::string& content, v1::Attachment* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::UploadAttachmentRequest req;
    req.set_deal_id(deal_id);
    req.set_file_name(file_name);
    req.set_content_type(content_type);
    req.set_content(content);
    return timeline_stub_->UploadAttachment(&ctx, req, out);
  }
  v1::Attachment MustUpload(const std::string& deal_id, const std::string& file_name,
                            const std::string& content_type, const std::string& content) {
    v1::Attachment out;
    grpc::Status s = Upload(Anna(), deal_id, file_name, content_type, content, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  grpc::Status Get(const Principal& p, const std::string& deal_id, const std::string& id,
                   v1::GetAttachmentRequest::View view, v1::AttachmentContent* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::GetAttachmentRequest req;
    req.set_deal_id(deal_id);
    req.set_id(id);
    req.set_view(view);
    return timeline_stub_->GetAttachment(&ctx, req, out);
  }

  std::filesystem::path blob_dir_;
  std::unique_ptr<LocalDirBlobStore> blobs_;
  std::unique_ptr<DealStore> deals_;
  std::unique_ptr<TimelineStore> timeline_;
  std::unique_ptr<DealServiceImpl> deal_service_;
  std::unique_ptr<TimelineServiceImpl> timeline_service_;
  std::unique_ptr<v1::DealService::Stub> deal_stub_;
  std::unique_ptr<v1::TimelineService::Stub> timeline_stub_;
};

TEST_F(AttachmentsTest, JpegGetsAJpegThumbnailThatFitsAndDecodes) {
  const v1::Deal deal = MustDeal(Anna());
  const std::string photo = MakeImage(1024, 768, Encoding::kJpeg);
  const v1::Attachment a = MustUpload(deal.id(), "фасад.jpg", "image/jpeg", photo);
  EXPECT_EQ(a.content_type(), "image/jpeg");
  EXPECT_EQ(a.size_bytes(), static_cast<int64_t>(photo.size()));
  EXPECT_EQ(a.thumbnail_width(), 256);
  EXPECT_EQ(a.thumbnail_height(), 192);
  EXPECT_EQ(a.thumbnail_content_type(), "image/jpeg");
  EXPECT_GT(a.thumbnail_size_bytes(), 0);
  EXPECT_EQ(BlobCount(), 2);  // the photo and its thumbnail

  v1::AttachmentContent thumb;
  grpc::Status s = Get(Anna(), deal.id(), a.id(), v1::GetAttachmentRequest::THUMBNAIL, &thumb);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(thumb.content_type(), "image/jpeg");
  EXPECT_EQ(static_cast<int64_t>(thumb.content().size()), a.thumbnail_size_bytes());
  EXPECT_EQ(thumb.attachment().thumbnail_width(), 256);
  Image decoded = Decode(thumb.content(), thumb.content_type());
  ASSERT_NE(decoded, nullptr);
  EXPECT_EQ(gdImageSX(decoded.get()), 256);
  EXPECT_EQ(gdImageSY(decoded.get()), 192);

  v1::AttachmentContent full;
  ASSERT_TRUE(Get(Anna(), deal.id(), a.id(), v1::GetAttachmentRequest::VIEW_UNSPECIFIED, &full).ok());
  EXPECT_EQ(full.content(), photo);
  EXPECT_EQ(full.content_type(), "image/jpeg");
  EXPECT_EQ(full.attachment().sha256(), auth::Sha256Hex(photo));
}

TEST_F(AttachmentsTest, ImagesAreKnownByContentAndTransparentOnesGetAPngKeepingAlpha) {
  const v1::Deal deal = MustDeal(Anna());
  // Declared as an octet stream and without an extension: the PNG magic decides.
  const std::string png = MakeImage(100, 400, Encoding::kPng, /*transparent_left=*/true);
  const v1::Attachment a = MustUpload(deal.id(), "scan", "application/octet-stream", png);
  EXPECT_EQ(a.content_type(), "application/octet-stream");  // as declared
  EXPECT_EQ(a.thumbnail_width(), 64);
  EXPECT_EQ(a.thumbnail_height(), 256);
  EXPECT_EQ(a.thumbnail_content_type(), "image/png");
  v1::AttachmentContent thumb;
  ASSERT_TRUE(Get(Lena(), deal.id(), a.id(), v1::GetAttachmentRequest::THUMBNAIL, &thumb).ok());
  Image decoded = Decode(thumb.content(), "image/png");
  ASSERT_NE(decoded, nullptr);
  EXPECT_EQ(gdImageSX(decoded.get()), 64);
  EXPECT_EQ(gdImageSY(decoded.get()), 256);
  EXPECT_EQ(gdTrueColorGetAlpha(gdImageGetTrueColorPixel(decoded.get(), 5, 128)), gdAlphaTransparent);
  const int right = gdImageGetTrueColorPixel(decoded.get(), 58, 128);
  EXPECT_EQ(gdTrueColorGetAlpha(right), 0);
  EXPECT_NEAR(gdTrueColorGetRed(right), 220, 4);

  // A small GIF without a declared type: the type comes from the content, the thumbnail keeps its size.
  const v1::Attachment gif = MustUpload(deal.id(), "icon", "", MakeImage(40, 30, Encoding::kGif));
  EXPECT_EQ(gif.content_type(), "image/gif");
  EXPECT_EQ(gif.thumbnail_width(), 40);
  EXPECT_EQ(gif.thumbnail_height(), 30);
  EXPECT_EQ(gif.thumbnail_content_type(), "image/png");
  // A WebP photo.
  const v1::Attachment webp = MustUpload(deal.id(), "photo.webp", "image/webp", MakeImage(512, 512, Encoding::kWebpLossy));
  EXPECT_EQ(webp.thumbnail_width(), 256);
  EXPECT_EQ(webp.thumbnail_height(), 256);
}

TEST_F(AttachmentsTest, CorruptBombAndNonImagesAreStoredWithoutAThumbnail) {
  const v1::Deal deal = MustDeal(Anna());
  const std::string png = MakeImage(640, 480, Encoding::kPng);
  const struct {
    std::string name;
    std::string content;
  } cases[] = {
      {"truncated.png", png.substr(0, png.size() / 2)},
      {"garbage.jpg", std::string("\xFF\xD8\xFF\xE0", 4) + std::string(500, '\x11')},
      {"bomb.png", PngDeclaring(50000, 50000)},
      {"bomb.jpg", JpegDeclaring(60000, 60000)},
      {"plan.pdf", "%PDF-1.4 план"},
  };
  for (const auto& c : cases) {
    v1::Attachment a;
    grpc::Status s = Upload(Anna(), deal.id(), c.name, "image/png", c.content, &a);
    ASSERT_TRUE(s.ok()) << c.name << ": " << s.error_message();
    EXPECT_EQ(a.thumbnail_width(), 0) << c.name;
    EXPECT_EQ(a.thumbnail_height(), 0) << c.name;
    EXPECT_EQ(a.thumbnail_content_type(), "") << c.name;
    v1::AttachmentContent got;
    s = Get(Anna(), deal.id(), a.id(), v1::GetAttachmentRequest::THUMBNAIL, &got);
    EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND) << c.name;
    EXPECT_TRUE(absl::StrContains(s.error_message(), "thumbnail")) << s.error_message();
    ASSERT_TRUE(Get(Anna(), deal.id(), a.id(), v1::GetAttachmentRequest::CONTENT, &got).ok()) << c.name;
    EXPECT_EQ(got.content(), c.content) << c.name;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM attachments WHERE thumbnail_sha256 IS NULL AND thumbnail_width IS NULL"), 5);
  EXPECT_EQ(BlobCount(), 5);  // no thumbnails were stored
}

// Issue 15: a file's name is one path component without control characters, and its media type has the
// type/subtype shape — they go back out in Content-Disposition and Content-Type.
TEST_F(AttachmentsTest, PathsHeaderBreaksAndMalformedMediaTypesAreRefused) {
  const v1::Deal deal = MustDeal(Anna());
  v1::Attachment a;
  for (const char* name : {"../../etc/passwd", "a\\b.pdf", "отчёт\r\nSet-Cookie: x=1.pdf", ".."}) {
    const absl::Status s = FromGrpcStatus(Upload(Anna(), deal.id(), name, "application/pdf", "%PDF-1.4", &a));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(FieldViolations(s), ::testing::Contains(::testing::Field(&FieldViolation::field, "file_name")))
        << name;
  }
  const absl::Status s =
      FromGrpcStatus(Upload(Anna(), deal.id(), "ok.pdf", "text/html\r\nX-Injected: 1", "%PDF-1.4", &a));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM attachments WHERE deal_id = '", deal.id(), "'")), 0);
  EXPECT_EQ(MustUpload(deal.id(), "Договор №15 (подписан).pdf", "application/pdf", "%PDF-1.4").file_name(),
            "Договор №15 (подписан).pdf");
}

TEST_F(AttachmentsTest, DownloadFollowsTheDealsReadAccess) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Deal other = MustDeal(Anna());
  const std::string png = MakeImage(300, 300, Encoding::kPng);
  const v1::Attachment a = MustUpload(deal.id(), "plan.png", "image/png", png);
  v1::AttachmentContent got;
  // Another manager does not see the deal, so neither the attachment nor its thumbnail exist for him.
  for (auto view : {v1::GetAttachmentRequest::CONTENT, v1::GetAttachmentRequest::THUMBNAIL,
                    v1::GetAttachmentRequest::METADATA}) {
    grpc::Status s = Get(Boris(), deal.id(), a.id(), view, &got);
    EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
    EXPECT_FALSE(absl::StrContains(s.error_message(), "attachment")) << s.error_message();
  }
  // The team lead and a read-only head of sales may read it.
  EXPECT_TRUE(Get(Lena(), deal.id(), a.id(), v1::GetAttachmentRequest::CONTENT, &got).ok());
  EXPECT_EQ(got.content(), png);
  ASSERT_TRUE(Get(Auditor(), deal.id(), a.id(), v1::GetAttachmentRequest::METADATA, &got).ok());
  EXPECT_TRUE(got.content().empty());
  EXPECT_EQ(got.attachment().file_name(), "plan.png");
  EXPECT_EQ(got.attachment().thumbnail_width(), 256);
  EXPECT_EQ(got.content_type(), "image/png");
  // The attachment through another deal, an unknown one, bad ids.
  EXPECT_EQ(Get(Anna(), other.id(), a.id(), v1::GetAttachmentRequest::CONTENT, &got).error_code(),
            StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(Anna(), deal.id(), NewUuidV7(), v1::GetAttachmentRequest::CONTENT, &got).error_code(),
            StatusCode::NOT_FOUND);
  EXPECT_EQ(Get(Anna(), NewUuidV7(), a.id(), v1::GetAttachmentRequest::CONTENT, &got).error_code(),
            StatusCode::NOT_FOUND);
  grpc::Status s = Get(Anna(), deal.id(), "x", v1::GetAttachmentRequest::CONTENT, &got);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "id")) << s.error_message();
  s = Get(Anna(), deal.id(), a.id(), static_cast<v1::GetAttachmentRequest::View>(9), &got);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  // Uploading stays a write: Boris cannot upload to Anna's deal (nothing stored).
  v1::Attachment none;
  EXPECT_EQ(Upload(Boris(), deal.id(), "x.png", "image/png", png, &none).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Count("SELECT count(*) FROM attachments"), 1);
}

TEST_F(AttachmentsTest, TheTimelineShowsTheThumbnailOfACommentsAttachment) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Attachment image = MustUpload(deal.id(), "photo.jpg", "image/jpeg", MakeImage(800, 200, Encoding::kJpeg));
  const v1::Attachment text = MustUpload(deal.id(), "notes.txt", "text/plain", "заметки");
  grpc::ClientContext ctx;
  As(ctx, Anna());
  v1::AddCommentRequest c;
  c.set_deal_id(deal.id());
  c.set_text("Фото объекта");
  c.add_attachment_ids(image.id());
  c.add_attachment_ids(text.id());
  v1::TimelineEntry entry;
  ASSERT_TRUE(timeline_stub_->AddComment(&ctx, c, &entry).ok());
  ASSERT_EQ(entry.attachments_size(), 2);
  EXPECT_EQ(entry.attachments(0).thumbnail_width(), 256);

  grpc::ClientContext ctx2;
  As(ctx2, Lena());
  v1::ListTimelineRequest lr;
  lr.set_deal_id(deal.id());
  v1::ListTimelineResponse tl;
  ASSERT_TRUE(timeline_stub_->ListTimeline(&ctx2, lr, &tl).ok());
  ASSERT_EQ(tl.entries_size(), 1);
  ASSERT_EQ(tl.entries(0).attachments_size(), 2);
  for (const v1::Attachment& a : tl.entries(0).attachments()) {
    if (a.id() == image.id()) {
      EXPECT_EQ(a.thumbnail_width(), 256);
      EXPECT_EQ(a.thumbnail_height(), 64);
      EXPECT_EQ(a.thumbnail_content_type(), "image/jpeg");
      EXPECT_EQ(a.thumbnail_size_bytes(), image.thumbnail_size_bytes());
    } else {
      EXPECT_EQ(a.id(), text.id());
      EXPECT_EQ(a.thumbnail_width(), 0);
      EXPECT_EQ(a.thumbnail_content_type(), "");
    }
  }
}

// AddComment with an idempotency-key (a robot's retried action): the repeat returns the first entry and
// writes no second comment or event, even though the first already used the attachment; the key with
// another request is refused naming it; concurrent calls with one key make one comment.
TEST_F(AttachmentsTest, AddCommentWithIdempotencyKeyMakesOneComment) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Attachment text = MustUpload(deal.id(), "notes.txt", "text/plain", "заметки");
  auto comment = [&](const v1::AddCommentRequest& req, const std::string& key, v1::TimelineEntry* out) {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    if (!key.empty()) ctx.AddMetadata(rpc::kIdempotencyKeyHeader, key);
    return timeline_stub_->AddComment(&ctx, req, out);
  };
  v1::AddCommentRequest c;
  c.set_deal_id(deal.id());
  c.set_text("Комментарий робота");
  c.add_attachment_ids(text.id());
  v1::TimelineEntry first, again;
  ASSERT_TRUE(comment(c, "rule-7:event-1", &first).ok());
  clock_.Advance(absl::Seconds(5));
  grpc::Status s = comment(c, "rule-7:event-1", &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(Count("SELECT count(*) FROM timeline_entries WHERE kind = 1"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.deal.comment_added.v1'"), 1);

  v1::AddCommentRequest other = c;
  other.clear_attachment_ids();
  other.set_text("Другой текст");
  s = comment(other, "rule-7:event-1", &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "idempotency-key");
  EXPECT_EQ(Count("SELECT count(*) FROM timeline_entries WHERE kind = 1"), 1);

  // Two concurrent calls with one new key: one comment, both get it.
  other.set_text("Одновременно");
  v1::TimelineEntry a, b;
  grpc::Status sa, sb;
  std::thread ta([&] { sa = comment(other, "rule-7:event-2", &a); });
  std::thread tb([&] { sb = comment(other, "rule-7:event-2", &b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(sa.ok()) << sa.error_message();
  ASSERT_TRUE(sb.ok()) << sb.error_message();
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(Count("SELECT count(*) FROM timeline_entries WHERE kind = 1"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.deal.comment_added.v1'"), 2);
  // Without a key every call is a new comment.
  ASSERT_TRUE(comment(other, "", &again).ok());
  ASSERT_TRUE(comment(other, "", &again).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM timeline_entries WHERE kind = 1"), 4);
}

}  // namespace
}  // namespace crm::deals
