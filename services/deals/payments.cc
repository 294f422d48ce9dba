// File: services/deals/payments.cc
#include "services/deals/payments.h"

#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "crm/deals/v1/commerce.pb.h"
#include "libs/base/clock.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_numeric.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/idempotent.h"
#include "services/deals/products.h"
#include "services/deals/sql.h"
#include "services/deals/violations.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr size_t kMaxComment = 2000;
constexpr int kMaxParts = 24;

crm::common::v1::Money MakeMoney(int64_t minor, const std::string& currency) {
  crm::common::v1::Money m;
  m.set_amount_minor(minor);
  m.set_currency(currency);
  return m;
}

// Returns `text` as "YYYY-MM-DD" if it is a calendar day between 2000 and 2200.
absl::StatusOr<std::string> CheckDate(std::string_view field, const std::string& text) {
  if (text.empty()) return InvalidFieldError(field, "required");
  absl::CivilDay day;
  if (text.size() != 10 || !absl::ParseCivilTime(text, &day) || day.year() < 2000 || day.year() > 2200) {
    return InvalidFieldError(field, "not a date YYYY-MM-DD");
  }
  return absl::FormatCivilTime(day);
}

absl::StatusOr<int64_t> CheckAmount(std::string_view field, const crm::common::v1::Money& m,
                                    const std::string& currency) {
  const std::string f(field);
  if (!m.currency().empty() && m.currency() != currency) {
    return InvalidFieldError(f + ".currency", absl::StrCat("must be the deal's currency ", currency));
  }
  if (m.amount_minor() <= 0) return InvalidFieldError(f + ".amount_minor", "must be positive");
  if (m.amount_minor() > kMaxAmountMinor) return InvalidFieldError(f + ".amount_minor", "too large");
  return m.amount_minor();
}

absl::Status CheckComment(std::string_view field, const std::string& text) {
  if (CodePoints(text) > kMaxComment) return InvalidFieldError(field, "longer than 2000 characters");
  return absl::OkStatus();
}

absl::Status RequirePayments(const Principal& caller) {
  return rpc::RequirePermission(caller, kPaymentsWrite);
}

std::string PaymentColumns() {
  return absl::StrCat(
      "x.id::text, x.deal_id::text, to_char(x.due_date, 'YYYY-MM-DD'), x.amount_minor, x.currency, "
      "x.comment, "
      "x.schedule_percent, ",
      MicrosOf("x.received_time"), ", coalesce(x.received_by::text, ''), x.version, ",
      MicrosOf("x.create_time"), ", ", MicrosOf("x.update_time"));
}

v1::Payment ReadPayment(const pqxx::row& r, const std::string& today) {
  v1::Payment p;
  p.set_id(r[0].as<std::string>());
  p.set_deal_id(r[1].as<std::string>());
  p.set_due_date(r[2].as<std::string>());
  *p.mutable_amount() = MakeMoney(r[3].as<int64_t>(), r[4].as<std::string>());
  p.set_comment(r[5].as<std::string>());
  p.set_schedule_percent(r[6].as<int>());
  if (!r[7].is_null()) {
    p.set_received(true);
    *p.mutable_received_time() = TsFromMicros(r[7].as<int64_t>());
  }
  p.set_received_by_id(r[8].as<std::string>());
  p.set_version(r[9].as<int64_t>());
  *p.mutable_create_time() = TsFromMicros(r[10].as<int64_t>());
  *p.mutable_update_time() = TsFromMicros(r[11].as<int64_t>());
  p.set_overdue(!p.received() && p.due_date() < today);
  return p;
}

std::optional<v1::Payment> LoadPayment(pqxx::transaction_base& tx, const std::string& deal_id,
                                       std::string_view id, const std::string& today) {
  SqlParams p;
  pqxx::result r = Exec(
      tx,
      absl::StrCat("SELECT ", PaymentColumns(), " FROM deal_payments x WHERE x.id = ", p.Add(std::string(id)),
                   "::uuid AND x.deal_id = ", p.Add(deal_id), "::uuid FOR UPDATE"),
      p);
  if (r.empty()) return std::nullopt;
  return ReadPayment(r[0], today);
}

void InsertPayment(pqxx::transaction_base& tx, const v1::Payment& x) {
  SqlParams p;
  Exec(
      tx,
      absl::StrCat("INSERT INTO deal_payments (id, deal_id, due_date, amount_minor, currency, comment, "
                   "schedule_percent, version, create_time, update_time) VALUES (",
                   p.Add(x.id()), "::uuid, ", p.Add(x.deal_id()), "::uuid, ", p.Add(x.due_date()), "::date, ",
                   p.Add(absl::StrCat(x.amount().amount_minor())), "::bigint, ", p.Add(x.amount().currency()),
                   ", ", p.Add(x.comment()), ", ", p.Add(absl::StrCat(x.schedule_percent())), "::int, 1, ",
                   TsParam(p, FromProtoTimestamp(x.create_time())), ", ",
                   TsParam(p, FromProtoTimestamp(x.update_time())), ")"),
      p);
}

}  // namespace

PaymentStore::PaymentStore(pg::Pool& pool, const Clock& clock, DealStore& deals, absl::TimeZone zone)
    : pool_(pool), clock_(clock), deals_(deals), zone_(zone), outbox_("deals", clock) {}

namespace {

// The work every change shares: the deal locked and checked, today's day, and afterwards the budget
// recomputed and the panel built.
class PanelTx {
 public:
  PanelTx(pqxx::transaction_base& tx, DealStore& deals, const Actor& actor, std::string today)
      : tx_(tx), deals_(deals), actor_(actor), today_(std::move(today)) {}

  absl::Status Open(std::string_view deal_id, bool write) {
    if (write) CRM_RETURN_IF_ERROR(RequirePayments(actor_.principal));
    CRM_ASSIGN_OR_RETURN(deal_, LoadDealHead(tx_, actor_.principal, deal_id, write, /*for_update=*/write));
    return absl::OkStatus();
  }

  const DealHead& deal() const { return deal_; }
  const std::string& today() const { return today_; }

  // Sets the deal's budget to the sum of its payments when it has any (DealStore::UpdateInTx: version,
  // history, DealUpdated).
  absl::Status RecomputeBudget() {
    SqlParams p;
    pqxx::row r =
        Exec(tx_,
             absl::StrCat("SELECT count(*), ", pg::SaturatingBigint("coalesce(sum(amount_minor), 0)"),
                          " FROM deal_payments "
                          "WHERE deal_id = ",
                          p.Add(deal_.id), "::uuid"),
             p)[0];
    if (r[0].as<int64_t>() == 0) return absl::OkStatus();
    const int64_t sum = r[1].as<int64_t>();
    if (sum > kMaxAmountMinor) {
      return InvalidFieldError("payment.amount.amount_minor",
                               absl::StrCat("the deal's payments would sum to more than ", kMaxAmountMinor));
    }
    if (sum == deal_.amount_minor) return absl::OkStatus();
    v1::Deal d;
    d.set_id(deal_.id);
    *d.mutable_amount() = MakeMoney(sum, deal_.currency);
    google::protobuf::FieldMask mask;
    mask.add_paths("amount");
    CRM_ASSIGN_OR_RETURN(v1::Deal updated, deals_.UpdateInTx(tx_, actor_, d, mask, /*check_version=*/false));
    deal_.amount_minor = updated.amount().amount_minor();
    deal_.version = updated.version();
    return absl::OkStatus();
  }

  v1::PaymentPanel Panel() {
    SqlParams p;
    pqxx::result r = Exec(
        tx_,
        absl::StrCat("SELECT ", PaymentColumns(), " FROM deal_payments x WHERE x.deal_id = ", p.Add(deal_.id),
                     "::uuid ORDER BY x.due_date, x.create_time, x.id"),
        p);
    v1::PaymentPanel panel;
    panel.set_deal_id(deal_.id);
    int64_t planned = 0, received = 0, overdue = 0;
    int overdue_count = 0;
    for (const pqxx::row& row : r) {
      v1::Payment x = ReadPayment(row, today_);
      planned += x.amount().amount_minor();
      if (x.received()) received += x.amount().amount_minor();
      if (x.overdue()) {
        ++overdue_count;
        overdue += x.amount().amount_minor();
      }
      *panel.add_payments() = std::move(x);
    }
    *panel.mutable_planned_total() = MakeMoney(planned, deal_.currency);
    *panel.mutable_received_total() = MakeMoney(received, deal_.currency);
    *panel.mutable_outstanding() = MakeMoney(planned - received, deal_.currency);
    panel.set_overdue_count(overdue_count);
    *panel.mutable_overdue_total() = MakeMoney(overdue, deal_.currency);
    *panel.mutable_budget() = MakeMoney(deal_.amount_minor, deal_.currency);
    panel.set_deal_version(deal_.version);
    panel.set_today(today_);
    return panel;
  }

  absl::Status Emit(const events::OutboxWriter& outbox, const char* type, const v1::Payment& payment,
                    std::vector<std::string> changed = {}) {
    v1::DealPaymentChanged ev;
    ev.set_deal_id(deal_.id);
    *ev.mutable_payment() = payment;
    *ev.mutable_budget() = MakeMoney(deal_.amount_minor, deal_.currency);
    for (std::string& c : changed) ev.add_changed_fields(std::move(c));
    return EmitDealEvent(tx_, outbox, actor_, deal_, type, ev);
  }

 private:
  pqxx::transaction_base& tx_;
  DealStore& deals_;
  const Actor& actor_;
  std::string today_;
  DealHead deal_;
};

}  // namespace

absl::StatusOr<v1::PaymentPanel> PaymentStore::GetPanel(const Principal& caller, std::string_view deal_id) {
  const Actor actor{caller, ""};
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(clock_.Now(), zone_));
  v1::PaymentPanel out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_,
                                        [&](pqxx::work& tx) -> absl::Status {
                                          PanelTx t(tx, deals_, actor, today);
                                          CRM_RETURN_IF_ERROR(t.Open(deal_id, /*write=*/false));
                                          out = t.Panel();
                                          return absl::OkStatus();
                                        },
                                        {.read_only = true}));
  return out;
}

absl::StatusOr<v1::PaymentPanel> PaymentStore::Add(const Actor& actor, std::string_view deal_id,
                                                   const v1::Payment& in) {
  CRM_RETURN_IF_ERROR(RequirePayments(actor.principal));
  v1::Payment x;
  {
    Violations v;  // every violation at once (issue 16); the currency is checked against the deal's below
    x.set_due_date(v.Value(CheckDate("payment.due_date", in.due_date())).value_or(""));
    CRM_RETURN_IF_ERROR(v.Merge(CheckComment("payment.comment", in.comment())));
    CRM_RETURN_IF_ERROR(v.Merge(CheckAmount("payment.amount", in.amount(), in.amount().currency()).status()));
    CRM_RETURN_IF_ERROR(v.Status());
  }
  x.set_comment(in.comment());
  const absl::Time now = clock_.Now();
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(now, zone_));
  v1::PaymentPanel out;
  v1::AddPaymentRequest request;  // what an idempotency key is bound to
  request.set_deal_id(std::string(deal_id));
  *request.mutable_payment() = in;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, now, actor.principal, actor.idempotency_key,
                                              kAddPaymentMethod, request, out,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    PanelTx t(tx, deals_, actor, today);
    CRM_RETURN_IF_ERROR(t.Open(deal_id, /*write=*/true));
    CRM_ASSIGN_OR_RETURN(int64_t amount, CheckAmount("payment.amount", in.amount(), t.deal().currency));
    x.set_id(NewUuidV7());
    x.set_deal_id(t.deal().id);
    *x.mutable_amount() = MakeMoney(amount, t.deal().currency);
    x.set_version(1);
    *x.mutable_create_time() = ToProtoTimestamp(now);
    *x.mutable_update_time() = ToProtoTimestamp(now);
    x.set_overdue(x.due_date() < today);
    InsertPayment(tx, x);
    CRM_RETURN_IF_ERROR(t.RecomputeBudget());
    CRM_RETURN_IF_ERROR(t.Emit(outbox_, kPaymentAddedType, x));
    out = t.Panel();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::PaymentPanel> PaymentStore::Update(const Actor& actor, std::string_view deal_id,
                                                      const v1::Payment& in,
                                                      const google::protobuf::FieldMask& mask) {
  static const std::set<std::string> kPaths = {"due_date", "amount", "comment"};
  CRM_RETURN_IF_ERROR(RequirePayments(actor.principal));
  std::set<std::string> paths(mask.paths().begin(), mask.paths().end());
  std::string due;
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(in.id())) v.Add("payment.id", "not a UUID");
    if (mask.paths().empty()) v.Add("update_mask", "required");
    for (const std::string& path : mask.paths()) {
      if (!kPaths.contains(path)) v.Add("update_mask", absl::StrCat("cannot update ", QuoteForError(path)));
    }
    if (paths.contains("due_date")) due = v.Value(CheckDate("payment.due_date", in.due_date())).value_or("");
    if (paths.contains("comment")) CRM_RETURN_IF_ERROR(v.Merge(CheckComment("payment.comment", in.comment())));
    if (paths.contains("amount")) {
      CRM_RETURN_IF_ERROR(v.Merge(CheckAmount("payment.amount", in.amount(), in.amount().currency()).status()));
    }
    if (in.version() < 0) v.Add("payment.version", "negative");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  const absl::Time now = clock_.Now();
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(now, zone_));
  v1::PaymentPanel out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    PanelTx t(tx, deals_, actor, today);
    CRM_RETURN_IF_ERROR(t.Open(deal_id, /*write=*/true));
    std::optional<v1::Payment> old = LoadPayment(tx, t.deal().id, in.id(), today);
    if (!old.has_value()) return absl::NotFoundError("payment not found");
    if (in.version() != 0 && in.version() != old->version()) {  // 0 = any version (README "Versions")
      return absl::AbortedError(
          absl::StrCat("version mismatch: the payment is at version ", old->version(), ", not ", in.version()));
    }
    v1::Payment next = *old;
    std::vector<std::string> changed;
    if (paths.contains("amount")) {
      CRM_ASSIGN_OR_RETURN(int64_t amount, CheckAmount("payment.amount", in.amount(), t.deal().currency));
      if (amount != old->amount().amount_minor()) {
        if (old->received()) {
          return absl::FailedPreconditionError(
              "a received payment's amount cannot change: undo the mark first");
        }
        next.mutable_amount()->set_amount_minor(amount);
        changed.push_back("amount");
      }
    }
    if (paths.contains("due_date") && due != old->due_date()) {
      next.set_due_date(due);
      changed.push_back("due_date");
    }
    if (paths.contains("comment") && in.comment() != old->comment()) {
      next.set_comment(in.comment());
      changed.push_back("comment");
    }
    if (!changed.empty()) {
      next.set_version(old->version() + 1);
      *next.mutable_update_time() = ToProtoTimestamp(now);
      next.set_overdue(!next.received() && next.due_date() < today);
      SqlParams p;
      Exec(tx,
           absl::StrCat("UPDATE deal_payments SET due_date = ", p.Add(next.due_date()),
                        "::date, amount_minor = ", p.Add(absl::StrCat(next.amount().amount_minor())),
                        "::bigint, comment = ", p.Add(next.comment()), ", version = ",
                        p.Add(absl::StrCat(next.version())), "::bigint, update_time = ", TsParam(p, now),
                        " WHERE id = ", p.Add(next.id()), "::uuid"),
           p);
      CRM_RETURN_IF_ERROR(t.RecomputeBudget());
      CRM_RETURN_IF_ERROR(t.Emit(outbox_, kPaymentUpdatedType, next, changed));
    }
    out = t.Panel();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::PaymentPanel> PaymentStore::MarkReceived(const Actor& actor,
                                                            const v1::MarkPaymentReceivedRequest& req) {
  CRM_RETURN_IF_ERROR(RequirePayments(actor.principal));
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(req.id())) v.Add("id", "not a UUID");
    CRM_RETURN_IF_ERROR(v.Merge(CheckComment("comment", req.comment())));
    CRM_RETURN_IF_ERROR(v.Status());
  }
  const absl::Time now = clock_.Now();
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(now, zone_));
  v1::PaymentPanel out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, now, actor.principal, actor.idempotency_key,
                                              kMarkPaymentReceivedMethod, req, out,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    PanelTx t(tx, deals_, actor, today);
    CRM_RETURN_IF_ERROR(t.Open(req.deal_id(), /*write=*/true));
    std::optional<v1::Payment> old = LoadPayment(tx, t.deal().id, req.id(), today);
    if (!old.has_value()) return absl::NotFoundError("payment not found");
    if (old->received() != req.undo()) {  // already in the asked state: nothing to do
      out = t.Panel();
      return absl::OkStatus();
    }
    v1::Payment next = *old;
    next.set_version(old->version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(now);
    if (!req.comment().empty()) next.set_comment(req.comment());
    SqlParams p;
    std::string set;
    if (req.undo()) {
      next.set_received(false);
      next.clear_received_time();
      next.clear_received_by_id();
      set = "received_time = NULL, received_by = NULL";
    } else {
      next.set_received(true);
      *next.mutable_received_time() = ToProtoTimestamp(now);
      next.set_received_by_id(ActingUserId(actor.principal));
      set = absl::StrCat("received_time = ", TsParam(p, now), ", received_by = ",
                         next.received_by_id().empty() ? "NULL" : p.Add(next.received_by_id()) + "::uuid");
    }
    next.set_overdue(!next.received() && next.due_date() < today);
    Exec(tx,
         absl::StrCat("UPDATE deal_payments SET ", set, ", comment = ", p.Add(next.comment()), ", version = ",
                      p.Add(absl::StrCat(next.version())), "::bigint, update_time = ", TsParam(p, now),
                      " WHERE id = ", p.Add(next.id()), "::uuid"),
         p);
    CRM_RETURN_IF_ERROR(t.Emit(outbox_, req.undo() ? kPaymentUnreceivedType : kPaymentReceivedType, next));
    out = t.Panel();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::PaymentPanel> PaymentStore::Remove(const Actor& actor, std::string_view deal_id,
                                                      std::string_view id) {
  CRM_RETURN_IF_ERROR(RequirePayments(actor.principal));
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(clock_.Now(), zone_));
  v1::PaymentPanel out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    PanelTx t(tx, deals_, actor, today);
    CRM_RETURN_IF_ERROR(t.Open(deal_id, /*write=*/true));
    std::optional<v1::Payment> old = LoadPayment(tx, t.deal().id, id, today);
    if (!old.has_value()) return absl::NotFoundError("payment not found");
    if (old->received()) {
      return absl::FailedPreconditionError("a received payment cannot be removed: undo the mark first");
    }
    SqlParams p;
    Exec(tx, absl::StrCat("DELETE FROM deal_payments WHERE id = ", p.Add(old->id()), "::uuid"), p);
    CRM_RETURN_IF_ERROR(t.RecomputeBudget());
    CRM_RETURN_IF_ERROR(t.Emit(outbox_, kPaymentRemovedType, *old));
    out = t.Panel();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::PaymentPanel> PaymentStore::ApplySchedule(const Actor& actor,
                                                             const v1::ApplyPaymentScheduleRequest& req) {
  CRM_RETURN_IF_ERROR(RequirePayments(actor.principal));
  if (req.parts().empty()) return InvalidFieldError("parts", "required: e.g. [100], [50, 50], [30, 70]");
  if (req.parts_size() > kMaxParts)
    return InvalidFieldError("parts", absl::StrCat("at most ", kMaxParts, " parts"));
  int sum = 0;
  bool percents_valid = true;
  std::vector<std::string> due;
  Violations v;  // every violation at once (issue 16)
  for (int i = 0; i < req.parts_size(); ++i) {
    const v1::SchedulePart& part = req.parts(i);
    if (part.percent() < 1 || part.percent() > 100) {
      v.Add(absl::StrCat("parts[", i, "].percent"), "must be a whole percent from 1 to 100");
      percents_valid = false;
    }
    sum += part.percent();
    due.push_back(v.Value(CheckDate(absl::StrCat("parts[", i, "].due_date"), part.due_date())).value_or(""));
    CRM_RETURN_IF_ERROR(v.Merge(CheckComment(absl::StrCat("parts[", i, "].comment"), part.comment())));
  }
  if (percents_valid && sum != 100) v.Add("parts", absl::StrCat("the percents sum to ", sum, ", not 100"));
  if (req.has_total()) {
    CRM_RETURN_IF_ERROR(v.Merge(CheckAmount("total", req.total(), req.total().currency()).status()));
  }
  CRM_RETURN_IF_ERROR(v.Status());
  const absl::Time now = clock_.Now();
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(now, zone_));
  v1::PaymentPanel out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, now, actor.principal, actor.idempotency_key,
                                              kApplyPaymentScheduleMethod, req, out,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    PanelTx t(tx, deals_, actor, today);
    CRM_RETURN_IF_ERROR(t.Open(req.deal_id(), /*write=*/true));
    const std::string& currency = t.deal().currency;
    int64_t total = 0;
    if (req.has_total()) {
      CRM_ASSIGN_OR_RETURN(total, CheckAmount("total", req.total(), currency));
    } else {
      // The products total when the deal has lines, else its budget; less what was already received.
      SqlParams p;
      const std::string d = p.Add(t.deal().id);
      pqxx::row r =
          Exec(tx,
               absl::StrCat("SELECT (SELECT count(*) FROM deal_products WHERE deal_id = ", d,
                            "::uuid), (SELECT ", pg::SaturatingBigint("coalesce(sum(total_minor), 0)"),
                            " FROM deal_products WHERE deal_id = ", d, "::uuid), (SELECT ",
                            pg::SaturatingBigint("coalesce(sum(amount_minor), 0)"),
                            " FROM deal_payments WHERE deal_id = ",
                            d, "::uuid AND received_time IS NOT NULL)"),
               p)[0];
      const int64_t base = r[0].as<int64_t>() > 0 ? r[1].as<int64_t>() : t.deal().amount_minor;
      total = base - r[2].as<int64_t>();
      if (total <= 0) return InvalidFieldError("total", "nothing left to schedule: give the total");
    }
    std::vector<int64_t> amounts;
    int64_t allotted = 0;
    for (int i = 0; i < req.parts_size(); ++i) {
      const int64_t a = i + 1 == req.parts_size()
                            ? total - allotted
                            : static_cast<int64_t>(absl::int128(total) * req.parts(i).percent() / 100);
      if (a <= 0) return InvalidFieldError("total", "too small to split into these parts");
      amounts.push_back(a);
      allotted += a;
    }
    SqlParams p;
    pqxx::result removed = Exec(tx,
                                absl::StrCat("DELETE FROM deal_payments WHERE deal_id = ", p.Add(t.deal().id),
                                             "::uuid AND received_time IS NULL RETURNING id::text"),
                                p);
    v1::DealPaymentScheduleApplied ev;
    ev.set_deal_id(t.deal().id);
    *ev.mutable_total() = MakeMoney(total, currency);
    for (const pqxx::row& row : removed) ev.add_removed_payment_ids(row[0].as<std::string>());
    for (int i = 0; i < req.parts_size(); ++i) {
      v1::Payment x;
      x.set_id(NewUuidV7());
      x.set_deal_id(t.deal().id);
      x.set_due_date(due[i]);
      *x.mutable_amount() = MakeMoney(amounts[i], currency);
      x.set_comment(req.parts(i).comment());
      x.set_schedule_percent(req.parts(i).percent());
      x.set_version(1);
      *x.mutable_create_time() = ToProtoTimestamp(now);
      *x.mutable_update_time() = ToProtoTimestamp(now);
      x.set_overdue(x.due_date() < today);
      InsertPayment(tx, x);
      ev.add_percents(x.schedule_percent());
      *ev.add_payments() = std::move(x);
    }
    CRM_RETURN_IF_ERROR(t.RecomputeBudget());
    *ev.mutable_budget() = MakeMoney(t.deal().amount_minor, currency);
    CRM_RETURN_IF_ERROR(EmitDealEvent(tx, outbox_, actor, t.deal(), kPaymentScheduleAppliedType, ev));
    out = t.Panel();
    return absl::OkStatus();
  }));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// PaymentServiceImpl

grpc::Status PaymentServiceImpl::GetPaymentPanel(grpc::ServerContext* ctx,
                                                 const v1::GetPaymentPanelRequest* req,
                                                 v1::PaymentPanel* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.GetPanel(caller, req->deal_id()); });
}

grpc::Status PaymentServiceImpl::AddPayment(grpc::ServerContext* ctx, const v1::AddPaymentRequest* req,
                                            v1::PaymentPanel* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Add(ActorOf(caller, *ctx), req->deal_id(), req->payment());
  });
}

grpc::Status PaymentServiceImpl::UpdatePayment(grpc::ServerContext* ctx, const v1::UpdatePaymentRequest* req,
                                               v1::PaymentPanel* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->deal_id(), req->payment(),
                         req->update_mask());
  });
}

grpc::Status PaymentServiceImpl::MarkPaymentReceived(grpc::ServerContext* ctx,
                                                     const v1::MarkPaymentReceivedRequest* req,
                                                     v1::PaymentPanel* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.MarkReceived(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status PaymentServiceImpl::RemovePayment(grpc::ServerContext* ctx, const v1::RemovePaymentRequest* req,
                                               v1::PaymentPanel* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Remove(ActorOf(caller, *ctx), req->deal_id(), req->id());
  });
}

grpc::Status PaymentServiceImpl::ApplyPaymentSchedule(grpc::ServerContext* ctx,
                                                      const v1::ApplyPaymentScheduleRequest* req,
                                                      v1::PaymentPanel* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.ApplySchedule(ActorOf(caller, *ctx), *req);
  });
}

}  // namespace crm::deals
