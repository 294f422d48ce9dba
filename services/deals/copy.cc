// File: services/deals/copy.cc
#include "services/deals/copy.h"
#include "services/deals/idempotent.h"

#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/events.pb.h"
#include "crm/deals/v1/tasks.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/pipelines.h"
#include "services/deals/products.h"
#include "services/deals/sql.h"
#include "services/deals/violations.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr char kCopyMethod[] = "crm.deals.v1.DealService/CopyDeal";
constexpr size_t kMaxCopyComment = 5000;

// «Копия для партнёра №…» and «Сделка №…» number a deal by the last 8 hex digits of its id.
std::string ShortId(const std::string& id) { return id.size() > 8 ? id.substr(id.size() - 8) : id; }

v1::CopyOptions CopyEverything() {
  v1::CopyOptions o;
  o.set_name(true);
  o.set_amount(true);
  o.set_tags(true);
  o.set_source(true);
  o.set_priority(true);
  o.set_client(true);
  o.set_contacts(true);
  o.set_products(true);
  o.set_notes(true);
  o.set_all_custom_fields(true);
  o.set_responsible(true);
  o.set_type(true);
  return o;
}

// The request fields every copy checks before touching the database.
// Every violation of a copy's target at once (issue 16).
absl::Status CheckTarget(const v1::CopyDealRequest& req) {
  Violations v;
  auto optional_uuid = [&](std::string_view field, const std::string& value) {
    if (!value.empty() && !IsUuid(value)) v.Add(field, "not a UUID");
  };
  if (req.id().empty()) v.Add("id", "required");
  optional_uuid("id", req.id());
  optional_uuid("pipeline_id", req.pipeline_id());
  optional_uuid("stage_id", req.stage_id());
  optional_uuid("responsible_id", req.responsible_id());
  if (CodePoints(req.comment()) > kMaxCopyComment) {
    v.Add("comment", absl::StrCat("longer than ", kMaxCopyComment, " characters"));
  }
  return v.Status();
}

// Custom field code -> technical, for every defined field.
std::map<std::string, bool> LoadTechnicalFlags(pqxx::transaction_base& tx) {
  std::map<std::string, bool> out;
  for (const pqxx::row& r : tx.exec("SELECT code, technical FROM field_definitions")) {
    out[r[0].as<std::string>()] = r[1].as<bool>();
  }
  return out;
}

// The deal–contact links of `from` (with the main mark, in their order) given to `to`.
void CopyContacts(pqxx::transaction_base& tx, const std::string& from, const std::string& to, bool main_only) {
  static constexpr char kCopyContacts[] =
      "INSERT INTO deal_contacts (deal_id, contact_id, main) "
      "SELECT $2::uuid, contact_id, main FROM deal_contacts WHERE deal_id = $1::uuid AND (main OR NOT $3) "
      "ORDER BY pos";
  crm::pg::ExecPrepared(tx, kCopyContacts, from, to, main_only);
}

// The comments of `from` (примечания) with their attachments, as entries of `to` in the same order and
// with their authors and times; the files are shared through the content-addressed blob store. Three
// statements whatever the number of comments: read the ids, insert the entries, insert the attachments.
void CopyNotes(pqxx::transaction_base& tx, const std::string& from, const std::string& to) {
  std::vector<std::string> old_entries, new_entries, old_files, new_files, file_entries;
  for (const pqxx::row& r : tx.exec_params(
           "SELECT e.id::text, coalesce(array_to_json(array_agg(a.id::text ORDER BY a.create_time, a.id) "
           "FILTER (WHERE a.id IS NOT NULL)), '[]')::text "
           "FROM timeline_entries e LEFT JOIN attachments a ON a.entry_id = e.id "
           "WHERE e.deal_id = $1::uuid AND e.kind = $2 GROUP BY e.id ORDER BY min(e.create_time), e.id",
           from, static_cast<int>(v1::TimelineEntry::COMMENT))) {
    old_entries.push_back(r[0].as<std::string>());
    new_entries.push_back(NewUuidV7());
    for (std::string& file : JsonStrings(r[1].as<std::string>())) {
      old_files.push_back(std::move(file));
      new_files.push_back(NewUuidV7());
      file_entries.push_back(new_entries.back());
    }
  }
  if (old_entries.empty()) return;
  tx.exec_params0(
      "INSERT INTO timeline_entries (id, deal_id, kind, actor_id, create_time, text) "
      "SELECT m.new_id, $3::uuid, e.kind, e.actor_id, e.create_time, e.text "
      "FROM unnest($1::uuid[], $2::uuid[]) AS m(old_id, new_id) JOIN timeline_entries e ON e.id = m.old_id",
      ArrayLiteral(old_entries), ArrayLiteral(new_entries), to);
  if (old_files.empty()) return;
  tx.exec_params0(
      "INSERT INTO attachments (id, deal_id, file_name, content_type, size_bytes, sha256, entry_id, create_time, "
      "thumbnail_sha256, thumbnail_content_type, thumbnail_size_bytes, thumbnail_width, thumbnail_height) "
      "SELECT m.new_id, $4::uuid, a.file_name, a.content_type, a.size_bytes, a.sha256, m.entry_id, a.create_time, "
      "a.thumbnail_sha256, a.thumbnail_content_type, a.thumbnail_size_bytes, a.thumbnail_width, a.thumbnail_height "
      "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS m(old_id, new_id, entry_id) "
      "JOIN attachments a ON a.id = m.old_id",
      ArrayLiteral(old_files), ArrayLiteral(new_files), ArrayLiteral(file_entries), to);
}

// Team ids of deals `a` and `b` together (the stream shows DealCopied to both deals' teams).
std::vector<std::string> TeamsOfDeals(pqxx::transaction_base& tx, const std::string& a, const std::string& b) {
  std::vector<std::string> out;
  for (const pqxx::row& r : tx.exec_params(
           "SELECT DISTINCT unnest(team_ids)::text FROM deals WHERE id = ANY(ARRAY[$1::uuid, $2::uuid])", a, b)) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

}  // namespace

DealCopier::DealCopier(DealStore& deals) : deals_(deals), outbox_("deals", deals.clock()) {}

absl::StatusOr<v1::Deal> DealCopier::Copy(const Actor& actor, const v1::CopyDealRequest& req,
                                          std::string_view idempotency_key) {
  const Principal& caller = actor.principal;
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "deals.copy"));
  CRM_RETURN_IF_ERROR(CheckTarget(req));
  const v1::CopyOptions options = req.has_options() ? req.options() : CopyEverything();
  const pg::IdempotencyScope scope{
      .caller = rpc::IdempotencyCaller(caller), .method = kCopyMethod, .key = std::string(idempotency_key)};
  v1::Deal out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(deals_.pool(), [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, deals_.clock().Now(), req, out, [&]() -> absl::Status {
      CRM_ASSIGN_OR_RETURN(v1::Deal src, deals_.GetInTx(tx, caller, req.id(), /*for_update=*/false));
      // Where the copy lands.
      const std::string pipeline_id = req.pipeline_id().empty() ? src.pipeline_id() : req.pipeline_id();
      std::string stage_id = req.stage_id();
      if (pipeline_id != src.pipeline_id()) {
        CRM_ASSIGN_OR_RETURN(std::optional<v1::Pipeline> target, LoadPipeline(tx, pipeline_id));
        if (!target.has_value()) return InvalidFieldError("pipeline_id", "no such pipeline");
      }
      if (!stage_id.empty()) {
        CRM_ASSIGN_OR_RETURN(std::optional<StageRow> stage, LoadStage(tx, stage_id));
        if (!stage.has_value() || stage->pipeline_id != pipeline_id) {
          return InvalidFieldError("stage_id", "not a stage of the target pipeline");
        }
      } else if (pipeline_id == src.pipeline_id() && src.status() == v1::Deal::STATUS_OPEN) {
        stage_id = src.stage_id();  // §5.3: by default the current pipeline and stage
      }
      // What the copy carries.
      const std::string copy_id = NewUuidV7();
      v1::Deal d;
      d.set_pipeline_id(pipeline_id);
      d.set_stage_id(stage_id);
      if (!req.responsible_id().empty()) {
        d.set_responsible_id(req.responsible_id());
      } else if (options.responsible() && !req.redacted()) {
        d.set_responsible_id(src.responsible_id());
      }
      std::set<std::string> wanted(options.custom_fields().begin(), options.custom_fields().end());
      // The definitions matter only for a partner copy or named fields (whose codes are checked).
      const std::map<std::string, bool> technical =
          req.redacted() || !wanted.empty() ? LoadTechnicalFlags(tx) : std::map<std::string, bool>();
      for (const std::string& code : wanted) {
        if (!technical.contains(code)) {
          return InvalidFieldError("options.custom_fields", absl::StrCat("unknown field ", QuoteForError(code)));
        }
      }
      for (const v1::FieldValue& f : src.fields()) {
        auto def = technical.find(f.code());
        if (req.redacted() ? (def == technical.end() || !def->second)
                           : !(options.all_custom_fields() || wanted.contains(f.code()))) {
          continue;
        }
        *d.add_fields() = f;
      }
      if (req.redacted()) {
        // Seed 000 §5.6: a neutral name, no client, people, notes or money.
        d.set_name(absl::StrCat("Копия для партнёра №", ShortId(copy_id)));
      } else {
        d.set_name(options.name() ? src.name() : absl::StrCat("Сделка №", ShortId(copy_id)));
        if (options.amount()) *d.mutable_amount() = src.amount();
        if (options.tags()) *d.mutable_tags() = src.tags();
        if (options.source()) d.set_source(src.source());
        if (options.priority()) d.set_priority(src.priority());
        if (options.client()) d.set_client_id(src.client_id());
        if (options.type()) d.set_type_code(src.type_code());
      }
      CRM_ASSIGN_OR_RETURN(out, deals_.CreateInTx(tx, actor, d,
                                                  CreateOptions{.id = copy_id,
                                                                .copied_from_id = src.id(),
                                                                .take_client_contacts = false,
                                                                .comment = req.comment()}));
      if (!req.redacted() && options.contacts()) {
        CopyContacts(tx, src.id(), out.id(), options.main_contact_only());
      }
      if (!req.redacted() && options.notes()) CopyNotes(tx, src.id(), out.id());
      // Line items carry no personal data: a partner copy may take the list of services too (§5.6).
      if (options.products()) CRM_RETURN_IF_ERROR(CopyDealProducts(tx, src.id(), out.id()));
      v1::DealCopied copied;
      copied.set_source_id(src.id());
      *copied.mutable_copy() = out;
      copied.set_redacted(req.redacted());
      std::vector<std::string> users{src.responsible_id()};
      if (out.responsible_id() != src.responsible_id()) users.push_back(out.responsible_id());
      return outbox_
          .Append(tx, {.aggregate_type = "deal",
                       .aggregate_id = src.id(),
                       .type = kDealCopiedType,
                       .payload = &copied,
                       .actor = caller,
                       .request_id = actor.request_id,
                       .visible_to_user_ids = std::move(users),
                       .visible_to_team_ids = TeamsOfDeals(tx, src.id(), out.id()),
                       .automation_depth = actor.automation_depth,
                       .skip_automation = actor.skip_automation})
          .status();
    });
  }));
  return out;
}

absl::StatusOr<v1::BatchCopyDealsResponse> DealCopier::BatchCopy(const Actor& actor,
                                                                  const v1::BatchCopyDealsRequest& req,
                                                                  std::string_view idempotency_key) {
  if (req.ids_size() == 0) return InvalidFieldError("ids", "required");
  if (req.ids_size() > kMaxBatchCopy) return InvalidFieldError("ids", absl::StrCat("more than ", kMaxBatchCopy));
  // The batch's own record under the key (issue 16): a repeat returns the first batch's results, the
  // same key with another batch is INVALID_ARGUMENT naming idempotency-key. Each source is copied in a
  // transaction of its own under "<key>/<source id>", so the batch's reply is recorded after them: a
  // batch cut short is completed by its repeat, which finds the copies already made.
  const pg::IdempotencyScope batch{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = kBatchCopyDealsMethod,
                                   .key = std::string(idempotency_key)};
  v1::BatchCopyDealsResponse out;
  if (!idempotency_key.empty()) {
    const absl::Status kNotRecorded = absl::CancelledError("not recorded yet");
    const absl::Status seen = pg::InTransaction(deals_.pool(), [&](pqxx::work& tx) -> absl::Status {
      return pg::RunIdempotent(tx, batch, deals_.clock().Now(), req, out, [&] { return kNotRecorded; });
    });
    if (seen.ok()) return out;  // the recorded reply
    if (seen != kNotRecorded) return seen;
    out.Clear();
  }
  for (const std::string& id : req.ids()) {
    v1::CopyDealRequest one;
    one.set_id(id);
    one.set_pipeline_id(req.pipeline_id());
    one.set_stage_id(req.stage_id());
    one.set_responsible_id(req.responsible_id());
    if (req.has_options()) *one.mutable_options() = req.options();
    one.set_redacted(req.redacted());
    one.set_comment(req.comment());
    const std::string key = idempotency_key.empty() ? "" : absl::StrCat(AsAbsl(idempotency_key), "/", id);
    v1::BatchCopyDealsResponse::Result* result = out.add_results();
    result->set_source_id(id);
    absl::StatusOr<v1::Deal> copy = Copy(actor, one, key);
    if (copy.ok()) {
      *result->mutable_copy() = *std::move(copy);
    } else {
      result->set_error_code(static_cast<int32_t>(copy.status().code()));
      result->set_error_status(absl::StatusCodeToString(copy.status().code()));
      result->set_error_message(std::string(copy.status().message()));
    }
  }
  if (idempotency_key.empty()) return out;
  const v1::BatchCopyDealsResponse made = out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(deals_.pool(), [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, batch, deals_.clock().Now(), req, out, [&] {
      out = made;
      return absl::OkStatus();
    });
  }));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// DealService's copy methods (the rest of DealServiceImpl is in deals.cc).

DealServiceImpl::DealServiceImpl(DealStore& store) : store_(store), copier_(std::make_unique<DealCopier>(store)) {}

DealServiceImpl::~DealServiceImpl() = default;

grpc::Status DealServiceImpl::CopyDeal(grpc::ServerContext* ctx, const v1::CopyDealRequest* req, v1::Deal* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return copier_->Copy(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status DealServiceImpl::BatchCopyDeals(grpc::ServerContext* ctx, const v1::BatchCopyDealsRequest* req,
                                             v1::BatchCopyDealsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return copier_->BatchCopy(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

}  // namespace crm::deals
