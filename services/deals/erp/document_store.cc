// File: services/deals/erp/document_store.cc
#include "services/deals/erp/document_store.h"

#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crm/deals/v1/erp_events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"
#include "proto/crm/deals/v1/erp_event_types.h"
#include "services/deals/erp/common.h"
#include "services/deals/erp/notices.h"
#include "services/deals/erp/rules.h"
#include "services/deals/idempotent.h"
#include "services/deals/sql.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using v1::Document;

namespace {

constexpr size_t kMaxExternalId = 255;
constexpr size_t kMaxNumber = 100;
constexpr size_t kMaxComment = 2000;

std::string Columns() {
  return absl::StrCat(
      "x.id::text, x.deal_id::text, d.name, COALESCE(d.client_id::text, ''), COALESCE(c.name, ''), x.kind, x.number, "
      "x.doc_date::text, x.amount_minor, x.currency, x.status, COALESCE(x.external_id, ''), "
      "COALESCE(x.proposal_id::text, ''), x.comment, ",
      MicrosOf("x.signed_time"), ", COALESCE(x.signed_by::text, ''), COALESCE(x.creator_id::text, ''), x.version, ",
      MicrosOf("x.create_time"), ", ", MicrosOf("x.update_time"),
      ", q.state, array_to_json(q.recipients)::text, q.attempts, q.last_error, ", MicrosOf("q.sent_time"));
}
constexpr char kFrom[] =
    " FROM documents x JOIN deals d ON d.id = x.deal_id LEFT JOIN clients c ON c.id = d.client_id "
    "LEFT JOIN erp_mail_queue q ON q.document_id = x.id";

Document Read(const pqxx::row& r) {
  Document x;
  x.set_id(r[0].c_str());
  x.set_deal_id(r[1].c_str());
  x.set_deal_name(r[2].c_str());
  x.set_client_id(r[3].c_str());
  x.set_client_name(r[4].c_str());
  x.set_kind(static_cast<Document::Kind>(r[5].as<int>()));
  x.set_number(r[6].c_str());
  x.set_date(r[7].c_str());
  x.mutable_amount()->set_amount_minor(r[8].as<int64_t>());
  x.mutable_amount()->set_currency(r[9].c_str());
  x.set_status(static_cast<Document::Status>(r[10].as<int>()));
  x.set_external_id(r[11].c_str());
  x.set_proposal_id(r[12].c_str());
  x.set_comment(r[13].c_str());
  if (!r[14].is_null()) *x.mutable_signed_time() = TsFromMicros(r[14].as<int64_t>());
  x.set_signed_by(r[15].c_str());
  x.set_creator_id(r[16].c_str());
  x.set_version(r[17].as<int64_t>());
  *x.mutable_create_time() = TsFromMicros(r[18].as<int64_t>());
  *x.mutable_update_time() = TsFromMicros(r[19].as<int64_t>());
  if (!r[20].is_null()) {
    Document::AccountantNotice* n = x.mutable_accountant_notice();
    n->set_state(static_cast<Document::AccountantNotice::State>(r[20].as<int>()));
    for (const std::string& to : JsonStrings(r[21].c_str())) n->add_recipients(to);
    n->set_attempts(r[22].as<int>());
    n->set_last_error(r[23].c_str());
    if (!r[24].is_null()) *n->mutable_sent_time() = TsFromMicros(r[24].as<int64_t>());
  }
  return x;
}

std::optional<Document> Load(pqxx::transaction_base& tx, std::string_view where_column, const std::string& value,
                             bool for_update) {
  SqlParams p;
  pqxx::result r = ExecPrepared(tx,
                                absl::StrCat("SELECT ", Columns(), kFrom, " WHERE x.", AsAbsl(where_column), " = ",
                                             p.Add(value), where_column == "id" ? "::uuid" : "",
                                             for_update ? " FOR UPDATE OF x" : ""),
                                p);
  if (r.empty()) return std::nullopt;
  return Read(r[0]);
}

constexpr char kInsert[] =
    "INSERT INTO documents (id, deal_id, kind, number, doc_date, amount_minor, currency, status, external_id, "
    "proposal_id, comment, signed_time, signed_by, creator_id, version, create_time, update_time) VALUES ($1::uuid, "
    "$2::uuid, $3::smallint, $4, $5::date, $6::bigint, $7, $8::smallint, NULLIF($9, ''), NULLIF($10, '')::uuid, $11, "
    "CASE WHEN $8::smallint = 3 THEN $12::timestamptz END, NULLIF($13, '')::uuid, NULLIF($14, '')::uuid, 1, "
    "$12::timestamptz, $12::timestamptz)";
constexpr char kSave[] =
    "UPDATE documents SET kind = $2::smallint, number = $3, doc_date = $4::date, amount_minor = $5::bigint, "
    "currency = $6, status = $7::smallint, proposal_id = NULLIF($8, '')::uuid, comment = $9, "
    "signed_time = CASE WHEN $7::smallint = 3 THEN COALESCE(signed_time, $10::timestamptz) END, "
    "signed_by = CASE WHEN $7::smallint = 3 THEN NULLIF($11, '')::uuid END, version = version + 1, "
    "update_time = $10::timestamptz WHERE id = $1::uuid";
// 1C's rows in bulk: arrays $1..$12 of new rows (id, deal, kind, number, date, amount, currency, status,
// external id, proposal, comment, creator) at $13; arrays $1..$9 of changed rows (id, kind, number, date,
// amount, currency, status, proposal, comment) at $10.
constexpr char kInsertMany[] =
    "INSERT INTO documents (id, deal_id, kind, number, doc_date, amount_minor, currency, status, external_id, "
    "proposal_id, comment, signed_time, creator_id, version, create_time, update_time) SELECT u.id, u.deal, u.kind, "
    "u.number, u.day, u.amount, u.currency, u.status, u.external_id, NULLIF(u.proposal, '')::uuid, u.comment, "
    "CASE WHEN u.status = 3 THEN $13::timestamptz END, NULLIF(u.creator, '')::uuid, 1, $13::timestamptz, "
    "$13::timestamptz FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::text[], $5::date[], $6::bigint[], "
    "$7::text[], $8::smallint[], $9::text[], $10::text[], $11::text[], $12::text[]) AS u(id, deal, kind, number, day, "
    "amount, currency, status, external_id, proposal, comment, creator)";
constexpr char kSaveMany[] =
    "UPDATE documents x SET kind = u.kind, number = u.number, doc_date = u.day, amount_minor = u.amount, "
    "currency = u.currency, status = u.status, proposal_id = NULLIF(u.proposal, '')::uuid, comment = u.comment, "
    "signed_time = CASE WHEN u.status = 3 THEN COALESCE(x.signed_time, $10::timestamptz) END, "
    "signed_by = CASE WHEN u.status = 3 THEN x.signed_by END, version = x.version + 1, update_time = $10::timestamptz "
    "FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::date[], $5::bigint[], $6::text[], $7::smallint[], "
    "$8::text[], $9::text[]) AS u(id, kind, number, day, amount, currency, status, proposal, comment) "
    "WHERE x.id = u.id";
constexpr char kExternalTaken[] = "SELECT id::text FROM documents WHERE external_id = $1";
constexpr char kProposalDeals[] = "SELECT id::text, deal_id::text FROM proposals WHERE id = ANY($1::uuid[])";
constexpr char kLiveKinds[] = "SELECT DISTINCT kind FROM documents WHERE deal_id = $1::uuid AND status <> 4";

void ClearOutputs(Document& d) {
  d.clear_id();
  d.clear_deal_name();
  d.clear_client_id();
  d.clear_client_name();
  d.clear_signed_time();
  d.clear_signed_by();
  d.clear_accountant_notice();
  d.clear_creator_id();
  d.clear_create_time();
  d.clear_update_time();
}

// The fields of a document a writer sets, normalised; violations under `prefix`. `batch`: 1C's rows (an
// external_id required, any status); otherwise a document made in the CRM (DRAFT or SENT).
void Check(Document& d, const std::string& prefix, bool batch, Violations& v) {
  ClearOutputs(d);
  *d.mutable_number() = std::string(absl::StripAsciiWhitespace(d.number()));
  *d.mutable_external_id() = std::string(absl::StripAsciiWhitespace(d.external_id()));
  if (!IsUuid(d.deal_id())) v.Add(absl::StrCat(prefix, ".deal_id"), d.deal_id().empty() ? "required" : "not a UUID");
  if (d.kind() == Document::KIND_UNSPECIFIED || !Document::Kind_IsValid(d.kind())) {
    v.Add(absl::StrCat(prefix, ".kind"), "required: INVOICE, CONTRACT, INVOICE_CONTRACT, ACT or UPD");
  }
  CheckText(d.number(), absl::StrCat(prefix, ".number"), kMaxNumber, true, v);
  CheckDay(d.date(), absl::StrCat(prefix, ".date"), true, v);
  CheckMoney(d.amount(), absl::StrCat(prefix, ".amount"), /*positive=*/true, /*currency_optional=*/true, v);
  if (!Document::Status_IsValid(d.status())) {
    v.Add(absl::StrCat(prefix, ".status"), "not a status");
  } else if (d.status() == Document::STATUS_UNSPECIFIED) {
    d.set_status(Document::DRAFT);
  } else if (!batch && d.status() == Document::SIGNED) {
    v.Add(absl::StrCat(prefix, ".status"), "SIGNED only through SignDocument");
  } else if (!batch && d.status() == Document::CANCELLED) {
    v.Add(absl::StrCat(prefix, ".status"), "a new document cannot be cancelled");
  }
  if (batch && d.external_id().empty()) v.Add(absl::StrCat(prefix, ".external_id"), "required");
  CheckText(d.external_id(), absl::StrCat(prefix, ".external_id"), kMaxExternalId, false, v);
  if (!d.proposal_id().empty() && !IsUuid(d.proposal_id())) v.Add(absl::StrCat(prefix, ".proposal_id"), "not a UUID");
  CheckText(d.comment(), absl::StrCat(prefix, ".comment"), kMaxComment, false, v);
}

// The fields 1C's row changes on `old` ("" list when none).
std::vector<std::string> Changes(const Document& old, const Document& in) {
  std::vector<std::string> out;
  if (old.kind() != in.kind()) out.push_back("kind");
  if (old.number() != in.number()) out.push_back("number");
  if (old.date() != in.date()) out.push_back("date");
  if (old.amount().amount_minor() != in.amount().amount_minor() || old.amount().currency() != in.amount().currency()) {
    out.push_back("amount");
  }
  if (old.status() != in.status()) out.push_back("status");
  if (old.proposal_id() != in.proposal_id()) out.push_back("proposal_id");
  if (old.comment() != in.comment()) out.push_back("comment");
  return out;
}

// A document event as Emit (common.h) writes it, for a statement inserting many (AppendEventRows).
events::NewEvent EventOf(const Actor& actor, const std::string& id, const char* type,
                         const google::protobuf::Message& payload, const DealInfo& deal) {
  return {.aggregate_type = v1::kDocumentAggregate,
          .aggregate_id = id,
          .type = type,
          .payload = &payload,
          .actor = actor.principal,
          .request_id = actor.request_id,
          .visible_to_user_ids = {deal.ownership.responsible_id},
          .visible_to_team_ids = deal.ownership.team_ids,
          .automation_depth = actor.automation_depth,
          .skip_automation = actor.skip_automation};
}

void SaveRow(pqxx::transaction_base& tx, const Document& d, absl::Time now) {
  SqlParams p;
  p.Add(d.id());
  p.Add(absl::StrCat(static_cast<int>(d.kind())));
  p.Add(d.number());
  p.Add(d.date());
  p.Add(absl::StrCat(d.amount().amount_minor()));
  p.Add(d.amount().currency());
  p.Add(absl::StrCat(static_cast<int>(d.status())));
  p.Add(d.proposal_id());
  p.Add(d.comment());
  p.Add(FormatRfc3339Utc(now));
  p.Add(d.signed_by());
  ExecPrepared(tx, kSave, p);
}

void InsertRow(pqxx::transaction_base& tx, const Document& d, absl::Time now) {
  SqlParams p;
  p.Add(d.id());
  p.Add(d.deal_id());
  p.Add(absl::StrCat(static_cast<int>(d.kind())));
  p.Add(d.number());
  p.Add(d.date());
  p.Add(absl::StrCat(d.amount().amount_minor()));
  p.Add(d.amount().currency());
  p.Add(absl::StrCat(static_cast<int>(d.status())));
  p.Add(d.external_id());
  p.Add(d.proposal_id());
  p.Add(d.comment());
  p.Add(FormatRfc3339Utc(now));
  p.Add(d.signed_by());
  p.Add(d.creator_id());
  ExecPrepared(tx, kInsert, p);
}

}  // namespace

DocumentStore::DocumentStore(pg::Pool& pool, const Clock& clock, DocumentOptions options)
    : pool_(pool), clock_(clock), options_(std::move(options)), outbox_("deals", clock) {}

absl::StatusOr<Document> DocumentStore::Create(const Actor& actor, const Document& in) {
  Document d = in;
  {
    Violations v;
    Check(d, "document", /*batch=*/false, v);
    CRM_RETURN_IF_ERROR(v.Status());
  }
  const absl::Time now = clock_.Now();
  Document out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      pool_, now, actor.principal, actor.idempotency_key, kCreateDocumentMethod, in, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(DealInfo deal,
                             LoadDeal(tx, actor.principal, d.deal_id(), Access::kWrite, "document.deal_id", true));
        out = d;
        if (out.amount().currency().empty()) out.mutable_amount()->set_currency(deal.currency);
        Violations v;
        if (!out.external_id().empty() && !pg::ExecPrepared(tx, kExternalTaken, out.external_id()).empty()) {
          v.Add("document.external_id", "already names another document");
        }
        if (!out.proposal_id().empty()) {
          pqxx::result r = pg::ExecPrepared(tx, kProposalDeals, pg::ArrayLiteral({out.proposal_id()}));
          if (r.empty() || std::string_view(r[0][1].c_str()) != deal.id) {
            v.Add("document.proposal_id", "not a proposal of this deal");
          }
        }
        CRM_RETURN_IF_ERROR(v.Status());
        out.set_id(NewUuidV7());
        out.set_creator_id(ActingUserId(actor.principal));
        InsertRow(tx, out, now);
        std::optional<Document> made = Load(tx, "id", out.id(), false);
        if (!made.has_value()) return absl::InternalError("the new document vanished");
        out = *made;
        v1::DocumentCreated ev;
        *ev.mutable_document() = out;
        return Emit(tx, outbox_, actor, v1::kDocumentAggregate, out.id(), v1::kDocumentCreatedType, ev, deal);
      }));
  return out;
}

absl::StatusOr<v1::BatchUpsertDocumentsResponse> DocumentStore::Upsert(const Actor& actor,
                                                                       const v1::BatchUpsertDocumentsRequest& request) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(actor.principal, kErpSyncPermission));
  std::vector<Document> rows(request.documents().begin(), request.documents().end());
  std::vector<std::string> keys, proposal_ids;
  std::set<std::string> deal_ids;
  // What is wrong with the rows themselves; what the database says is added to it below, and every
  // violation is answered at once.
  Violations shape;
  if (rows.empty()) shape.Add("documents", "required");
  if (rows.size() > static_cast<size_t>(kMaxDocuments)) {
    shape.Add("documents", "at most 1000 documents a call");
    return shape.Status();
  }
  std::set<std::string> seen;
  std::vector<bool> bad(rows.size(), false);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string prefix = absl::StrCat("documents[", i, "]");
    const size_t before = shape.all().size();
    Check(rows[i], prefix, /*batch=*/true, shape);
    if (!rows[i].external_id().empty() && !seen.insert(rows[i].external_id()).second) {
      shape.Add(absl::StrCat(prefix, ".external_id"), "repeated in this batch");
    }
    bad[i] = shape.all().size() != before;
    keys.push_back(rows[i].external_id());
    if (IsUuid(rows[i].deal_id())) deal_ids.insert(rows[i].deal_id());
    if (IsUuid(rows[i].proposal_id())) proposal_ids.push_back(rows[i].proposal_id());
  }
  const absl::Time now = clock_.Now();
  v1::BatchUpsertDocumentsResponse out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      pool_, now, actor.principal, actor.idempotency_key, kBatchUpsertDocumentsMethod, request, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        out.Clear();
        // The deals first, in id order (one lock order for every writer of them), then the documents.
        using Deals = std::map<std::string, DealInfo>;
        CRM_ASSIGN_OR_RETURN(Deals deals,
                             LoadDealsUnchecked(tx, std::vector<std::string>(deal_ids.begin(), deal_ids.end()), true));
        std::map<std::string, std::string> proposal_deal;
        for (const pqxx::row& r : pg::ExecPrepared(tx, kProposalDeals, pg::ArrayLiteral(proposal_ids))) {
          proposal_deal[r[0].c_str()] = r[1].c_str();
        }
        std::map<std::string, Document> existing;
        {
          SqlParams p;
          for (const pqxx::row& r : ExecPrepared(
                   tx, absl::StrCat("SELECT ", Columns(), kFrom, " WHERE x.external_id = ANY(", p.Add(pg::ArrayLiteral(keys)),
                                    "::text[]) ORDER BY x.external_id FOR UPDATE OF x"),
                   p)) {
            Document d = Read(r);
            existing[d.external_id()] = std::move(d);
          }
        }
        enum class Op { kCreate, kUpdate, kUnchanged };
        std::vector<Op> ops(rows.size());
        std::vector<Document> next = rows;
        Violations v = shape;
        for (size_t i = 0; i < rows.size(); ++i) {
          if (bad[i]) continue;  // named already
          const std::string prefix = absl::StrCat("documents[", i, "]");
          Document& d = next[i];
          auto deal = deals.find(d.deal_id());
          if (deal == deals.end()) {
            v.Add(absl::StrCat(prefix, ".deal_id"), "no such deal");
            continue;
          }
          if (d.amount().currency().empty()) d.mutable_amount()->set_currency(deal->second.currency);
          if (!d.proposal_id().empty() && proposal_deal[d.proposal_id()] != d.deal_id()) {
            v.Add(absl::StrCat(prefix, ".proposal_id"), "not a proposal of this deal");
          }
          auto old = existing.find(d.external_id());
          if (old == existing.end()) {
            ops[i] = Op::kCreate;
            continue;
          }
          const Document& o = old->second;
          if (o.deal_id() != d.deal_id()) {
            v.Add(absl::StrCat(prefix, ".deal_id"), "the document belongs to another deal");
            continue;
          }
          const std::vector<std::string> changed = Changes(o, d);
          if (changed.empty()) {
            ops[i] = Op::kUnchanged;
          } else if (o.status() == Document::SIGNED) {
            for (const std::string& f : changed) v.Add(absl::StrCat(prefix, ".", f), "the document is signed");
          } else {
            ops[i] = Op::kUpdate;
          }
        }
        CRM_RETURN_IF_ERROR(v.Status());
        // Every new row in one INSERT, every changed one in one UPDATE.
        std::vector<std::string> touched;
        std::vector<std::vector<std::string>> inserts(12), updates(9);
        const auto add = [](std::vector<std::vector<std::string>>& columns, std::vector<std::string> values) {
          for (size_t c = 0; c < values.size(); ++c) columns[c].push_back(std::move(values[c]));
        };
        const std::string creator = ActingUserId(actor.principal);
        for (size_t i = 0; i < rows.size(); ++i) {
          Document& d = next[i];
          if (ops[i] == Op::kUnchanged) {
            out.add_ids(existing[d.external_id()].id());
            out.set_unchanged(out.unchanged() + 1);
            continue;
          }
          if (ops[i] == Op::kCreate) {
            d.set_id(NewUuidV7());
            add(inserts, {d.id(), d.deal_id(), absl::StrCat(static_cast<int>(d.kind())), d.number(), d.date(),
                          absl::StrCat(d.amount().amount_minor()), d.amount().currency(),
                          absl::StrCat(static_cast<int>(d.status())), d.external_id(), d.proposal_id(), d.comment(),
                          creator});
            out.set_created(out.created() + 1);
          } else {
            d.set_id(existing[d.external_id()].id());
            add(updates, {d.id(), absl::StrCat(static_cast<int>(d.kind())), d.number(), d.date(),
                          absl::StrCat(d.amount().amount_minor()), d.amount().currency(),
                          absl::StrCat(static_cast<int>(d.status())), d.proposal_id(), d.comment()});
            out.set_updated(out.updated() + 1);
          }
          out.add_ids(d.id());
          touched.push_back(d.id());
        }
        const std::string at = FormatRfc3339Utc(now);
        if (!inserts[0].empty()) {
          SqlParams p;
          for (const auto& column : inserts) p.Add(pg::ArrayLiteral(column));
          p.Add(at);
          ExecPrepared(tx, kInsertMany, p);
        }
        if (!updates[0].empty()) {
          SqlParams p;
          for (const auto& column : updates) p.Add(pg::ArrayLiteral(column));
          p.Add(at);
          ExecPrepared(tx, kSaveMany, p);
        }
        // The accountant's notices of those that became SIGNED, then the rows as they are now, then the events.
        std::vector<const Document*> signing;
        std::vector<const DealInfo*> signing_deals;
        for (size_t i = 0; i < rows.size(); ++i) {
          const Document& d = next[i];
          if (ops[i] == Op::kUnchanged || d.status() != Document::SIGNED) continue;
          if (ops[i] == Op::kUpdate && existing[d.external_id()].status() == Document::SIGNED) continue;
          signing.push_back(&d);
          signing_deals.push_back(&deals[d.deal_id()]);
        }
        out.set_newly_signed(static_cast<int32_t>(signing.size()));
        CRM_RETURN_IF_ERROR(QueueNotices(tx, signing, signing_deals, std::vector<std::string>(signing.size()), now,
                                         options_.deal_url_prefix));
        std::map<std::string, Document> saved;
        {
          SqlParams p;
          for (const pqxx::row& r : ExecPrepared(tx,
                                                 absl::StrCat("SELECT ", Columns(), kFrom, " WHERE x.id = ANY(",
                                                              p.Add(pg::ArrayLiteral(touched)), "::uuid[])"),
                                                 p)) {
            Document d = Read(r);
            saved[d.id()] = std::move(d);
          }
        }
        std::vector<std::vector<std::string>> events;
        for (size_t i = 0; i < rows.size(); ++i) {
          if (ops[i] == Op::kUnchanged) continue;
          const Document& d = saved.at(next[i].id());
          const DealInfo& deal = deals[d.deal_id()];
          const bool signs = d.status() == Document::SIGNED &&
                             (ops[i] == Op::kCreate || existing[d.external_id()].status() != Document::SIGNED);
          v1::DocumentCreated created;
          v1::DocumentUpdated updated;
          v1::DocumentSigned signed_event;
          const google::protobuf::Message* payload = &created;
          const char* type = v1::kDocumentCreatedType;
          if (signs) {
            *signed_event.mutable_document() = d;
            payload = &signed_event;
            type = v1::kDocumentSignedType;
          } else if (ops[i] == Op::kCreate) {
            *created.mutable_document() = d;
          } else {
            *updated.mutable_document() = d;
            for (const std::string& f : Changes(existing[d.external_id()], d)) updated.add_changed_fields(f);
            payload = &updated;
            type = v1::kDocumentUpdatedType;
          }
          CRM_ASSIGN_OR_RETURN(std::vector<std::string> row, outbox_.Row(EventOf(actor, d.id(), type, *payload, deal)));
          events.push_back(std::move(row));
        }
        return AppendEventRows(tx, events);
      }));
  return out;
}

absl::StatusOr<Document> DocumentStore::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  Document out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<Document> d = Load(tx, "id", std::string(id), false);
    if (!d.has_value()) return absl::NotFoundError("document not found");
    CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDealUnchecked(tx, d->deal_id(), false));
    if (!CheckDealAccess(caller, deal, Access::kRead).ok()) return absl::NotFoundError("document not found");
    out = *std::move(d);
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListDocumentsResponse> DocumentStore::List(const Principal& caller,
                                                              const v1::ListDocumentsRequest& req) {
  Violations v;
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) v.Add("deal_id", "not a UUID");
  if (!Document::Kind_IsValid(req.kind())) v.Add("kind", "not a kind");
  if (!Document::Status_IsValid(req.status())) v.Add("status", "not a status");
  const std::optional<int> limit = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  SqlParams token_params;  // the page token's values first: $1, $2 of `after`
  const std::optional<std::string> after =
      v.Value(AfterDayPageToken(req.page_token(), "x.doc_date", "x.id", token_params));
  CRM_RETURN_IF_ERROR(v.Status());
  if (req.deal_id().empty() && !rpc::HasPermission(caller, kErpSyncPermission) && ReadScope(caller) != Scope::kAll) {
    return absl::PermissionDeniedError("missing permission deals.read.all (or give deal_id)");
  }
  v1::ListDocumentsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    SqlParams p = token_params;
    std::vector<std::string> conds{*after};
    if (!req.deal_id().empty()) {
      CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDeal(tx, caller, req.deal_id(), Access::kRead));
      conds.push_back(absl::StrCat("x.deal_id = ", p.Add(deal.id), "::uuid"));
      const std::vector<Document::Kind> required = RequiredDocumentKinds(deal.amount_minor);
      std::vector<Document::Kind> present;
      SqlParams live;
      live.Add(deal.id);
      for (const pqxx::row& r : ExecPrepared(tx, kLiveKinds, live)) {
        present.push_back(static_cast<Document::Kind>(r[0].as<int>()));
      }
      for (Document::Kind k : required) out.add_required_kinds(k);
      for (Document::Kind k : MissingDocumentKinds(required, present)) out.add_missing_kinds(k);
    }
    if (req.kind() != Document::KIND_UNSPECIFIED) {
      conds.push_back(absl::StrCat("x.kind = ", p.Add(absl::StrCat(static_cast<int>(req.kind()))), "::smallint"));
    }
    if (req.status() != Document::STATUS_UNSPECIFIED) {
      conds.push_back(absl::StrCat("x.status = ", p.Add(absl::StrCat(static_cast<int>(req.status()))), "::smallint"));
    }
    pqxx::result r = ExecPrepared(tx,
                                  absl::StrCat("SELECT ", Columns(), kFrom, " WHERE ", absl::StrJoin(conds, " AND "),
                                               " ORDER BY x.doc_date DESC, x.id DESC LIMIT ", *limit + 1),
                                  p);
    for (int i = 0; i < static_cast<int>(r.size()) && i < *limit; ++i) *out.add_documents() = Read(r[i]);
    if (static_cast<int>(r.size()) > *limit) {
      const Document& last = out.documents(*limit - 1);
      absl::CivilDay day;
      (void)absl::ParseCivilTime(last.date(), &day);
      out.set_next_page_token(DayPageToken(day, last.id()));
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<Document> DocumentStore::Update(const Actor& actor, const Document& in,
                                               const google::protobuf::FieldMask& mask) {
  std::set<std::string> paths(mask.paths().begin(), mask.paths().end());
  Document want = in;
  {
    Violations v;
    if (!IsUuid(in.id())) v.Add("document.id", "not a UUID");
    if (paths.empty()) v.Add("update_mask", "required");
    static const std::set<std::string> kPaths = {"number", "date", "amount", "comment", "status", "proposal_id"};
    for (const std::string& path : paths) {
      if (!kPaths.contains(path)) v.Add("update_mask", absl::StrCat("cannot update ", QuoteForError(path)));
    }
    *want.mutable_number() = std::string(absl::StripAsciiWhitespace(want.number()));
    if (paths.contains("number")) CheckText(want.number(), "document.number", kMaxNumber, true, v);
    if (paths.contains("date")) CheckDay(want.date(), "document.date", true, v);
    if (paths.contains("amount")) CheckMoney(want.amount(), "document.amount", true, true, v);
    if (paths.contains("comment")) CheckText(want.comment(), "document.comment", kMaxComment, false, v);
    if (paths.contains("proposal_id") && !want.proposal_id().empty() && !IsUuid(want.proposal_id())) {
      v.Add("document.proposal_id", "not a UUID");
    }
    if (paths.contains("status") && want.status() != Document::DRAFT && want.status() != Document::SENT &&
        want.status() != Document::CANCELLED) {
      v.Add("document.status", want.status() == Document::SIGNED ? "SIGNED only through SignDocument"
                                                                  : "DRAFT, SENT or CANCELLED");
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  const absl::Time now = clock_.Now();
  Document out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<Document> old = Load(tx, "id", in.id(), false);
    if (!old.has_value()) return absl::NotFoundError("document not found");
    CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDealUnchecked(tx, old->deal_id(), /*for_update=*/true));
    if (!CheckDealAccess(actor.principal, deal, Access::kRead).ok()) return absl::NotFoundError("document not found");
    CRM_RETURN_IF_ERROR(CheckDealAccess(actor.principal, deal, Access::kWrite));
    old = Load(tx, "id", in.id(), true);
    if (in.version() != 0 && in.version() != old->version()) {
      return absl::AbortedError(absl::StrCat("version mismatch: the document is at version ", old->version()));
    }
    if (old->status() == Document::SIGNED) return absl::FailedPreconditionError("document is signed");
    Document next = *old;
    if (paths.contains("number")) next.set_number(want.number());
    if (paths.contains("date")) next.set_date(want.date());
    if (paths.contains("amount")) {
      *next.mutable_amount() = want.amount();
      if (next.amount().currency().empty()) next.mutable_amount()->set_currency(deal.currency);
    }
    if (paths.contains("comment")) next.set_comment(want.comment());
    if (paths.contains("status")) next.set_status(want.status());
    if (paths.contains("proposal_id")) {
      next.set_proposal_id(want.proposal_id());
      if (!next.proposal_id().empty()) {
        pqxx::result r = pg::ExecPrepared(tx, kProposalDeals, pg::ArrayLiteral({next.proposal_id()}));
        if (r.empty() || std::string_view(r[0][1].c_str()) != deal.id) {
          return InvalidFieldError("document.proposal_id", "not a proposal of this deal");
        }
      }
    }
    const std::vector<std::string> changed = Changes(*old, next);
    if (changed.empty()) {
      out = *old;
      return absl::OkStatus();
    }
    SaveRow(tx, next, now);
    out = *Load(tx, "id", in.id(), false);
    v1::DocumentUpdated ev;
    *ev.mutable_document() = out;
    for (const std::string& f : changed) ev.add_changed_fields(f);
    return Emit(tx, outbox_, actor, v1::kDocumentAggregate, out.id(), v1::kDocumentUpdatedType, ev, deal);
  }));
  return out;
}

absl::StatusOr<Document> DocumentStore::Sign(const Actor& actor, const v1::SignDocumentRequest& req) {
  if (!IsUuid(req.id())) return InvalidFieldError("id", "not a UUID");
  const absl::Time now = clock_.Now();
  Document out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      pool_, now, actor.principal, actor.idempotency_key, kSignDocumentMethod, req, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        std::optional<Document> old = Load(tx, "id", req.id(), false);
        if (!old.has_value()) return absl::NotFoundError("document not found");
        CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDealUnchecked(tx, old->deal_id(), /*for_update=*/true));
        if (!CheckDealAccess(actor.principal, deal, Access::kRead).ok()) {
          return absl::NotFoundError("document not found");
        }
        CRM_RETURN_IF_ERROR(CheckDealAccess(actor.principal, deal, Access::kWrite));
        old = Load(tx, "id", req.id(), true);
        if (req.version() != 0 && req.version() != old->version()) {
          return absl::AbortedError(absl::StrCat("version mismatch: the document is at version ", old->version()));
        }
        if (old->status() == Document::SIGNED) return absl::FailedPreconditionError("document is already signed");
        if (old->status() == Document::CANCELLED) return absl::FailedPreconditionError("document is cancelled");
        Document next = *old;
        next.set_status(Document::SIGNED);
        next.set_signed_by(ActingUserId(actor.principal));
        SaveRow(tx, next, now);
        out = *Load(tx, "id", req.id(), false);
        CRM_ASSIGN_OR_RETURN(*out.mutable_accountant_notice(),
                             QueueNotice(tx, out, deal, now, UserName(tx, out.signed_by()), options_.deal_url_prefix));
        v1::DocumentSigned ev;
        *ev.mutable_document() = out;
        return Emit(tx, outbox_, actor, v1::kDocumentAggregate, out.id(), v1::kDocumentSignedType, ev, deal);
      }));
  return out;
}

}  // namespace crm::deals::erp
