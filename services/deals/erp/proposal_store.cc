// File: services/deals/erp/proposal_store.cc
#include "services/deals/erp/proposal_store.h"

#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crm/deals/v1/erp_events.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "libs/auth/secrets.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"
#include "proto/crm/deals/v1/erp_event_types.h"
#include "services/deals/erp/common.h"
#include "services/deals/idempotent.h"
#include "services/deals/products.h"
#include "services/deals/sql.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using v1::Proposal;

namespace {

constexpr size_t kMaxExternalId = 255;
constexpr size_t kMaxNumber = 100;
constexpr size_t kMaxName = 500;
constexpr size_t kMaxComment = 2000;

// The deals a batch names, with their direction's say on proposals.
constexpr char kDeals[] =
    "SELECT d.id::text, d.name, d.responsible_id::text, array_to_json(d.team_ids)::text, p.name, "
    "COALESCE(e.proposals_from_erp, false) FROM deals d JOIN pipelines p ON p.id = d.pipeline_id "
    "LEFT JOIN erp_directions e ON e.pipeline_id = d.pipeline_id WHERE d.id = ANY($1::uuid[])";
constexpr char kProducts[] =
    "SELECT external_id, id::text, name, price_minor, currency, vat_basis_points FROM products "
    "WHERE external_id = ANY($1::text[])";
constexpr char kExisting[] =
    "SELECT external_id, id::text, deal_id::text, revision, content_sha256, version FROM proposals "
    "WHERE external_id = ANY($1::text[]) ORDER BY external_id FOR UPDATE";
constexpr char kInsert[] =
    "INSERT INTO proposals (id, external_id, deal_id, number, doc_date, revision, status, valid_until, lines, "
    "total_minor, currency, comment, content_sha256, version, create_time, update_time) VALUES ($1::uuid, $2, "
    "$3::uuid, $4, $5::date, $6::bigint, $7::smallint, NULLIF($8, '')::date, $9::jsonb, $10::bigint, $11, $12, $13, "
    "1, $14::timestamptz, $14::timestamptz) ON CONFLICT (external_id) DO NOTHING RETURNING version";
constexpr char kRevise[] =
    "UPDATE proposals SET number = $2, doc_date = $3::date, revision = $4::bigint, status = $5::smallint, "
    "valid_until = NULLIF($6, '')::date, lines = $7::jsonb, total_minor = $8::bigint, currency = $9, comment = $10, "
    "content_sha256 = $11, version = version + 1, update_time = $12::timestamptz WHERE id = $1::uuid "
    "RETURNING version, (extract(epoch FROM create_time) * 1000000)::bigint";
constexpr char kInsertRevision[] =
    "INSERT INTO proposal_revisions (proposal_id, revision, status, number, doc_date, valid_until, lines, "
    "total_minor, currency, comment, receive_time) VALUES ($1::uuid, $2::bigint, $3::smallint, $4, $5::date, "
    "NULLIF($6, '')::date, $7::jsonb, $8::bigint, $9, $10, $11::timestamptz)";
constexpr char kRevisions[] =
    "SELECT revision, status, total_minor, currency, jsonb_array_length(lines -> 'lines'), "
    "(extract(epoch FROM receive_time) * 1000000)::bigint FROM proposal_revisions WHERE proposal_id = $1::uuid "
    "ORDER BY revision DESC";

// A proposal's columns (its deal's name is the DealInfo's: the access check reads the deal anyway).
std::string Columns() {
  return absl::StrCat("p.id::text, p.external_id, p.deal_id::text, p.number, p.doc_date::text, p.revision, ",
                      "p.status, COALESCE(p.valid_until::text, ''), p.lines::text, p.total_minor, p.currency, ",
                      "p.comment, p.version, ", MicrosOf("p.create_time"), ", ", MicrosOf("p.update_time"));
}

Proposal Read(const pqxx::row& r, const std::string& deal_name) {
  Proposal p;
  p.set_id(r[0].c_str());
  p.set_external_id(r[1].c_str());
  p.set_deal_id(r[2].c_str());
  p.set_deal_name(deal_name);
  p.set_number(r[3].c_str());
  p.set_date(r[4].c_str());
  p.set_revision(r[5].as<int64_t>());
  p.set_status(static_cast<Proposal::Status>(r[6].as<int>()));
  p.set_valid_until(r[7].c_str());
  Proposal lines;
  if (google::protobuf::util::JsonStringToMessage(r[8].c_str(), &lines).ok()) {
    *p.mutable_lines() = lines.lines();
  }
  p.mutable_total()->set_amount_minor(r[9].as<int64_t>());
  p.mutable_total()->set_currency(r[10].c_str());
  p.set_comment(r[11].c_str());
  p.set_version(r[12].as<int64_t>());
  *p.mutable_create_time() = TsFromMicros(r[13].as<int64_t>());
  *p.mutable_update_time() = TsFromMicros(r[14].as<int64_t>());
  return p;
}

std::string LinesJson(const Proposal& p) {
  Proposal only;
  *only.mutable_lines() = p.lines();
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(only, &json, options);
  return json;
}

// The fingerprint of what 1C sent (the normalised input fields, deterministic bytes).
std::string Fingerprint(const Proposal& in) {
  Proposal p = in;
  p.clear_deal_name();
  p.clear_total();
  p.clear_revisions();
  p.clear_id();
  p.clear_version();
  p.clear_create_time();
  p.clear_update_time();
  for (Proposal::Line& l : *p.mutable_lines()) {
    l.clear_product_id();
    l.clear_total();
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    p.SerializeToCodedStream(&coded);
  }
  return auth::Sha256Hex(bytes);
}

struct DealRow {
  DealInfo info;
  std::string pipeline_name;
  bool proposals_from_erp = false;
};

struct CatalogItem {
  std::string id, name, currency;
  int64_t price_minor = 0;
  int vat = 0;
};

struct Stored {
  std::string id, deal_id, sha;
  int64_t revision = 0, version = 0;
};

// Checks what needs no database; normalises keys and texts.
void CheckShape(Proposal& p, const std::string& prefix, Violations& v) {
  for (Proposal::Line& l : *p.mutable_lines()) {  // output only
    l.clear_product_id();
    l.clear_total();
  }
  p.clear_id();
  p.clear_deal_name();
  p.clear_total();
  p.clear_revisions();
  p.clear_version();
  p.clear_create_time();
  p.clear_update_time();
  *p.mutable_external_id() = std::string(absl::StripAsciiWhitespace(p.external_id()));
  *p.mutable_number() = std::string(absl::StripAsciiWhitespace(p.number()));
  CheckText(p.external_id(), absl::StrCat(prefix, ".external_id"), kMaxExternalId, true, v);
  if (!IsUuid(p.deal_id())) v.Add(absl::StrCat(prefix, ".deal_id"), p.deal_id().empty() ? "required" : "not a UUID");
  CheckText(p.number(), absl::StrCat(prefix, ".number"), kMaxNumber, true, v);
  CheckDay(p.date(), absl::StrCat(prefix, ".date"), true, v);
  CheckDay(p.valid_until(), absl::StrCat(prefix, ".valid_until"), false, v);
  if (p.revision() <= 0) v.Add(absl::StrCat(prefix, ".revision"), "must be positive");
  if (p.status() == Proposal::STATUS_UNSPECIFIED || !Proposal::Status_IsValid(p.status())) {
    v.Add(absl::StrCat(prefix, ".status"), "required: DRAFT, SENT, AGREED or REJECTED");
  }
  CheckText(p.comment(), absl::StrCat(prefix, ".comment"), kMaxComment, false, v);
  if (p.lines_size() == 0) v.Add(absl::StrCat(prefix, ".lines"), "required");
  if (p.lines_size() > kMaxProposalLines) v.Add(absl::StrCat(prefix, ".lines"), "at most 1000 lines");
  for (int j = 0; j < p.lines_size() && j < kMaxProposalLines; ++j) {
    Proposal::Line& l = *p.mutable_lines(j);
    const std::string lp = absl::StrCat(prefix, ".lines[", j, "]");
    *l.mutable_product_external_id() = std::string(absl::StripAsciiWhitespace(l.product_external_id()));
    *l.mutable_name() = std::string(absl::StripAsciiWhitespace(l.name()));
    if (l.product_external_id().empty() && l.name().empty()) {
      v.Add(absl::StrCat(lp, ".name"), "required for a line without product_external_id");
    }
    CheckText(l.name(), absl::StrCat(lp, ".name"), kMaxName, false, v);
    CheckText(l.product_external_id(), absl::StrCat(lp, ".product_external_id"), kMaxExternalId, false, v);
    v.Value(ParseQuantity(absl::StrCat(lp, ".quantity"), l.quantity()));
    if (l.has_unit_price()) CheckMoney(l.unit_price(), absl::StrCat(lp, ".unit_price"), false, true, v);
    if (l.discount_basis_points() < 0 || l.discount_basis_points() > 10000) {
      v.Add(absl::StrCat(lp, ".discount_basis_points"), "must be in 0..10000");
    }
    if (l.vat_basis_points() < 0 || l.vat_basis_points() > 10000) {
      v.Add(absl::StrCat(lp, ".vat_basis_points"), "must be in 0..10000");
    }
  }
}

// Fills the lines from the catalogue and computes the totals; records what is wrong.
void Price(Proposal& p, const std::string& prefix, const std::map<std::string, CatalogItem>& catalog, Violations& v) {
  std::string currency;
  int64_t total = 0;
  for (int j = 0; j < p.lines_size(); ++j) {
    Proposal::Line& l = *p.mutable_lines(j);
    const std::string lp = absl::StrCat(prefix, ".lines[", j, "]");
    if (!l.product_external_id().empty()) {
      auto it = catalog.find(l.product_external_id());
      if (it == catalog.end()) {
        v.Add(absl::StrCat(lp, ".product_external_id"), "not in the catalogue");
        continue;
      }
      l.set_product_id(it->second.id);
      if (l.name().empty()) l.set_name(it->second.name);
      if (!l.has_unit_price()) {
        l.mutable_unit_price()->set_amount_minor(it->second.price_minor);
        l.mutable_unit_price()->set_currency(it->second.currency);
        if (l.vat_basis_points() == 0) l.set_vat_basis_points(it->second.vat);
      }
    }
    if (l.unit_price().currency().empty()) l.mutable_unit_price()->set_currency(currency.empty() ? "RUB" : currency);
    if (currency.empty()) currency = l.unit_price().currency();
    if (l.unit_price().currency() != currency) {
      v.Add(absl::StrCat(lp, ".unit_price.currency"), absl::StrCat("differs from the proposal's (", currency, ")"));
      continue;
    }
    absl::StatusOr<int64_t> qty = ParseQuantity(absl::StrCat(lp, ".quantity"), l.quantity());
    if (!qty.ok()) continue;  // already recorded
    std::optional<int64_t> line_total = v.Value(
        LineTotal(lp, *qty, l.unit_price().amount_minor(), l.discount_basis_points(), 0));
    if (!line_total.has_value()) continue;
    l.mutable_total()->set_amount_minor(*line_total);
    l.mutable_total()->set_currency(currency);
    total += *line_total;
    if (total > 1'000'000'000'000'000) {
      v.Add(absl::StrCat(prefix, ".lines"), "the total exceeds 10^15");
      return;
    }
  }
  p.mutable_total()->set_amount_minor(total);
  p.mutable_total()->set_currency(currency.empty() ? "RUB" : currency);
}

}  // namespace

ProposalStore::ProposalStore(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::StatusOr<v1::BatchUpsertProposalsResponse> ProposalStore::Upsert(const Actor& actor,
                                                                       const v1::BatchUpsertProposalsRequest& request) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(actor.principal, kErpSyncPermission));
  std::vector<Proposal> rows(request.proposals().begin(), request.proposals().end());
  // What is wrong with the rows themselves; what the database says is added to it below, and every
  // violation is answered at once.
  Violations shape;
  if (rows.empty()) shape.Add("proposals", "required");
  if (rows.size() > static_cast<size_t>(kMaxProposals)) {
    shape.Add("proposals", "at most 1000 proposals a call");
    return shape.Status();
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string prefix = absl::StrCat("proposals[", i, "]");
    CheckShape(rows[i], prefix, shape);
    if (!rows[i].external_id().empty() && !seen.insert(rows[i].external_id()).second) {
      shape.Add(absl::StrCat(prefix, ".external_id"), "repeated in this batch");
    }
  }
  std::vector<std::string> fingerprints, deal_ids, keys, product_keys;
  for (const Proposal& p : rows) {
    fingerprints.push_back(Fingerprint(p));
    if (IsUuid(p.deal_id())) deal_ids.push_back(p.deal_id());
    keys.push_back(p.external_id());
    for (const Proposal::Line& l : p.lines()) {
      if (!l.product_external_id().empty()) product_keys.push_back(l.product_external_id());
    }
  }
  const absl::Time now = clock_.Now();
  v1::BatchUpsertProposalsResponse out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      pool_, now, actor.principal, actor.idempotency_key, kBatchUpsertProposalsMethod, request, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        out.Clear();
        std::vector<Proposal> priced = rows;
        std::map<std::string, DealRow> deals;
        for (const pqxx::row& r : pg::ExecPrepared(tx, kDeals, pg::ArrayLiteral(deal_ids))) {
          DealRow& d = deals[r[0].c_str()];
          d.info.id = r[0].c_str();
          d.info.name = r[1].c_str();
          d.info.ownership.responsible_id = r[2].c_str();
          d.info.ownership.team_ids = JsonStrings(r[3].c_str());
          d.pipeline_name = r[4].c_str();
          d.proposals_from_erp = r[5].as<bool>();
        }
        std::map<std::string, CatalogItem> catalog;
        for (const pqxx::row& r : pg::ExecPrepared(tx, kProducts, pg::ArrayLiteral(product_keys))) {
          catalog[r[0].c_str()] = CatalogItem{.id = r[1].c_str(), .name = r[2].c_str(), .currency = r[4].c_str(),
                                              .price_minor = r[3].as<int64_t>(), .vat = r[5].as<int>()};
        }
        std::map<std::string, Stored> stored;
        for (const pqxx::row& r : pg::ExecPrepared(tx, kExisting, pg::ArrayLiteral(keys))) {
          stored[r[0].c_str()] = Stored{.id = r[1].c_str(), .deal_id = r[2].c_str(), .sha = r[4].c_str(),
                                        .revision = r[3].as<int64_t>(), .version = r[5].as<int64_t>()};
        }
        enum class Op { kCreate, kRevise, kUnchanged, kStale };
        std::vector<Op> ops(priced.size());
        Violations v = shape;
        for (size_t i = 0; i < priced.size(); ++i) {
          Proposal& p = priced[i];
          const std::string prefix = absl::StrCat("proposals[", i, "]");
          auto deal = deals.find(p.deal_id());
          if (!IsUuid(p.deal_id())) {  // named already
          } else if (deal == deals.end()) {
            v.Add(absl::StrCat(prefix, ".deal_id"), "no such deal");
          } else if (!deal->second.proposals_from_erp) {
            v.Add(absl::StrCat(prefix, ".deal_id"),
                  absl::StrCat("the deal's direction «", deal->second.pipeline_name,
                               "» does not take proposals from 1C (ErpSettings.directions)"));
          } else {
            p.set_deal_name(deal->second.info.name);
          }
          Price(p, prefix, catalog, v);
          auto s = stored.find(p.external_id());
          if (s == stored.end()) {
            ops[i] = Op::kCreate;
            continue;
          }
          if (s->second.deal_id != p.deal_id()) {
            v.Add(absl::StrCat(prefix, ".deal_id"), "the proposal belongs to another deal");
          } else if (p.revision() < s->second.revision) {
            ops[i] = Op::kStale;
          } else if (p.revision() == s->second.revision) {
            if (s->second.sha == fingerprints[i]) {
              ops[i] = Op::kUnchanged;
            } else {
              v.Add(absl::StrCat(prefix, ".revision"),
                    absl::StrCat("revision ", p.revision(), " is stored with other content; send a higher revision"));
            }
          } else {
            ops[i] = Op::kRevise;
          }
        }
        CRM_RETURN_IF_ERROR(v.Status());
        const std::string at = FormatRfc3339Utc(now);
        for (size_t i = 0; i < priced.size(); ++i) {
          Proposal& p = priced[i];
          const Stored* s = stored.contains(p.external_id()) ? &stored[p.external_id()] : nullptr;
          if (ops[i] == Op::kStale || ops[i] == Op::kUnchanged) {
            out.add_ids(s->id);
            out.set_stale(out.stale() + (ops[i] == Op::kStale ? 1 : 0));
            out.set_unchanged(out.unchanged() + (ops[i] == Op::kUnchanged ? 1 : 0));
            continue;
          }
          const std::string lines = LinesJson(p);
          const DealInfo& deal = deals[p.deal_id()].info;
          if (ops[i] == Op::kCreate) {
            p.set_id(NewUuidV7());
            pqxx::result r = pg::ExecPrepared(tx, kInsert, p.id(), p.external_id(), p.deal_id(), p.number(), p.date(),
                                              p.revision(), static_cast<int>(p.status()), p.valid_until(), lines,
                                              p.total().amount_minor(), p.total().currency(), p.comment(),
                                              fingerprints[i], at);
            if (r.empty()) {
              return absl::AbortedError(absl::StrCat("proposals[", i, "] was created by a concurrent call; retry"));
            }
            p.set_version(1);
            *p.mutable_create_time() = ToProtoTimestamp(now);
          } else {
            p.set_id(s->id);
            pqxx::row r = pg::ExecPrepared1(tx, kRevise, p.id(), p.number(), p.date(), p.revision(),
                                            static_cast<int>(p.status()), p.valid_until(), lines,
                                            p.total().amount_minor(), p.total().currency(), p.comment(),
                                            fingerprints[i], at);
            p.set_version(r[0].as<int64_t>());
            *p.mutable_create_time() = TsFromMicros(r[1].as<int64_t>());
          }
          *p.mutable_update_time() = ToProtoTimestamp(now);
          pg::ExecPrepared(tx, kInsertRevision, p.id(), p.revision(), static_cast<int>(p.status()), p.number(),
                           p.date(), p.valid_until(), lines, p.total().amount_minor(), p.total().currency(),
                           p.comment(), at);
          out.add_ids(p.id());
          if (ops[i] == Op::kCreate) {
            out.set_created(out.created() + 1);
            v1::ProposalCreated ev;
            *ev.mutable_proposal() = p;
            CRM_RETURN_IF_ERROR(
                Emit(tx, outbox_, actor, v1::kProposalAggregate, p.id(), v1::kProposalCreatedType, ev, deal));
          } else {
            out.set_revised(out.revised() + 1);
            v1::ProposalRevised ev;
            *ev.mutable_proposal() = p;
            ev.set_from_revision(s->revision);
            CRM_RETURN_IF_ERROR(
                Emit(tx, outbox_, actor, v1::kProposalAggregate, p.id(), v1::kProposalRevisedType, ev, deal));
          }
        }
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<Proposal> ProposalStore::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  Proposal out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    SqlParams p;
    pqxx::result r = ExecPrepared(
        tx, absl::StrCat("SELECT ", Columns(), " FROM proposals p WHERE p.id = ", p.Add(std::string(id)), "::uuid"),
        p);
    if (r.empty()) return absl::NotFoundError("proposal not found");
    absl::StatusOr<DealInfo> deal = LoadDeal(tx, caller, r[0][2].c_str(), Access::kRead);
    if (!deal.ok()) return absl::NotFoundError("proposal not found");
    out = Read(r[0], deal->name);
    for (const pqxx::row& rev : pg::ExecPrepared(tx, kRevisions, out.id())) {
      Proposal::Revision* x = out.add_revisions();
      x->set_revision(rev[0].as<int64_t>());
      x->set_status(static_cast<Proposal::Status>(rev[1].as<int>()));
      x->mutable_total()->set_amount_minor(rev[2].as<int64_t>());
      x->mutable_total()->set_currency(rev[3].c_str());
      x->set_line_count(rev[4].is_null() ? 0 : rev[4].as<int>());
      *x->mutable_receive_time() = TsFromMicros(rev[5].as<int64_t>());
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListProposalsResponse> ProposalStore::List(const Principal& caller,
                                                              const v1::ListProposalsRequest& req) {
  Violations v;
  if (!IsUuid(req.deal_id())) v.Add("deal_id", req.deal_id().empty() ? "required" : "not a UUID");
  if (!Proposal::Status_IsValid(req.status())) v.Add("status", "not a status");
  const std::optional<int> limit = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  SqlParams token_params;  // the page token's values first: $1, $2 of `after`
  const std::optional<std::string> after =
      v.Value(AfterDayPageToken(req.page_token(), "p.doc_date", "p.id", token_params));
  CRM_RETURN_IF_ERROR(v.Status());
  v1::ListProposalsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDeal(tx, caller, req.deal_id(), Access::kRead));
    SqlParams p = token_params;
    std::vector<std::string> conds{*after, absl::StrCat("p.deal_id = ", p.Add(deal.id), "::uuid")};
    if (req.status() != Proposal::STATUS_UNSPECIFIED) {
      conds.push_back(absl::StrCat("p.status = ", p.Add(absl::StrCat(static_cast<int>(req.status()))), "::smallint"));
    }
    pqxx::result r = ExecPrepared(
        tx, absl::StrCat("SELECT ", Columns(), " FROM proposals p WHERE ",
                         absl::StrJoin(conds, " AND "), " ORDER BY p.doc_date DESC, p.id DESC LIMIT ", *limit + 1),
        p);
    for (int i = 0; i < static_cast<int>(r.size()) && i < *limit; ++i) *out.add_proposals() = Read(r[i], deal.name);
    if (static_cast<int>(r.size()) > *limit) {
      const Proposal& last = out.proposals(*limit - 1);
      absl::CivilDay day;
      (void)absl::ParseCivilTime(last.date(), &day);
      out.set_next_page_token(DayPageToken(day, last.id()));
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

}  // namespace crm::deals::erp
