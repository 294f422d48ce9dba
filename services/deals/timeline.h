// File: services/deals/timeline.h
// -----------------------------------------------------------------------------
// The deal's timeline (D10): comments with attachments, task entries and the audit history of stage and
// field changes, newest first. Entries are written in the same transaction as the change they record
// (task and comment changes here; deals.cc calls RecordDealChange() for stage and field changes).
// Attachment content goes to a pluggable BlobStore, keyed by the SHA-256 of the content; an image
// upload (JPEG, PNG, GIF, WebP by content) also gets a thumbnail in the same store (thumbnail.h).
//
// What is promised:
//   - the deal's read access (access.h) governs reading its timeline, its write access adding comments
//     and attachments (NOT_FOUND for an invisible deal, PERMISSION_DENIED for a read-only one);
//   - a comment (1..10 000 characters) and its CommentAdded event (crm.deals.deal.comment_added.v1,
//     aggregate "deal") are committed together or not at all;
//   - ListTimeline is newest first, keyset-paginated on (create_time, id) with opaque tokens; a page
//     and its comments' attachments are read on indexes (timeline_deal_time, attachments_entry) however
//     many entries there are (issue 14; lists_plan_test.cc, on 2 000 000 entries);
//   - an image that cannot have a thumbnail (corrupt, more than 40 megapixels) is stored without one:
//     the upload does not fail for it;
//   - GetAttachment serves the content or the thumbnail to whoever may read the deal.
//
// Example:
//   crm::deals::LocalDirBlobStore blobs("/var/lib/crm/deals/blobs", crm::deals::kMaxAttachmentBytes);
//   crm::deals::TimelineStore timeline(*pool, crm::SystemClock(), blobs);
//   crm::deals::TimelineServiceImpl service(timeline);
//   server.AddService(&service);
//   // in a deals transaction:
//   CRM_RETURN_IF_ERROR(crm::deals::RecordDealChange(tx, entry));
#ifndef CRM_SERVICES_DEALS_TIMELINE_H_
#define CRM_SERVICES_DEALS_TIMELINE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/tasks.grpc.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/access.h"
#include "services/deals/deals.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals {

inline constexpr char kCommentAddedType[] = "crm.deals.deal.comment_added.v1";
// The largest attachment UploadAttachment accepts (10 MiB).
inline constexpr int64_t kMaxAttachmentBytes = int64_t{10} << 20;

// Where attachment content lives. Implementations are thread-safe.
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Stores `content` and returns its key (lower-case hex SHA-256 of the content); storing the same
  // content twice returns the same key. INVALID_ARGUMENT "content" when larger than the store allows.
  virtual absl::StatusOr<std::string> Put(std::string_view content) = 0;
  // The content stored under `key`; NOT_FOUND when there is none.
  virtual absl::StatusOr<std::string> Get(std::string_view key) const = 0;
};

// A BlobStore writing files <dir>/<first two hex digits>/<key> (created on demand). Writes go to a
// temporary file first and are renamed into place, so a reader never sees a partial blob.
class LocalDirBlobStore final : public BlobStore {
 public:
  LocalDirBlobStore(std::string dir, int64_t max_bytes);
  absl::StatusOr<std::string> Put(std::string_view content) override;
  absl::StatusOr<std::string> Get(std::string_view key) const override;

 private:
  std::string dir_;
  int64_t max_bytes_;
};

// Inserts `entry` into the timeline inside `tx` (the caller's transaction). Requires deal_id, kind and
// create_time; id is generated when empty. Returns INVALID_ARGUMENT for a missing field. Meant for
// deals.cc: STAGE_CHANGED (field "stage_id", old/new stage ids) and FIELD_CHANGED (field path, old/new
// values as text), actor_id the acting user.
absl::Status RecordDealChange(pqxx::transaction_base& tx, const crm::deals::v1::TimelineEntry& entry);

// Access of one deal as stored, for the tasks and timeline stores: NOT_FOUND "deal not found" when the
// deal does not exist. Locks the deal row when `for_update`.
absl::StatusOr<DealOwnership> LoadDealOwnership(pqxx::transaction_base& tx, const std::string& deal_id,
                                                bool for_update);

// Comments, attachments and the timeline in PostgreSQL. The pool, clock and blob store must outlive it.
class TimelineStore {
 public:
  TimelineStore(pg::Pool& pool, const Clock& clock, BlobStore& blobs);

  // Adds a COMMENT entry with the given attachments (uploaded to the same deal, not yet used by another
  // comment) and writes CommentAdded. With a non-empty `idempotency_key` a repeat by the same caller
  // within 24 hours returns the first entry unchanged and writes nothing; the key reused with a
  // different request is INVALID_ARGUMENT naming "idempotency-key" (libs/pg/idempotency.h; the record
  // commits with the comment).
  absl::StatusOr<crm::deals::v1::TimelineEntry> AddComment(const Actor& actor,
                                                           const crm::deals::v1::AddCommentRequest& req,
                                                           std::string_view idempotency_key = "");
  // The deal's entries, newest first.
  absl::StatusOr<crm::deals::v1::ListTimelineResponse> List(const crm::common::v1::Principal& caller,
                                                            const crm::deals::v1::ListTimelineRequest& req);
  // Stores the content in the blob store and records the attachment (≤ kMaxAttachmentBytes). When the
  // content is an image, also stores its thumbnail and returns its size and type in the attachment
  // (thumbnail_width 0 when it could have none). An empty content_type becomes the image's MIME type,
  // or application/octet-stream.
  absl::StatusOr<crm::deals::v1::Attachment> Upload(const Actor& actor,
                                                    const crm::deals::v1::UploadAttachmentRequest& req);
  // The attachment `req.id` of deal `req.deal_id` with the bytes of `req.view` (the content by
  // default). NOT_FOUND when the caller may not read the deal, the attachment is not the deal's, or the
  // THUMBNAIL view is asked of one without a thumbnail; INTERNAL when the blob store lost the bytes.
  absl::StatusOr<crm::deals::v1::AttachmentContent> GetAttachment(const crm::common::v1::Principal& caller,
                                                                  const crm::deals::v1::GetAttachmentRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  BlobStore& blobs_;
  crm::events::OutboxWriter outbox_;
};

// crm.deals.v1.TimelineService over a TimelineStore (which must outlive it).
class TimelineServiceImpl final : public crm::deals::v1::TimelineService::Service {
 public:
  explicit TimelineServiceImpl(TimelineStore& store) : store_(store) {}
  grpc::Status AddComment(grpc::ServerContext* ctx, const crm::deals::v1::AddCommentRequest* req,
                          crm::deals::v1::TimelineEntry* out) override;
  grpc::Status ListTimeline(grpc::ServerContext* ctx, const crm::deals::v1::ListTimelineRequest* req,
                            crm::deals::v1::ListTimelineResponse* out) override;
  grpc::Status UploadAttachment(grpc::ServerContext* ctx, const crm::deals::v1::UploadAttachmentRequest* req,
                                crm::deals::v1::Attachment* out) override;
  grpc::Status GetAttachment(grpc::ServerContext* ctx, const crm::deals::v1::GetAttachmentRequest* req,
                             crm::deals::v1::AttachmentContent* out) override;

 private:
  TimelineStore& store_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_TIMELINE_H_
