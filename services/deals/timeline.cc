// File: services/deals/timeline.cc
#include "services/deals/timeline.h"

#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/auth/secrets.h"
#include "libs/base/clock.h"
#include "libs/base/file_name.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/idempotent.h"
#include "services/deals/violations.h"
#include "services/deals/sql.h"
#include "services/deals/thumbnail.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr size_t kMaxCommentChars = 10000;
constexpr int kMaxAttachmentsPerComment = 20;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;

bool IsHexKey(std::string_view key) {
  if (key.size() != 64) return false;
  for (char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

constexpr char kEntryColumns[] =
    "e.id::text, e.deal_id::text, e.kind, e.actor_id, (extract(epoch from e.create_time) * 1000000)::bigint, "
    "e.text, COALESCE(e.task_id::text, ''), e.field, e.old_value, e.new_value";

v1::TimelineEntry ReadEntry(const pqxx::row& r) {
  v1::TimelineEntry e;
  e.set_id(r[0].as<std::string>());
  e.set_deal_id(r[1].as<std::string>());
  e.set_kind(static_cast<v1::TimelineEntry::Kind>(r[2].as<int>()));
  e.set_actor_id(r[3].as<std::string>());
  *e.mutable_create_time() = TsFromMicros(r[4].as<int64_t>());
  e.set_text(r[5].as<std::string>());
  e.set_task_id(r[6].as<std::string>());
  e.set_field(r[7].as<std::string>());
  e.set_old_value(r[8].as<std::string>());
  e.set_new_value(r[9].as<std::string>());
  return e;
}

// A comment's time as its deal's latest comment (migration 0013), completed with "<time>) WHERE id = <deal>".
constexpr char kTouchLastCommentSql[] = "UPDATE deals SET last_comment_time = GREATEST(last_comment_time, ";

// The attachment's columns, kAttachmentColumnCount of them, ending with the thumbnail's blob key.
constexpr char kAttachmentColumns[] =
    "a.id::text, a.deal_id::text, a.file_name, a.content_type, a.size_bytes, a.sha256, "
    "(extract(epoch from a.create_time) * 1000000)::bigint, COALESCE(a.thumbnail_width, 0), "
    "COALESCE(a.thumbnail_height, 0), COALESCE(a.thumbnail_content_type, ''), "
    "COALESCE(a.thumbnail_size_bytes, 0), COALESCE(a.thumbnail_sha256, '')";
constexpr int kAttachmentColumnCount = 12;

v1::Attachment ReadAttachment(const pqxx::row& r) {
  v1::Attachment a;
  a.set_id(r[0].as<std::string>());
  a.set_deal_id(r[1].as<std::string>());
  a.set_file_name(r[2].as<std::string>());
  a.set_content_type(r[3].as<std::string>());
  a.set_size_bytes(r[4].as<int64_t>());
  a.set_sha256(r[5].as<std::string>());
  *a.mutable_create_time() = TsFromMicros(r[6].as<int64_t>());
  a.set_thumbnail_width(r[7].as<int>());
  a.set_thumbnail_height(r[8].as<int>());
  a.set_thumbnail_content_type(r[9].as<std::string>());
  a.set_thumbnail_size_bytes(r[10].as<int64_t>());
  return a;
}

std::string EncodeToken(const v1::TimelineEntry& last) {
  return TimePageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id());
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Blob store

LocalDirBlobStore::LocalDirBlobStore(std::string dir, int64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

absl::StatusOr<std::string> LocalDirBlobStore::Put(std::string_view content) {
  if (static_cast<int64_t>(content.size()) > max_bytes_) {
    return InvalidFieldError("content", absl::StrCat("larger than ", max_bytes_, " bytes"));
  }
  const std::string key = crm::auth::Sha256Hex(content);
  namespace fs = std::filesystem;
  const fs::path sub = fs::path(dir_) / key.substr(0, 2);
  const fs::path final_path = sub / key;
  std::error_code ec;
  if (fs::exists(final_path, ec)) return key;
  fs::create_directories(sub, ec);
  if (ec) return absl::InternalError(absl::StrCat("blob store: cannot create ", sub.string(), ": ", ec.message()));
  const fs::path tmp = sub / absl::StrCat(".", key, ".", NewUuidV7(), ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("blob store: cannot write ", tmp.string()));
  }
  fs::rename(tmp, final_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return absl::InternalError(absl::StrCat("blob store: cannot store ", key));
  }
  return key;
}

absl::StatusOr<std::string> LocalDirBlobStore::Get(std::string_view key) const {
  if (!IsHexKey(key)) return absl::NotFoundError("blob not found");
  const std::string k(key);
  std::ifstream in(std::filesystem::path(dir_) / k.substr(0, 2) / k, std::ios::binary);
  if (!in) return absl::NotFoundError("blob not found");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------------
// Shared with tasks.cc and deals.cc

absl::Status RecordDealChange(pqxx::transaction_base& tx, const v1::TimelineEntry& entry) {
  if (!IsUuid(entry.deal_id())) return InvalidFieldError("entry.deal_id", "not a UUID");
  if (entry.kind() == v1::TimelineEntry::KIND_UNSPECIFIED || !v1::TimelineEntry::Kind_IsValid(entry.kind())) {
    return InvalidFieldError("entry.kind", "required");
  }
  if (!entry.has_create_time()) return InvalidFieldError("entry.create_time", "required");
  if (!entry.task_id().empty() && !IsUuid(entry.task_id())) return InvalidFieldError("entry.task_id", "not a UUID");
  SqlParams p;
  const std::string id = entry.id().empty() ? NewUuidV7() : entry.id();
  const std::string sql = absl::StrCat(
      "INSERT INTO timeline_entries (id, deal_id, kind, actor_id, create_time, text, task_id, field, old_value, "
      "new_value) VALUES (",
      p.Add(id), "::uuid, ", p.Add(entry.deal_id()), "::uuid, ", p.Add(absl::StrCat(static_cast<int>(entry.kind()))),
      "::smallint, ", p.Add(entry.actor_id()), ", ", TsParam(p, FromProtoTimestamp(entry.create_time())), ", ",
      p.Add(entry.text()), ", NULLIF(", p.Add(entry.task_id()), ", '')::uuid, ", p.Add(entry.field()), ", ",
      p.Add(entry.old_value()), ", ", p.Add(entry.new_value()), ")");
  ExecPrepared(tx, sql, p);
  return absl::OkStatus();
}

absl::StatusOr<DealOwnership> LoadDealOwnership(pqxx::transaction_base& tx, const std::string& deal_id,
                                                bool for_update) {
  SqlParams p;
  pqxx::result r = ExecPrepared(tx,
                        absl::StrCat("SELECT responsible_id::text, array_to_string(team_ids, ',') FROM deals "
                                     "WHERE id = ",
                                     p.Add(deal_id), "::uuid", for_update ? " FOR UPDATE" : ""),
                        p);
  if (r.empty()) return absl::NotFoundError("deal not found");
  DealOwnership o;
  o.responsible_id = r[0][0].as<std::string>();
  for (absl::string_view t : absl::StrSplit(r[0][1].as<std::string>(), ',', absl::SkipEmpty())) {
    o.team_ids.emplace_back(t);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------
// TimelineStore

TimelineStore::TimelineStore(pg::Pool& pool, const Clock& clock, BlobStore& blobs)
    : pool_(pool), clock_(clock), blobs_(blobs), outbox_("deals", clock) {}

absl::StatusOr<v1::TimelineEntry> TimelineStore::AddComment(const Actor& actor, const v1::AddCommentRequest& req,
                                                            std::string_view idempotency_key) {
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(req.deal_id())) v.Add("deal_id", "not a UUID");
    if (req.text().empty()) v.Add("text", "required");
    if (CodePoints(req.text()) > kMaxCommentChars) v.Add("text", "longer than 10000 characters");
    if (req.attachment_ids_size() > kMaxAttachmentsPerComment) v.Add("attachment_ids", "at most 20");
    for (int i = 0; i < req.attachment_ids_size() && i <= kMaxAttachmentsPerComment; ++i) {
      if (!IsUuid(req.attachment_ids(i))) v.Add(absl::StrCat("attachment_ids[", i, "]"), "not a UUID");
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::TimelineEntry entry;
  entry.set_id(NewUuidV7());
  entry.set_deal_id(req.deal_id());
  entry.set_kind(v1::TimelineEntry::COMMENT);
  entry.set_actor_id(ActingUserId(actor.principal));
  *entry.mutable_create_time() = ToProtoTimestamp(clock_.Now());
  entry.set_text(req.text());
  const v1::TimelineEntry draft = entry;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.TimelineService/AddComment",
                                   .key = std::string(idempotency_key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, clock_.Now(), req, entry, [&]() -> absl::Status {
      entry = draft;
      CRM_ASSIGN_OR_RETURN(DealOwnership own, LoadDealOwnership(tx, req.deal_id(), /*for_update=*/false));
      CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, own));
      CRM_RETURN_IF_ERROR(RecordDealChange(tx, entry));
      {
        // Issue 16: the deal's latest comment (Deal.last_comment_time, comment_since_stage_entry: what
        // a requires_comment gate and the 19:00 report read). Not a change of the deal: no version.
        SqlParams p;
        Exec(tx,
             absl::StrCat(kTouchLastCommentSql, TsParam(p, FromProtoTimestamp(entry.create_time())),
                          ") WHERE id = ", p.Add(req.deal_id()), "::uuid"),
             p);
      }
      for (int i = 0; i < req.attachment_ids_size(); ++i) {
        SqlParams p;
        pqxx::result r = Exec(tx,
                              absl::StrCat("UPDATE attachments a SET entry_id = ", p.Add(entry.id()),
                                           "::uuid WHERE a.id = ", p.Add(req.attachment_ids(i)),
                                           "::uuid AND a.deal_id = ", p.Add(req.deal_id()),
                                           "::uuid AND a.entry_id IS NULL RETURNING ", kAttachmentColumns),
                              p);
        if (r.empty()) {
          return InvalidFieldError(absl::StrCat("attachment_ids[", i, "]"),
                                   "no such unused attachment of this deal");
        }
        *entry.add_attachments() = ReadAttachment(r[0]);
      }
      v1::CommentAdded event;
      *event.mutable_entry() = entry;
      return outbox_
          .Append(tx, {.aggregate_type = "deal",
                       .aggregate_id = req.deal_id(),
                       .type = kCommentAddedType,
                       .payload = &event,
                       .actor = actor.principal,
                       .request_id = actor.request_id,
                       .visible_to_user_ids = {own.responsible_id},
                       .visible_to_team_ids = own.team_ids,
                       .automation_depth = actor.automation_depth,
                       .skip_automation = actor.skip_automation})
          .status();
    });
  }));
  return entry;
}

absl::StatusOr<v1::ListTimelineResponse> TimelineStore::List(const Principal& caller,
                                                             const v1::ListTimelineRequest& req) {
  if (!IsUuid(req.deal_id())) return InvalidFieldError("deal_id", "not a UUID");
  CRM_ASSIGN_OR_RETURN(const int size, PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  CRM_ASSIGN_OR_RETURN(std::optional<TimePageKey> after, DecodeTimePageToken("page_token", req.page_token()));
  v1::ListTimelineResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        CRM_ASSIGN_OR_RETURN(DealOwnership own, LoadDealOwnership(tx, req.deal_id(), /*for_update=*/false));
        CRM_RETURN_IF_ERROR(CheckCanRead(caller, own));
        SqlParams p;
        std::string sql = absl::StrCat("SELECT ", kEntryColumns, " FROM timeline_entries e WHERE e.deal_id = ",
                                       p.Add(req.deal_id()), "::uuid");
        if (after.has_value()) {
          absl::StrAppend(&sql, " AND (e.create_time, e.id) < (", TsParam(p, absl::FromUnixMicros(after->micros)), ", ",
                          p.Add(after->id), "::uuid)");
        }
        absl::StrAppend(&sql, " ORDER BY e.create_time DESC, e.id DESC LIMIT ", size + 1);
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) *out.add_entries() = ReadEntry(r[i]);
        if (static_cast<int>(r.size()) > size) out.set_next_page_token(EncodeToken(out.entries(size - 1)));
        // Attachments of the comments on this page.
        std::vector<std::string> ids;
        for (const auto& e : out.entries()) {
          if (e.kind() == v1::TimelineEntry::COMMENT) ids.push_back(e.id());
        }
        if (!ids.empty()) {
          SqlParams q;
          pqxx::result a = Exec(tx,
                                absl::StrCat("SELECT ", kAttachmentColumns, ", a.entry_id::text FROM attachments a "
                                             "WHERE a.entry_id = ANY(", q.Add(ArrayLiteral(ids)),
                                             "::uuid[]) ORDER BY a.create_time, a.id"),
                                q);
          for (const pqxx::row& row : a) {
            const std::string entry_id = row[kAttachmentColumnCount].as<std::string>();
            for (auto& e : *out.mutable_entries()) {
              if (e.id() == entry_id) *e.add_attachments() = ReadAttachment(row);
            }
          }
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Attachment> TimelineStore::Upload(const Actor& actor, const v1::UploadAttachmentRequest& req) {
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(req.deal_id())) v.Add("deal_id", "not a UUID");
    CRM_RETURN_IF_ERROR(v.Merge(CheckFileName("file_name", req.file_name())));
    if (!req.content_type().empty()) CRM_RETURN_IF_ERROR(v.Merge(CheckMediaType("content_type", req.content_type())));
    if (req.content().empty()) v.Add("content", "required");
    if (static_cast<int64_t>(req.content().size()) > kMaxAttachmentBytes) v.Add("content", "larger than 10 MiB");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  // Check access before storing anything.
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(DealOwnership own, LoadDealOwnership(tx, req.deal_id(), false));
        return CheckCanWrite(actor.principal, own);
      },
      {.read_only = true}));
  CRM_ASSIGN_OR_RETURN(std::string key, blobs_.Put(req.content()));
  const ImageFormat image = SniffImageFormat(req.content());
  v1::Attachment a;
  a.set_id(NewUuidV7());
  a.set_deal_id(req.deal_id());
  a.set_file_name(req.file_name());
  if (!req.content_type().empty()) {
    a.set_content_type(req.content_type());
  } else if (image != ImageFormat::kUnknown) {
    a.set_content_type(std::string(ImageMimeType(image)));
  } else {
    a.set_content_type("application/octet-stream");
  }
  a.set_size_bytes(static_cast<int64_t>(req.content().size()));
  a.set_sha256(key);
  *a.mutable_create_time() = ToProtoTimestamp(clock_.Now());
  // An image gets a thumbnail; one that cannot have one is stored all the same.
  std::string thumbnail_key;
  if (image != ImageFormat::kUnknown) {
    absl::StatusOr<Thumbnail> thumbnail = MakeThumbnail(req.content());
    absl::StatusOr<std::string> stored =
        thumbnail.ok() ? blobs_.Put(thumbnail->content) : absl::StatusOr<std::string>(thumbnail.status());
    if (stored.ok()) {
      thumbnail_key = *stored;
      a.set_thumbnail_width(thumbnail->width);
      a.set_thumbnail_height(thumbnail->height);
      a.set_thumbnail_content_type(thumbnail->content_type);
      a.set_thumbnail_size_bytes(static_cast<int64_t>(thumbnail->content.size()));
    } else {
      log::Info("attachment stored without a thumbnail",
                {{"attachment_id", a.id()}, {"format", ImageMimeType(image)}, {"error", stored.status()}});
    }
  }
  const v1::Attachment made = a;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kUploadAttachmentMethod, req, a,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    a = made;
    CRM_ASSIGN_OR_RETURN(DealOwnership own, LoadDealOwnership(tx, req.deal_id(), false));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, own));
    SqlParams p;
    std::string sql = absl::StrCat(
        "INSERT INTO attachments (id, deal_id, file_name, content_type, size_bytes, sha256, create_time, "
        "thumbnail_sha256, thumbnail_content_type, thumbnail_size_bytes, thumbnail_width, thumbnail_height) "
        "VALUES (",
        p.Add(a.id()), "::uuid, ", p.Add(a.deal_id()), "::uuid, ", p.Add(a.file_name()), ", ",
        p.Add(a.content_type()), ", ", p.Add(absl::StrCat(a.size_bytes())), "::bigint, ", p.Add(key), ", ",
        TsParam(p, FromProtoTimestamp(a.create_time())));
    if (thumbnail_key.empty()) {
      absl::StrAppend(&sql, ", NULL, NULL, NULL, NULL, NULL)");
    } else {
      absl::StrAppend(&sql, ", ", p.Add(thumbnail_key), ", ", p.Add(a.thumbnail_content_type()), ", ",
                      p.Add(absl::StrCat(a.thumbnail_size_bytes())), "::bigint, ",
                      p.Add(absl::StrCat(a.thumbnail_width())), "::integer, ",
                      p.Add(absl::StrCat(a.thumbnail_height())), "::integer)");
    }
    Exec(tx, sql, p);
    return absl::OkStatus();
  }));
  return a;
}

absl::StatusOr<v1::AttachmentContent> TimelineStore::GetAttachment(const Principal& caller,
                                                                    const v1::GetAttachmentRequest& req) {
  if (!IsUuid(req.deal_id())) return InvalidFieldError("deal_id", "not a UUID");
  if (!IsUuid(req.id())) return InvalidFieldError("id", "not a UUID");
  if (!v1::GetAttachmentRequest::View_IsValid(req.view())) return InvalidFieldError("view", "unknown view");
  v1::AttachmentContent out;
  std::string thumbnail_key;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(DealOwnership own, LoadDealOwnership(tx, req.deal_id(), /*for_update=*/false));
        CRM_RETURN_IF_ERROR(CheckCanRead(caller, own));
        SqlParams p;
        pqxx::result r = Exec(tx,
                              absl::StrCat("SELECT ", kAttachmentColumns, " FROM attachments a WHERE a.id = ",
                                           p.Add(req.id()), "::uuid AND a.deal_id = ", p.Add(req.deal_id()),
                                           "::uuid"),
                              p);
        if (r.empty()) return absl::NotFoundError("attachment not found");
        *out.mutable_attachment() = ReadAttachment(r[0]);
        thumbnail_key = r[0][kAttachmentColumnCount - 1].as<std::string>();
        return absl::OkStatus();
      },
      {.read_only = true}));
  const v1::Attachment& a = out.attachment();
  switch (req.view()) {
    case v1::GetAttachmentRequest::METADATA:
      out.set_content_type(a.content_type());
      break;
    case v1::GetAttachmentRequest::THUMBNAIL: {
      if (thumbnail_key.empty()) return absl::NotFoundError("attachment has no thumbnail");
      absl::StatusOr<std::string> content = blobs_.Get(thumbnail_key);
      if (!content.ok()) return absl::InternalError("the thumbnail's content is missing from the blob store");
      out.set_content_type(a.thumbnail_content_type());
      out.set_content(*std::move(content));
      break;
    }
    default: {
      absl::StatusOr<std::string> content = blobs_.Get(a.sha256());
      if (!content.ok()) return absl::InternalError("the attachment's content is missing from the blob store");
      out.set_content_type(a.content_type());
      out.set_content(*std::move(content));
      break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Service

grpc::Status TimelineServiceImpl::AddComment(grpc::ServerContext* ctx, const v1::AddCommentRequest* req,
                                             v1::TimelineEntry* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.AddComment(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status TimelineServiceImpl::ListTimeline(grpc::ServerContext* ctx, const v1::ListTimelineRequest* req,
                                               v1::ListTimelineResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status TimelineServiceImpl::UploadAttachment(grpc::ServerContext* ctx, const v1::UploadAttachmentRequest* req,
                                                   v1::Attachment* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Upload(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status TimelineServiceImpl::GetAttachment(grpc::ServerContext* ctx, const v1::GetAttachmentRequest* req,
                                                v1::AttachmentContent* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.GetAttachment(caller, *req); });
}

}  // namespace crm::deals
