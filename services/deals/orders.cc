// File: services/deals/orders.cc
#include "services/deals/orders.h"

#include <optional>
#include <vector>
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/idempotent.h"
#include "services/deals/products.h"
#include "services/deals/sql.h"
#include "services/deals/violations.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr size_t kMaxNumber = 100;
constexpr size_t kMaxComment = 5000;
constexpr int kMaxLines = 500;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;

crm::common::v1::Money MakeMoney(int64_t minor, const std::string& currency) {
  crm::common::v1::Money m;
  m.set_amount_minor(minor);
  m.set_currency(currency);
  return m;
}

// Validates the given lines of an order in `currency`, fills their totals; returns their sum.
absl::StatusOr<int64_t> ValidateOrderLines(google::protobuf::RepeatedPtrField<v1::DealProduct>& lines,
                                           const std::string& currency) {
  if (lines.size() > kMaxLines) return InvalidFieldError("order.lines", "at most 500 lines");
  int64_t sum = 0;
  Violations v;  // every violation of every line at once (issue 16)
  std::vector<int64_t> quantities;
  for (int i = 0; i < lines.size(); ++i) {
    v1::DealProduct& l = lines[i];
    const std::string pre = absl::StrCat("order.lines[", i, "]");
    absl::StripAsciiWhitespace(l.mutable_name());
    if (l.name().empty()) v.Add(pre + ".name", "required");
    if (CodePoints(l.name()) > 500) v.Add(pre + ".name", "longer than 500 characters");
    quantities.push_back(v.Value(ParseQuantity(pre + ".quantity", l.quantity())).value_or(0));
    for (const auto& [field, m] :
         {std::pair<const char*, const crm::common::v1::Money*>{".unit_price", &l.unit_price()},
          {".discount", &l.discount()}}) {
      if (!m->currency().empty() && m->currency() != currency) {
        v.Add(pre + field + ".currency", absl::StrCat("must be the deal's currency ", currency));
      }
      if (m->amount_minor() < 0) v.Add(pre + field + ".amount_minor", "must not be negative");
    }
    if (l.discount_basis_points() < 0 || l.discount_basis_points() > 10000) {
      v.Add(pre + ".discount_basis_points", "must be between 0 and 10000");
    }
    if (l.discount_basis_points() != 0 && l.discount().amount_minor() != 0) {
      v.Add(pre + ".discount", "give a percent discount or an amount, not both");
    }
  }
  CRM_RETURN_IF_ERROR(v.Status());
  for (int i = 0; i < lines.size(); ++i) {
    v1::DealProduct& l = lines[i];
    const std::string pre = absl::StrCat("order.lines[", i, "]");
    const int64_t qty = quantities[i];
    CRM_ASSIGN_OR_RETURN(int64_t total, LineTotal(pre, qty, l.unit_price().amount_minor(),
                                                  l.discount_basis_points(), l.discount().amount_minor()));
    l.set_quantity(FormatQuantity(qty));
    l.mutable_unit_price()->set_currency(currency);
    if (l.has_discount()) l.mutable_discount()->set_currency(currency);
    *l.mutable_total() = MakeMoney(total, currency);
    sum += total;
  }
  return sum;
}

std::string OrderColumns() {
  return absl::StrCat(
      "o.id::text, o.deal_id::text, o.number, o.status, o.amount_minor, o.currency, o.lines::text, ",
      "o.comment, coalesce(o.creator_id::text, ''), o.version, ", MicrosOf("o.create_time"), ", ",
      MicrosOf("o.update_time"));
}

v1::Order ReadOrder(const pqxx::row& r) {
  v1::Order o;
  o.set_id(r[0].as<std::string>());
  o.set_deal_id(r[1].as<std::string>());
  o.set_number(r[2].as<std::string>());
  o.set_status(static_cast<v1::Order::Status>(r[3].as<int>()));
  *o.mutable_amount() = MakeMoney(r[4].as<int64_t>(), r[5].as<std::string>());
  v1::ListDealProductsResponse lines;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  if (google::protobuf::util::JsonStringToMessage(r[6].as<std::string>(), &lines, opts).ok()) {
    *o.mutable_lines() = lines.products();
  }
  o.set_comment(r[7].as<std::string>());
  o.set_creator_id(r[8].as<std::string>());
  o.set_version(r[9].as<int64_t>());
  *o.mutable_create_time() = TsFromMicros(r[10].as<int64_t>());
  *o.mutable_update_time() = TsFromMicros(r[11].as<int64_t>());
  return o;
}

std::optional<v1::Order> LoadOrder(pqxx::transaction_base& tx, const std::string& deal_id,
                                   std::string_view id, bool for_update) {
  SqlParams p;
  pqxx::result r = Exec(
      tx,
      absl::StrCat("SELECT ", OrderColumns(), " FROM deal_orders o WHERE o.id = ", p.Add(std::string(id)),
                   "::uuid AND o.deal_id = ", p.Add(deal_id), "::uuid", for_update ? " FOR UPDATE" : ""),
      p);
  if (r.empty()) return std::nullopt;
  return ReadOrder(r[0]);
}

bool IsFinal(v1::Order::Status s) { return s == v1::Order::DONE || s == v1::Order::CANCELLED; }

}  // namespace

OrderStore::OrderStore(pg::Pool& pool, const Clock& clock)
    : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::StatusOr<v1::Order> OrderStore::Create(const Actor& actor, const v1::CreateOrderRequest& req) {
  v1::Order given = req.order();
  absl::StripAsciiWhitespace(given.mutable_number());
  {
    Violations v;  // every violation at once (issue 16); the lines' own in ValidateOrderLines
    if (CodePoints(given.number()) > kMaxNumber) v.Add("order.number", "longer than 100 characters");
    if (CodePoints(given.comment()) > kMaxComment) v.Add("order.comment", "longer than 5000 characters");
    if (req.from_deal_products() && !given.lines().empty()) {
      v.Add("order.lines", "must be empty with from_deal_products");
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::Order o;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kCreateOrderMethod, req, o,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    o = given;
    CRM_ASSIGN_OR_RETURN(DealHead deal,
                         LoadDealHead(tx, actor.principal, req.deal_id(), /*write=*/true, true));
    int64_t amount = 0;
    if (req.from_deal_products()) {
      o.clear_lines();
      for (v1::DealProduct& l : LoadDealProducts(tx, deal.id)) {
        amount += l.total().amount_minor();
        *o.add_lines() = std::move(l);
      }
    } else {
      CRM_ASSIGN_OR_RETURN(amount, ValidateOrderLines(*o.mutable_lines(), deal.currency));
    }
    if (o.lines().empty()) {
      if (!o.amount().currency().empty() && o.amount().currency() != deal.currency) {
        return InvalidFieldError("order.amount.currency",
                                 absl::StrCat("must be the deal's currency ", deal.currency));
      }
      if (o.amount().amount_minor() < 0)
        return InvalidFieldError("order.amount.amount_minor", "must not be negative");
      amount = o.amount().amount_minor();
    }
    for (v1::DealProduct& l : *o.mutable_lines()) {  // a snapshot: not the deal's line rows
      l.clear_id();
      l.clear_deal_id();
      l.clear_version();
      l.clear_create_time();
      l.clear_update_time();
    }
    const absl::Time now = clock_.Now();
    o.set_id(NewUuidV7());
    o.set_deal_id(deal.id);
    o.set_status(v1::Order::NEW);
    *o.mutable_amount() = MakeMoney(amount, deal.currency);
    o.set_creator_id(ActingUserId(actor.principal));
    o.set_version(1);
    *o.mutable_create_time() = ToProtoTimestamp(now);
    *o.mutable_update_time() = ToProtoTimestamp(now);
    if (o.number().empty()) {
      o.set_number(
          absl::StrFormat("З-%06d", tx.exec1("SELECT nextval('deal_order_numbers')")[0].as<int64_t>()));
    } else {
      SqlParams q;
      if (!Exec(tx, absl::StrCat("SELECT 1 FROM deal_orders WHERE number = ", q.Add(o.number())), q)
               .empty()) {
        return absl::AlreadyExistsError(absl::StrCat("order number ", o.number(), " is taken"));
      }
    }
    v1::ListDealProductsResponse lines;
    *lines.mutable_products() = o.lines();
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(lines, &json).ok())
      return absl::InternalError("order lines");
    SqlParams p;
    Exec(tx,
         absl::StrCat(
             "INSERT INTO deal_orders (id, deal_id, number, status, amount_minor, currency, lines, comment, "
             "creator_id, version, create_time, update_time) VALUES (",
             p.Add(o.id()), "::uuid, ", p.Add(o.deal_id()), "::uuid, ", p.Add(o.number()), ", 1, ",
             p.Add(absl::StrCat(amount)), "::bigint, ", p.Add(deal.currency), ", ", p.Add(json), "::jsonb, ",
             p.Add(o.comment()), ", ",
             o.creator_id().empty() ? std::string("NULL") : p.Add(o.creator_id()) + "::uuid", ", 1, ",
             TsParam(p, now), ", ", TsParam(p, now), ")"),
         p);
    v1::DealOrderCreated ev;
    *ev.mutable_order() = o;
    return EmitDealEvent(tx, outbox_, actor, deal, kOrderCreatedType, ev);
  }));
  return o;
}

absl::StatusOr<v1::ListOrdersResponse> OrderStore::List(const Principal& caller, std::string_view deal_id) {
  v1::ListOrdersRequest req;
  req.set_deal_id(std::string(deal_id));
  return List(caller, req);
}

absl::StatusOr<v1::ListOrdersResponse> OrderStore::List(const Principal& caller, const v1::ListOrdersRequest& req) {
  Violations v;  // every violation at once; the page rule of every list (README "Lists")
  const int size = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize)).value_or(0);
  const std::optional<TimePageKey> after =
      v.Value(DecodeTimePageToken("page_token", req.page_token())).value_or(std::nullopt);
  if (req.deal_id().empty()) v.Add("deal_id", "required");
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) v.Add("deal_id", "not a UUID");
  CRM_RETURN_IF_ERROR(v.Status());
  v1::ListOrdersResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        CRM_ASSIGN_OR_RETURN(DealHead deal, LoadDealHead(tx, caller, req.deal_id(), /*write=*/false, false));
        SqlParams p;
        std::string where = absl::StrCat("o.deal_id = ", p.Add(deal.id), "::uuid");
        if (after.has_value()) {
          absl::StrAppend(&where, " AND (o.create_time, o.id) < (", TsParam(p, absl::FromUnixMicros(after->micros)),
                          ", ", p.Add(after->id), "::uuid)");
        }
        pqxx::result r = Exec(tx,
                              absl::StrCat("SELECT ", OrderColumns(), " FROM deal_orders o WHERE ", where,
                                           " ORDER BY o.create_time DESC, o.id DESC LIMIT ", size + 1),
                              p);
        for (int i = 0; i < static_cast<int>(r.size()) && i < size; ++i) *out.add_orders() = ReadOrder(r[i]);
        if (static_cast<int>(r.size()) > size) {
          const v1::Order& last = out.orders(size - 1);
          out.set_next_page_token(TimePageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Order> OrderStore::Get(const Principal& caller, std::string_view deal_id,
                                          std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  std::optional<v1::Order> out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(DealHead deal, LoadDealHead(tx, caller, deal_id, /*write=*/false, false));
        out = LoadOrder(tx, deal.id, id, false);
        return absl::OkStatus();
      },
      {.read_only = true}));
  if (!out.has_value()) return absl::NotFoundError("order not found");
  return *out;
}

absl::StatusOr<v1::Order> OrderStore::SetStatus(const Actor& actor, const v1::SetOrderStatusRequest& req) {
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(req.id())) v.Add("id", "not a UUID");
    if (req.status() == v1::Order::STATUS_UNSPECIFIED || !v1::Order::Status_IsValid(req.status())) {
      v.Add("status", "required: NEW, IN_PROGRESS, SHIPPED, DONE or CANCELLED");
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::Order result;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kSetOrderStatusMethod, req, result,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(DealHead deal,
                         LoadDealHead(tx, actor.principal, req.deal_id(), /*write=*/true, true));
    std::optional<v1::Order> old = LoadOrder(tx, deal.id, req.id(), /*for_update=*/true);
    if (!old.has_value()) return absl::NotFoundError("order not found");
    if (req.version() != 0 && req.version() != old->version()) {  // 0 = any version (README "Versions")
      return absl::AbortedError(
          absl::StrCat("version mismatch: the order is at version ", old->version(), ", not ", req.version()));
    }
    if (old->status() == req.status()) {
      result = *old;
      return absl::OkStatus();
    }
    if (IsFinal(old->status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("the order is ", v1::Order::Status_Name(old->status()), ": its status is final"));
    }
    const absl::Time now = clock_.Now();
    v1::Order next = *old;
    next.set_status(req.status());
    next.set_version(old->version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(now);
    SqlParams p;
    Exec(
        tx,
        absl::StrCat("UPDATE deal_orders SET status = ", p.Add(absl::StrCat(static_cast<int>(next.status()))),
                     "::smallint, version = ", p.Add(absl::StrCat(next.version())),
                     "::bigint, update_time = ", TsParam(p, now), " WHERE id = ", p.Add(next.id()), "::uuid"),
        p);
    v1::DealOrderStatusChanged ev;
    *ev.mutable_order() = next;
    ev.set_from_status(old->status());
    result = next;
    return EmitDealEvent(tx, outbox_, actor, deal, kOrderStatusChangedType, ev);
  }));
  return result;
}

// ---------------------------------------------------------------------------------------------------
// OrderServiceImpl

grpc::Status OrderServiceImpl::CreateOrder(grpc::ServerContext* ctx, const v1::CreateOrderRequest* req,
                                           v1::Order* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status OrderServiceImpl::ListOrders(grpc::ServerContext* ctx, const v1::ListOrdersRequest* req,
                                          v1::ListOrdersResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status OrderServiceImpl::GetOrder(grpc::ServerContext* ctx, const v1::GetOrderRequest* req,
                                        v1::Order* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.Get(caller, req->deal_id(), req->id()); });
}

grpc::Status OrderServiceImpl::SetOrderStatus(grpc::ServerContext* ctx, const v1::SetOrderStatusRequest* req,
                                              v1::Order* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.SetStatus(ActorOf(caller, *ctx), *req);
  });
}

}  // namespace crm::deals
