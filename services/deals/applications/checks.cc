// File: services/deals/applications/checks.cc
// What a deal application's write checks (D15 second half, seed 004 §6.3): see checks.h.
#include "services/deals/applications/checks.h"

#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "services/deals/applications/shares.h"
#include "services/deals/sql.h"
#include "services/deals/timeline.h"

namespace crm::deals::applications {

using crm::common::v1::Principal;

namespace {

constexpr int kMaxParticipants = 20;
constexpr int kMaxSchedule = 120;
constexpr size_t kMaxComment = 2000;
constexpr int64_t kMaxMinor = 1'000'000'000'000'000;  // 10^13 roubles: far above any price

Ownership OwnershipOf(v1::OwnershipKind k) {
  switch (k) {
    case v1::SHARED:
      return Ownership::kShared;
    case v1::JOINT:
      return Ownership::kJoint;
    default:
      return Ownership::kIndividual;
  }
}

}  // namespace

crm::common::v1::Money Money(int64_t minor, const std::string& currency) {
  crm::common::v1::Money m;
  m.set_amount_minor(minor);
  m.set_currency(currency);
  return m;
}


absl::StatusOr<UnitPrice> PriceOfUnit(pqxx::transaction_base& tx, const std::string& unit_id,
                                      const std::string& project_id, const std::string& client_id) {
  SqlParams p;
  // The unit read FOR SHARE: a booking or a price change waits until this application is written.
  pqxx::result r = Exec(
      tx,
      absl::StrCat("SELECT u.project_id::text, u.status, u.final_price_minor, u.currency, u.number, "
                   "coalesce(k.id::text, ''), coalesce(k.client_id::text, ''), coalesce(k.final_price_minor, 0) "
                   "FROM realty_units u LEFT JOIN realty_bookings k ON k.unit_id = u.id AND k.status = 2 "
                   "WHERE u.id = ",
                   p.Add(unit_id), "::uuid FOR SHARE OF u"),
      p);
  if (r.empty()) return InvalidFieldError("application.unit_id", "no such unit");
  const pqxx::row row = r[0];
  if (row[0].as<std::string>() != project_id) {
    return InvalidFieldError("application.unit_id", "not a unit of the request's project");
  }
  const std::string number = row[4].as<std::string>();
  const int status = row[1].as<int>();
  const std::string booking = row[5].as<std::string>();
  if (!booking.empty() && row[6].as<std::string>() != client_id) {
    return WithFieldViolations(
        absl::FailedPreconditionError(absl::StrCat("unit ", number, " is booked by another client")),
        {{"application.unit_id", "booked by another client"}});
  }
  if (status == 4 || status == 5) {
    return WithFieldViolations(
        absl::FailedPreconditionError(absl::StrCat("unit ", number, status == 4 ? " is sold" : " is withdrawn from sale")),
        {{"application.unit_id", status == 4 ? "sold" : "withdrawn from sale"}});
  }
  UnitPrice out{row[2].as<int64_t>(), row[3].as<std::string>(), ""};
  if (!booking.empty()) {
    out.price_minor = row[7].as<int64_t>();
    out.booking_id = booking;
  }
  return out;
}


void CheckDeal(pqxx::transaction_base& tx, const Principal& caller, const v1::DealApplication& a, Violations& v) {
  if (a.deal_id().empty()) return;
  if (!IsUuid(a.deal_id())) return v.Add("application.deal_id", "not a UUID");
  absl::StatusOr<DealOwnership> deal = LoadDealOwnership(tx, a.deal_id(), false);
  if (!deal.ok() || !crm::deals::CheckCanRead(caller, *deal).ok()) return v.Add("application.deal_id", "no such deal");
  SqlParams p;
  pqxx::result r = Exec(tx, absl::StrCat("SELECT coalesce(client_id::text, '') FROM deals WHERE id = ", p.Add(a.deal_id()), "::uuid"), p);
  const std::string client = r.empty() ? "" : r[0][0].as<std::string>();
  if (!client.empty() && client != a.client_id()) v.Add("application.deal_id", "a deal of another client");
}

absl::Status Complete(pqxx::transaction_base& tx, v1::DealApplication& a, bool equal_split) {
  Violations v;
  const int64_t price = a.price().amount_minor();
  const std::string currency = a.price().currency().empty() ? "RUB" : a.price().currency();
  // Participants.
  if (a.participants_size() == 0) v.Add("application.participants", "at least one participant");
  if (a.participants_size() > kMaxParticipants) {
    v.Add("application.participants", absl::StrCat("at most ", kMaxParticipants));
  }
  std::set<std::string> seen;
  std::vector<std::string> ids;
  int conditional = 0;
  for (int i = 0; i < a.participants_size(); ++i) {
    const v1::DealParticipant& x = a.participants(i);
    const std::string path = absl::StrCat("application.participants[", i, "]");
    if (!IsUuid(x.client_id())) {
      v.Add(path + ".client_id", x.client_id().empty() ? "required" : "not a UUID");
    } else if (!seen.insert(x.client_id()).second) {
      v.Add(path + ".client_id", "this client is already a participant");
    } else {
      ids.push_back(x.client_id());
    }
    if (x.conditional() && ++conditional == 2) v.Add(path + ".conditional", "at most one conditional (У) participant");
    if (!x.signature_expiry_date().empty()) {
      CRM_RETURN_IF_ERROR(v.Merge(ParseCivilDay(x.signature_expiry_date(), path + ".signature_expiry_date").status()));
    }
  }
  std::map<std::string, std::pair<std::string, int>> clients;  // id → name, kind
  if (!ids.empty()) {
    SqlParams p;
    for (const pqxx::row& r :
         Exec(tx, absl::StrCat("SELECT id::text, name, kind FROM clients WHERE id = ANY(", p.Add(ArrayLiteral(ids)), "::uuid[])"), p)) {
      clients[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<int>()};
    }
  }
  std::vector<ShareInput> owners;
  std::vector<int> owner_index;
  for (int i = 0; i < a.participants_size(); ++i) {
    v1::DealParticipant& x = *a.mutable_participants(i);
    const std::string path = absl::StrCat("application.participants[", i, "]");
    if (IsUuid(x.client_id())) {
      auto it = clients.find(x.client_id());
      if (it == clients.end()) {
        v.Add(path + ".client_id", "no such client");
      } else {
        x.set_client_name(it->second.first);
        x.set_client_kind(static_cast<v1::Client::Kind>(it->second.second));
        if (x.client_kind() == v1::Client::KIND_PERSON && !x.real()) {
          v.Add(path + ".real", "every person in the deal is real (Р)");
        }
        if (x.client_kind() == v1::Client::KIND_COMPANY && x.real()) {
          v.Add(path + ".real", "only a person is real (Р)");
        }
      }
    }
    x.clear_share_amount();
    if (x.owner()) {
      owners.push_back({path, {x.share_numerator(), x.share_denominator()}});
      owner_index.push_back(i);
    } else if (x.share_numerator() != 0 || x.share_denominator() != 0) {
      v.Add(path + ".owner", "a share needs an owner");
    }
  }
  // Ownership and shares.
  if (!v1::OwnershipKind_IsValid(a.ownership_kind())) v.Add("application.ownership_kind", "unknown ownership kind");
  if (a.ownership_kind() == v1::OWNERSHIP_KIND_UNSPECIFIED) {
    a.set_ownership_kind(owners.size() > 1 ? v1::SHARED : v1::INDIVIDUAL);
  }
  if (v1::OwnershipKind_IsValid(a.ownership_kind())) {
    absl::StatusOr<std::vector<Share>> shares =
        ComputeShares(OwnershipOf(a.ownership_kind()), owners, equal_split, price);
    if (!shares.ok()) {
      CRM_RETURN_IF_ERROR(v.Merge(shares.status()));
    } else {
      for (size_t k = 0; k < owner_index.size(); ++k) {
        v1::DealParticipant& x = *a.mutable_participants(owner_index[k]);
        x.set_share_numerator((*shares)[k].fraction.numerator);
        x.set_share_denominator((*shares)[k].fraction.denominator);
        // Amounts only once there is a price (a unit).
        if ((*shares)[k].amount_minor.has_value() && !a.unit_id().empty()) {
          *x.mutable_share_amount() = Money(*(*shares)[k].amount_minor, currency);
        }
      }
    }
  }
  // Block 3.
  if (!v1::PaymentKind_IsValid(a.payment_kind())) v.Add("application.payment_kind", "unknown payment kind");
  if (!a.bank_id().empty() && !IsUuid(a.bank_id())) v.Add("application.bank_id", "not a UUID");
  a.clear_campaign_name();
  if (!a.campaign_id().empty()) {
    if (!IsUuid(a.campaign_id())) {
      v.Add("application.campaign_id", "not a UUID");
    } else {
      SqlParams p;
      pqxx::result r = Exec(
          tx, absl::StrCat("SELECT name FROM marketing_campaigns WHERE active AND id = ", p.Add(a.campaign_id()), "::uuid"), p);
      if (r.empty()) {
        v.Add("application.campaign_id", "no such active marketing campaign");
      } else {
        a.set_campaign_name(r[0][0].as<std::string>());
      }
    }
  }
  if (a.has_own_funds()) {
    const auto& m = a.own_funds();
    if (m.amount_minor() < 0) v.Add("application.own_funds.amount_minor", "must not be negative");
    if (!m.currency().empty() && m.currency() != currency) {
      v.Add("application.own_funds.currency", absl::StrCat("must be the price's currency ", currency));
    }
    if (!a.unit_id().empty() && m.amount_minor() > price) v.Add("application.own_funds.amount_minor", "must not exceed the price");
    a.mutable_own_funds()->set_currency(currency);
  }
  if (a.payment_schedule_size() > kMaxSchedule) v.Add("application.payment_schedule", absl::StrCat("at most ", kMaxSchedule, " rows"));
  std::optional<absl::CivilDay> previous;
  int64_t sum = 0;
  bool sum_ok = true;
  for (int i = 0; i < a.payment_schedule_size(); ++i) {
    v1::PaymentScheduleItem& item = *a.mutable_payment_schedule(i);
    const std::string path = absl::StrCat("application.payment_schedule[", i, "]");
    absl::StatusOr<absl::CivilDay> day = ParseCivilDay(item.date(), path + ".date");
    if (!day.ok()) {
      CRM_RETURN_IF_ERROR(v.Merge(day.status()));
    } else {
      if (previous.has_value() && *day < *previous) v.Add(path + ".date", "before the previous payment (dates ascending)");
      previous = *day;
    }
    if (item.amount().amount_minor() <= 0 || item.amount().amount_minor() > kMaxMinor) {
      v.Add(path + ".amount.amount_minor", "must be > 0");
      sum_ok = false;
    } else {
      sum += item.amount().amount_minor();
    }
    if (!item.amount().currency().empty() && item.amount().currency() != currency) {
      v.Add(path + ".amount.currency", absl::StrCat("must be the price's currency ", currency));
    }
    item.mutable_amount()->set_currency(currency);
    if (item.kind() == v1::PaymentScheduleItem::KIND_UNSPECIFIED ||
        !v1::PaymentScheduleItem::Kind_IsValid(item.kind())) {
      v.Add(path + ".kind", "required: OWN_FUNDS, MORTGAGE_LOAN, INSTALMENT or SUBSIDY");
    }
  }
  if (a.payment_schedule_size() > 0 && sum_ok) {
    if (a.unit_id().empty()) {
      v.Add("application.payment_schedule", "the unit (its price) comes first");
    } else if (sum != price) {
      v.Add("application.payment_schedule",
            absl::StrCat("the payments sum to ", sum, " but the price is ", price, " (minor units): they must be equal"));
    }
  }
  if (CodePoints(a.comment()) > kMaxComment) v.Add("application.comment", absl::StrCat("at most ", kMaxComment, " characters"));
  return v.Status();
}


}  // namespace crm::deals::applications
