// File: services/deals/clients.cc
#include "services/deals/clients.h"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/idempotent.h"
#include "services/deals/sql.h"
#include "services/deals/violations.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr int kMaxName = 500;
constexpr int kMaxText = 5000;
constexpr int kMaxItems = 20;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;
constexpr int kMaxDuplicates = 20;
constexpr int kMaxBatchGet = 200;

std::string TextArray(const google::protobuf::RepeatedPtrField<std::string>& items) {
  return ArrayLiteral({items.begin(), items.end()});
}

absl::Status RequireRead(const Principal& caller) {
  if (rpc::HasPermission(caller, kClientsRead) || rpc::HasPermission(caller, kClientsWrite)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", kClientsRead));
}

absl::Status RequireWrite(const Principal& caller) { return rpc::RequirePermission(caller, kClientsWrite); }

absl::Status CheckId(std::string_view field, std::string_view id) {
  if (id.empty()) return InvalidFieldError(field, "required");
  if (!IsUuid(id)) return InvalidFieldError(field, "not a UUID");
  return absl::OkStatus();
}

absl::Status CheckText(std::string_view field, const std::string& v, size_t max) {
  if (CodePoints(v) > max) return InvalidFieldError(field, absl::StrCat("longer than ", max, " characters"));
  return absl::OkStatus();
}

// Normalises phones and e-mails in place (duplicates within one list removed, order kept), recording
// every bad one in `v` ("client.phones[1]").
void NormalizeLists(std::string_view prefix, google::protobuf::RepeatedPtrField<std::string>& phones,
                    google::protobuf::RepeatedPtrField<std::string>& emails, Violations& v) {
  const std::string pre(prefix);
  if (phones.size() > kMaxItems) v.Add(pre + ".phones", "at most 20 phones");
  if (emails.size() > kMaxItems) v.Add(pre + ".emails", "at most 20 e-mails");
  if (phones.size() > kMaxItems || emails.size() > kMaxItems) return;
  std::vector<std::string> out;
  for (int i = 0; i < phones.size(); ++i) {
    std::optional<std::string> n = v.Value(NormalizePhone(absl::StrCat(pre, ".phones[", i, "]"), phones.Get(i)));
    if (n.has_value() && std::find(out.begin(), out.end(), *n) == out.end()) out.push_back(*std::move(n));
  }
  phones.Clear();
  for (std::string& s : out) phones.Add(std::move(s));
  out.clear();
  for (int i = 0; i < emails.size(); ++i) {
    std::optional<std::string> n = v.Value(NormalizeEmail(absl::StrCat(pre, ".emails[", i, "]"), emails.Get(i)));
    if (n.has_value() && std::find(out.begin(), out.end(), *n) == out.end()) out.push_back(*std::move(n));
  }
  emails.Clear();
  for (std::string& s : out) emails.Add(std::move(s));
}

// Issue 17: the birth date and the passport (persons only), every violation at once.
absl::Status ValidatePersonal(v1::Client& c) {
  Violations v;
  const bool person = c.kind() == v1::Client::KIND_PERSON;
  if (!c.birth_date().empty()) {
    if (!person) v.Add("client.birth_date", "persons only");
    absl::StatusOr<absl::CivilDay> day = ParseCivilDay(c.birth_date(), "client.birth_date");
    if (!day.ok()) {
      CRM_RETURN_IF_ERROR(v.Merge(day.status()));
    } else if (day->year() < 1900) {
      v.Add("client.birth_date", "before 1900");
    }
  }
  v1::Passport& pp = *c.mutable_passport();
  absl::StripAsciiWhitespace(pp.mutable_series());
  absl::StripAsciiWhitespace(pp.mutable_number());
  absl::StripAsciiWhitespace(pp.mutable_issued_by());
  absl::StripAsciiWhitespace(pp.mutable_department_code());
  const bool any = !pp.series().empty() || !pp.number().empty() || !pp.issued_by().empty() ||
                   !pp.issue_date().empty() || !pp.department_code().empty();
  if (any) {
    if (!person) v.Add("client.passport", "persons only");
    auto digits = [](const std::string& s, size_t n) {
      return s.size() == n && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    };
    if (!digits(pp.series(), 4)) v.Add("client.passport.series", "4 digits required");
    if (!digits(pp.number(), 6)) v.Add("client.passport.number", "6 digits required");
    CRM_RETURN_IF_ERROR(v.Merge(CheckText("client.passport.issued_by", pp.issued_by(), kMaxText)));
    if (!pp.issue_date().empty()) {
      CRM_RETURN_IF_ERROR(v.Merge(ParseCivilDay(pp.issue_date(), "client.passport.issue_date").status()));
    }
    if (!pp.department_code().empty() &&
        !(pp.department_code().size() == 7 && pp.department_code()[3] == '-' &&
          digits(pp.department_code().substr(0, 3), 3) && digits(pp.department_code().substr(4), 3))) {
      v.Add("client.passport.department_code", "NNN-NNN required");
    }
  } else {
    c.clear_passport();
  }
  c.set_passport_filled(!pp.series().empty() && !pp.number().empty());
  return v.Status();
}

// Every violation of a client at once (issue 16).
absl::Status ValidateClient(v1::Client& c) {
  Violations v;
  if (c.kind() != v1::Client::KIND_COMPANY && c.kind() != v1::Client::KIND_PERSON) {
    v.Add("client.kind", "must be KIND_COMPANY or KIND_PERSON");
  }
  absl::StripAsciiWhitespace(c.mutable_name());
  if (c.name().empty()) v.Add("client.name", "required");
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("client.name", c.name(), kMaxName)));
  absl::StripAsciiWhitespace(c.mutable_inn());
  if (!c.inn().empty() && !IsValidInn(c.inn())) {
    v.Add("client.inn", "not a valid ИНН (10 or 12 digits with check digits)");
  }
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("client.address", c.address(), kMaxText)));
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("client.comment", c.comment(), kMaxText)));
  NormalizeLists("client", *c.mutable_phones(), *c.mutable_emails(), v);
  CRM_RETURN_IF_ERROR(v.Merge(ValidatePersonal(c)));
  return v.Status();
}

// Every violation of a contact at once (issue 16).
absl::Status ValidateContact(v1::Contact& c) {
  Violations v;
  absl::StripAsciiWhitespace(c.mutable_full_name());
  if (c.full_name().empty()) v.Add("contact.full_name", "required");
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("contact.full_name", c.full_name(), kMaxName)));
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("contact.position", c.position(), kMaxName)));
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("contact.passport", c.passport(), kMaxName)));
  NormalizeLists("contact", *c.mutable_phones(), *c.mutable_emails(), v);
  return v.Status();
}

// ---------------------------------------------------------------------------------------------------
// Rows

std::string ClientColumns() {
  return absl::StrCat(
      "c.id::text, c.kind, c.name, coalesce(c.inn, ''), array_to_json(c.phones)::text, "
      "array_to_json(c.emails)::text, c.address, c.comment, c.version, ",
      MicrosOf("c.create_time"), ", ", MicrosOf("c.update_time"),
      ", lower(c.name), coalesce(c.birth_date::text, ''), c.passport_series, c.passport_number, "
      "c.passport_issued_by, coalesce(c.passport_issue_date::text, ''), c.passport_department_code");
}

v1::Client ReadClient(const pqxx::row& r) {
  v1::Client c;
  c.set_id(r[0].as<std::string>());
  c.set_kind(static_cast<v1::Client::Kind>(r[1].as<int>()));
  c.set_name(r[2].as<std::string>());
  c.set_inn(r[3].as<std::string>());
  for (std::string& s : JsonStrings(r[4].as<std::string>())) c.add_phones(std::move(s));
  for (std::string& s : JsonStrings(r[5].as<std::string>())) c.add_emails(std::move(s));
  c.set_address(r[6].as<std::string>());
  c.set_comment(r[7].as<std::string>());
  c.set_version(r[8].as<int64_t>());
  *c.mutable_create_time() = TsFromMicros(r[9].as<int64_t>());
  *c.mutable_update_time() = TsFromMicros(r[10].as<int64_t>());
  // Issue 17: the birth date and the passport (cleared for callers without clients.passport.read).
  c.set_birth_date(r[12].as<std::string>());
  if (!r[13].as<std::string>().empty() || !r[14].as<std::string>().empty()) {
    v1::Passport& pp = *c.mutable_passport();
    pp.set_series(r[13].as<std::string>());
    pp.set_number(r[14].as<std::string>());
    pp.set_issued_by(r[15].as<std::string>());
    pp.set_issue_date(r[16].as<std::string>());
    pp.set_department_code(r[17].as<std::string>());
  }
  c.set_passport_filled(!r[13].as<std::string>().empty() && !r[14].as<std::string>().empty());
  return c;
}

// Issue 17: "passport.number" (a PATCH's mask from the body's keys) changes the passport as a whole.
std::string TopPath(const std::string& path) { return path.rfind("passport.", 0) == 0 ? "passport" : path; }

// Issue 17: the passport is personal data (clients.proto): kept only for callers with
// clients.passport.read, and only in the single-client replies.
void RedactPassport(v1::Client& c) { c.clear_passport(); }

void RedactPassportUnlessAllowed(const Principal& caller, v1::Client& c) {
  if (!rpc::HasPermission(caller, kPassportReadPermission)) RedactPassport(c);
}

std::optional<v1::Client> LoadClient(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT ", ClientColumns(), " FROM clients c WHERE c.id = ", p.Add(id),
                                     "::uuid", for_update ? " FOR UPDATE" : ""),
                        p);
  if (r.empty()) return std::nullopt;
  return ReadClient(r[0]);
}

void WriteClient(pqxx::transaction_base& tx, const v1::Client& c, bool insert) {
  SqlParams p;
  const std::string id = p.Add(c.id()) + "::uuid";
  const std::string kind = p.Add(absl::StrCat(static_cast<int>(c.kind()))) + "::smallint";
  const std::string name = p.Add(c.name());
  const std::string inn = absl::StrCat("NULLIF(", p.Add(c.inn()), ", '')");
  const std::string phones = p.Add(TextArray(c.phones())) + "::text[]";
  const std::string emails = p.Add(TextArray(c.emails())) + "::text[]";
  const std::string address = p.Add(c.address());
  const std::string comment = p.Add(c.comment());
  const std::string version = p.Add(absl::StrCat(c.version())) + "::bigint";
  const std::string updated = TsParam(p, FromProtoTimestamp(c.update_time()));
  // Issue 17: the birth date and passport, written by the same statement.
  const std::string birth = absl::StrCat("NULLIF(", p.Add(c.birth_date()), ", '')::date");
  const std::string series = p.Add(c.passport().series());
  const std::string number = p.Add(c.passport().number());
  const std::string issued_by = p.Add(c.passport().issued_by());
  const std::string issue_date = absl::StrCat("NULLIF(", p.Add(c.passport().issue_date()), ", '')::date");
  const std::string department = p.Add(c.passport().department_code());
  const std::string personal = absl::StrCat("birth_date = ", birth, ", passport_series = ", series,
                                            ", passport_number = ", number, ", passport_issued_by = ", issued_by,
                                            ", passport_issue_date = ", issue_date,
                                            ", passport_department_code = ", department);
  if (insert) {
    const std::string created = TsParam(p, FromProtoTimestamp(c.create_time()));
    Exec(tx,
         absl::StrCat(
             "INSERT INTO clients (id, kind, name, inn, phones, emails, address, comment, version, "
             "update_time, create_time, birth_date, passport_series, passport_number, passport_issued_by, "
             "passport_issue_date, passport_department_code) VALUES (",
             absl::StrJoin({id, kind, name, inn, phones, emails, address, comment, version, updated, created, birth,
                            series, number, issued_by, issue_date, department},
                           ", "),
             ")"),
         p);
  } else {
    Exec(tx,
         absl::StrCat("UPDATE clients SET kind = ", kind, ", name = ", name, ", inn = ", inn, ", phones = ",
                      phones, ", emails = ", emails, ", address = ", address, ", comment = ", comment,
                      ", version = ", version, ", update_time = ", updated, ", ", personal, " WHERE id = ", id),
         p);
  }
}

std::string ContactColumns() {
  return absl::StrCat(
      "k.id::text, k.client_id::text, k.full_name, k.position, array_to_json(k.phones)::text, "
      "array_to_json(k.emails)::text, k.passport, k.version, ",
      MicrosOf("k.create_time"), ", ", MicrosOf("k.update_time"));
}

v1::Contact ReadContact(const pqxx::row& r) {
  v1::Contact c;
  c.set_id(r[0].as<std::string>());
  c.set_client_id(r[1].as<std::string>());
  c.set_full_name(r[2].as<std::string>());
  c.set_position(r[3].as<std::string>());
  for (std::string& s : JsonStrings(r[4].as<std::string>())) c.add_phones(std::move(s));
  for (std::string& s : JsonStrings(r[5].as<std::string>())) c.add_emails(std::move(s));
  c.set_passport(r[6].as<std::string>());
  c.set_version(r[7].as<int64_t>());
  *c.mutable_create_time() = TsFromMicros(r[8].as<int64_t>());
  *c.mutable_update_time() = TsFromMicros(r[9].as<int64_t>());
  return c;
}

std::optional<v1::Contact> LoadContact(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT ", ContactColumns(), " FROM contacts k WHERE k.id = ", p.Add(id),
                                     "::uuid", for_update ? " FOR UPDATE" : ""),
                        p);
  if (r.empty()) return std::nullopt;
  return ReadContact(r[0]);
}

struct DealRef {
  DealOwnership ownership;
  std::string client_id;
};

std::optional<DealRef> LoadDealRef(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT responsible_id::text, array_to_json(team_ids)::text, "
                                     "coalesce(client_id::text, '') FROM deals WHERE id = ",
                                     p.Add(id), "::uuid", for_update ? " FOR UPDATE" : ""),
                        p);
  if (r.empty()) return std::nullopt;
  DealRef d;
  d.ownership.responsible_id = r[0][0].as<std::string>();
  d.ownership.team_ids = JsonStrings(r[0][1].as<std::string>());
  d.client_id = r[0][2].as<std::string>();
  return d;
}

// A page of the deal's contacts, main first, then in the order added (README "Lists"): the keyset is
// (not main, pos), so the token of a page that ends at the main contact is its position negated less one.
v1::ListDealContactsResponse DealContacts(pqxx::transaction_base& tx, const std::string& deal_id, int size,
                                          std::optional<int64_t> after) {
  SqlParams p;
  v1::ListDealContactsResponse out;
  std::string where = absl::StrCat("dc.deal_id = ", p.Add(deal_id), "::uuid");
  if (after.has_value()) {
    // after < 0: the main contact was the last one shown (-1 - its pos): every other one follows.
    if (*after < 0) {
      absl::StrAppend(&where, " AND NOT dc.main");
    } else {
      absl::StrAppend(&where, " AND NOT dc.main AND dc.pos > ", p.Add(absl::StrCat(*after)), "::bigint");
    }
  }
  pqxx::result r =
      Exec(tx,
           absl::StrCat("SELECT ", ContactColumns(),
                        ", dc.main, dc.pos FROM deal_contacts dc JOIN contacts k ON k.id = dc.contact_id WHERE ",
                        where, " ORDER BY dc.main DESC, dc.pos LIMIT ", size + 1),
           p);
  for (int i = 0; i < static_cast<int>(r.size()) && i < size; ++i) {
    v1::DealContact* dc = out.add_contacts();
    *dc->mutable_contact() = ReadContact(r[i]);
    dc->set_main(r[i][10].as<bool>());
  }
  if (static_cast<int>(r.size()) > size) {
    const pqxx::row last = r[size - 1];
    out.set_next_page_token(PosPageToken(last[10].as<bool>() ? -1 - last[11].as<int64_t>() : last[11].as<int64_t>()));
  }
  return out;
}

// Clients sharing a phone, e-mail or ИНН with the given ones (not `except_id`), oldest first.
std::vector<v1::Client> Duplicates(pqxx::transaction_base& tx, const std::vector<std::string>& phones,
                                   const std::vector<std::string>& emails, const std::string& inn) {
  std::vector<v1::Client> out;
  if (phones.empty() && emails.empty() && inn.empty()) return out;
  SqlParams p;
  std::vector<std::string> conds;
  if (!phones.empty()) conds.push_back(absl::StrCat("c.phones && ", p.Add(ArrayLiteral(phones)), "::text[]"));
  // D5: e-mails whatever their case, on clients_emails_lower (migration 0013) called as it is defined.
  if (!emails.empty()) {
    conds.push_back(
        absl::StrCat("lower_text_array(c.emails) && lower_text_array(", p.Add(ArrayLiteral(emails)), "::text[])"));
  }
  if (!inn.empty()) conds.push_back(absl::StrCat("c.inn = ", p.Add(inn)));
  pqxx::result r =
      Exec(tx,
           absl::StrCat("SELECT ", ClientColumns(), " FROM clients c WHERE ", absl::StrJoin(conds, " OR "),
                        " ORDER BY c.create_time, c.id LIMIT ", kMaxDuplicates),
           p);
  for (const pqxx::row& row : r) out.push_back(ReadClient(row));
  return out;
}

absl::Status EmitClient(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                        const std::string& client_id, const char* type,
                        const google::protobuf::Message& payload) {
  return outbox
      .Append(tx, {.aggregate_type = "client",
                   .aggregate_id = client_id,
                   .type = type,
                   .payload = &payload,
                   .actor = actor.principal,
                   .request_id = actor.request_id,
                   .automation_depth = actor.automation_depth,
                   .skip_automation = actor.skip_automation})
      .status();
}

// Versions (issue 16, README "Versions"): 0 means any version (last writer wins, as `If-Match: *`); a
// stale one is ABORTED.
absl::Status CheckVersion(int64_t given, int64_t stored) {
  if (given != 0 && given != stored) {
    return absl::AbortedError(absl::StrCat("version mismatch: given ", given, ", current ", stored));
  }
  return absl::OkStatus();
}

bool SameList(const google::protobuf::RepeatedPtrField<std::string>& a,
              const google::protobuf::RepeatedPtrField<std::string>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Normalisation

absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view raw) {
  using i18n::phonenumbers::PhoneNumberUtil;
  const std::string text(absl::StripAsciiWhitespace(AsAbsl(raw)));
  if (text.empty()) return InvalidFieldError(field, "empty phone number");
  if (text.size() > 64) return InvalidFieldError(field, "not a phone number");
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  if (util->Parse(text, "RU", &number) != PhoneNumberUtil::NO_PARSING_ERROR || !util->IsValidNumber(number)) {
    return InvalidFieldError(field, absl::StrCat("not a valid phone number: ", text));
  }
  std::string out;
  util->Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

absl::StatusOr<std::string> NormalizeEmail(std::string_view field, std::string_view raw) {
  std::string text(absl::StripAsciiWhitespace(AsAbsl(raw)));
  const size_t at = text.find('@');
  const bool ok = [&] {
    if (text.empty() || text.size() > 254 || at == std::string::npos || at == 0) return false;
    if (text.find('@', at + 1) != std::string::npos) return false;
    for (unsigned char c : text) {
      if (c <= ' ' || c == 0x7f || c == ',' || c == ';' || c == '<' || c == '>') return false;
    }
    const std::string domain = text.substr(at + 1);
    const size_t dot = domain.find('.');
    return dot != std::string::npos && dot > 0 && domain.back() != '.' &&
           domain.find("..") == std::string::npos;
  }();
  if (!ok) return InvalidFieldError(field, absl::StrCat("not a valid e-mail address: ", text));
  for (size_t i = at + 1; i < text.size(); ++i)
    text[i] = absl::ascii_tolower(static_cast<unsigned char>(text[i]));
  return text;
}

bool IsValidInn(std::string_view inn) {
  if (inn.size() != 10 && inn.size() != 12) return false;
  for (char c : inn) {
    if (c < '0' || c > '9') return false;
  }
  auto check = [&](std::initializer_list<int> weights) {
    int sum = 0, i = 0;
    for (int w : weights) sum += w * (inn[i++] - '0');
    return (sum % 11) % 10 == inn[i] - '0';
  };
  if (inn.size() == 10) return check({2, 4, 10, 3, 5, 9, 4, 6, 8});
  return check({7, 2, 4, 10, 3, 5, 9, 4, 6, 8}) && check({3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8});
}

absl::StatusOr<int> CopyClientContactsToDeal(pqxx::transaction_base& tx, std::string_view deal_id,
                                             std::string_view client_id) {
  if (!IsUuid(deal_id)) return InvalidFieldError("deal_id", "not a UUID");
  if (!IsUuid(client_id)) return InvalidFieldError("client_id", "not a UUID");
  SqlParams p;
  const std::string deal = p.Add(std::string(deal_id)) + "::uuid";
  const std::string client = p.Add(std::string(client_id)) + "::uuid";
  SqlParams c;
  if (Exec(tx, absl::StrCat("SELECT 1 FROM clients WHERE id = ", c.Add(std::string(client_id)), "::uuid"), c)
          .empty()) {
    return absl::NotFoundError("client not found");
  }
  pqxx::result added =
      Exec(tx,
           absl::StrCat("INSERT INTO deal_contacts (deal_id, contact_id) SELECT ", deal,
                        ", cc.contact_id FROM client_contacts cc WHERE cc.client_id = ", client,
                        " ORDER BY cc.pos ON CONFLICT DO NOTHING RETURNING contact_id"),
           p);
  SqlParams q;
  const std::string d = q.Add(std::string(deal_id)) + "::uuid";
  Exec(tx,
       absl::StrCat("UPDATE deal_contacts SET main = true WHERE deal_id = ", d,
                    " AND NOT EXISTS (SELECT 1 FROM deal_contacts m WHERE m.deal_id = ", d,
                    " AND m.main) AND contact_id = (SELECT contact_id FROM deal_contacts WHERE deal_id = ", d,
                    " ORDER BY pos LIMIT 1)"),
       q);
  return static_cast<int>(added.size());
}

// ---------------------------------------------------------------------------------------------------
// ClientStore

ClientStore::ClientStore(pg::Pool& pool, const Clock& clock)
    : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::StatusOr<v1::Client> ClientStore::CreateClient(const Actor& actor, const v1::Client& in,
                                                     bool allow_duplicate) {
  CRM_RETURN_IF_ERROR(RequireWrite(actor.principal));
  v1::Client c = in;
  CRM_RETURN_IF_ERROR(ValidateClient(c));
  const absl::Time now = clock_.Now();
  c.set_id(NewUuidV7());
  c.set_version(1);
  *c.mutable_create_time() = ToProtoTimestamp(now);
  *c.mutable_update_time() = ToProtoTimestamp(now);
  v1::CreateClientRequest request;  // what an idempotency key is bound to
  *request.mutable_client() = in;
  request.set_allow_duplicate(allow_duplicate);
  const v1::Client draft = c;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, now, actor.principal, actor.idempotency_key,
                                              kCreateClientMethod, request, c,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    c = draft;
    if (!allow_duplicate) {
      // Serialise duplicate-checked creates so that two racing creates cannot both miss each other.
      tx.exec("SELECT pg_advisory_xact_lock(hashtext('crm.deals.clients.create'))");
      std::vector<v1::Client> dups = Duplicates(tx, {c.phones().begin(), c.phones().end()},
                                                {c.emails().begin(), c.emails().end()}, c.inn());
      if (!dups.empty()) {
        const v1::Client& d = dups.front();
        std::vector<std::string> what;
        for (const std::string& ph : c.phones()) {
          if (std::find(d.phones().begin(), d.phones().end(), ph) != d.phones().end())
            what.push_back("phone " + ph);
        }
        for (const std::string& e : c.emails()) {
          if (std::any_of(d.emails().begin(), d.emails().end(),
                          [&](const std::string& x) { return absl::EqualsIgnoreCase(x, e); })) {
            what.push_back("e-mail " + e);
          }
        }
        if (!c.inn().empty() && c.inn() == d.inn()) what.push_back("ИНН " + c.inn());
        return absl::AlreadyExistsError(absl::StrCat("client ", d.id(), " «", d.name(), "» has the same ",
                                                     absl::StrJoin(what, ", "),
                                                     " (set allow_duplicate to create anyway)"));
      }
    }
    WriteClient(tx, c, /*insert=*/true);
    v1::ClientCreated created;
    *created.mutable_client() = c;
    RedactPassport(*created.mutable_client());  // personal data stays out of events
    return EmitClient(tx, outbox_, actor, c.id(), kClientCreatedType, created);
  }));
  RedactPassportUnlessAllowed(actor.principal, c);
  return c;
}

absl::StatusOr<v1::Client> ClientStore::GetClient(const Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(RequireRead(caller));
  CRM_RETURN_IF_ERROR(CheckId("id", id));
  std::optional<v1::Client> c;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_,
                                        [&](pqxx::work& tx) -> absl::Status {
                                          c = LoadClient(tx, std::string(id), false);
                                          return absl::OkStatus();
                                        },
                                        {.read_only = true}));
  if (!c.has_value()) return absl::NotFoundError("client not found");
  RedactPassportUnlessAllowed(caller, *c);
  return *c;
}

absl::StatusOr<v1::Client> ClientStore::UpdateClient(const Actor& actor, const v1::Client& in,
                                                     const google::protobuf::FieldMask& mask) {
  static const std::set<std::string> kPaths = {"kind",    "name",    "inn",        "phones",  "emails",
                                               "address", "comment", "birth_date", "passport"};
  CRM_RETURN_IF_ERROR(RequireWrite(actor.principal));
  {
    Violations v;  // every violation at once (issue 16)
    CRM_RETURN_IF_ERROR(v.Merge(CheckId("client.id", in.id())));
    if (mask.paths().empty()) v.Add("update_mask", "required");
    for (const std::string& path : mask.paths()) {
      if (!kPaths.contains(TopPath(path))) v.Add("update_mask", absl::StrCat("unknown path ", QuoteForError(path)));
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::Client result;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Client> old = LoadClient(tx, in.id(), /*for_update=*/true);
    if (!old.has_value()) return absl::NotFoundError("client not found");
    CRM_RETURN_IF_ERROR(CheckVersion(in.version(), old->version()));
    v1::Client next = *old;
    for (const std::string& raw : mask.paths()) {
      const std::string path = TopPath(raw);
      if (path == "kind") next.set_kind(in.kind());
      if (path == "name") next.set_name(in.name());
      if (path == "inn") next.set_inn(in.inn());
      if (path == "phones") *next.mutable_phones() = in.phones();
      if (path == "emails") *next.mutable_emails() = in.emails();
      if (path == "address") next.set_address(in.address());
      if (path == "comment") next.set_comment(in.comment());
      if (path == "birth_date") next.set_birth_date(in.birth_date());
      if (path == "passport") *next.mutable_passport() = in.passport();
    }
    CRM_RETURN_IF_ERROR(ValidateClient(next));
    std::vector<std::string> changed;
    if (next.kind() != old->kind()) changed.push_back("kind");
    if (next.name() != old->name()) changed.push_back("name");
    if (next.inn() != old->inn()) changed.push_back("inn");
    if (!SameList(next.phones(), old->phones())) changed.push_back("phones");
    if (!SameList(next.emails(), old->emails())) changed.push_back("emails");
    if (next.address() != old->address()) changed.push_back("address");
    if (next.comment() != old->comment()) changed.push_back("comment");
    if (next.birth_date() != old->birth_date()) changed.push_back("birth_date");
    if (next.passport().SerializeAsString() != old->passport().SerializeAsString()) changed.push_back("passport");
    if (changed.empty()) {
      result = *old;
      return absl::OkStatus();
    }
    next.set_version(old->version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(clock_.Now());
    WriteClient(tx, next, /*insert=*/false);
    v1::ClientUpdated updated;
    *updated.mutable_client() = next;
    RedactPassport(*updated.mutable_client());  // personal data stays out of events
    for (std::string& f : changed) updated.add_changed_fields(std::move(f));
    result = next;
    return EmitClient(tx, outbox_, actor, next.id(), kClientUpdatedType, updated);
  }));
  RedactPassportUnlessAllowed(actor.principal, result);
  return result;
}

absl::StatusOr<v1::ListClientsResponse> ClientStore::ListClients(const Principal& caller,
                                                                 const v1::ListClientsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRead(caller));
  CRM_ASSIGN_OR_RETURN(const int limit, PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  SqlParams p;
  std::vector<std::string> conds{"TRUE"};
  const std::string query(absl::StripAsciiWhitespace(req.query()));
  if (!query.empty()) {
    // Each part on its trigram index (clients_*_trgm, migration 0010); text_array_join(a) is
    // array_to_string(a, ' ') in a form that can be indexed.
    const std::string like = p.Add(absl::StrCat("%", EscapeLike(query), "%"));
    std::string cond = absl::StrCat("(c.name ILIKE ", like, " OR text_array_join(c.phones) ILIKE ", like,
                                    " OR text_array_join(c.emails) ILIKE ", like);
    // "8 (916) 123-45-67" finds "+79161234567": also match the query as a normalised phone. The LIKE
    // changes nothing that matches (a phone of the array is in its joined text) but gives PostgreSQL an
    // estimate: for `@>` of a value it has no statistics of it guesses 0.5 % of the clients, and would
    // walk the whole name index in order hoping to meet a page of them early (seconds at 1 000 000).
    absl::StatusOr<std::string> phone = NormalizePhone("query", query);
    if (phone.ok()) {
      absl::StrAppend(&cond, " OR (c.phones @> ARRAY[", p.Add(*phone),
                      "]::text[] AND text_array_join(c.phones) LIKE ",
                      p.Add(absl::StrCat("%", EscapeLike(*phone), "%")), ")");
    }
    conds.push_back(cond + ")");
  }
  if (!req.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(std::string after, AfterNamePageToken(req.page_token(), "c", p));
    conds.push_back(std::move(after));
  }
  v1::ListClientsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = Exec(
            tx,
            absl::StrCat("SELECT ", ClientColumns(), " FROM clients c WHERE ", absl::StrJoin(conds, " AND "),
                         " ORDER BY lower(c.name), c.id LIMIT ", limit + 1),
            p);
        for (int i = 0; i < static_cast<int>(r.size()) && i < limit; ++i)
          *out.add_clients() = ReadClient(r[i]);
        if (static_cast<int>(r.size()) > limit) {
          out.set_next_page_token(
              NamePageToken(r[limit - 1][11].as<std::string>(), r[limit - 1][0].as<std::string>()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  for (v1::Client& c : *out.mutable_clients()) RedactPassport(c);  // issue 17: never in lists
  return out;
}

absl::StatusOr<v1::BatchGetClientsResponse> ClientStore::BatchGetClients(const Principal& caller,
                                                                         const v1::BatchGetClientsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRead(caller));
  if (req.ids_size() == 0) return InvalidFieldError("ids", "required: 1 to 200 client ids");
  if (req.ids_size() > kMaxBatchGet) return InvalidFieldError("ids", absl::StrCat("at most ", kMaxBatchGet, " ids"));
  Violations v;
  std::vector<std::string> ids;
  for (int i = 0; i < req.ids_size(); ++i) {
    if (!IsUuid(req.ids(i))) {
      v.Add(absl::StrCat("ids[", i, "]"), "not a UUID");
    } else if (std::find(ids.begin(), ids.end(), req.ids(i)) == ids.end()) {
      ids.push_back(req.ids(i));
    }
  }
  CRM_RETURN_IF_ERROR(v.Status());
  v1::BatchGetClientsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        SqlParams p;
        std::map<std::string, v1::Client> found;
        for (const pqxx::row& row : Exec(tx,
                                         absl::StrCat("SELECT ", ClientColumns(), " FROM clients c WHERE c.id = ANY(",
                                                      p.Add(ArrayLiteral(ids)), "::uuid[])"),
                                         p)) {
          v1::Client c = ReadClient(row);
          found.emplace(c.id(), std::move(c));
        }
        for (const std::string& id : ids) {
          auto it = found.find(id);
          if (it == found.end()) {
            out.add_missing_ids(id);
          } else {
            *out.add_clients() = std::move(it->second);
          }
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  for (v1::Client& c : *out.mutable_clients()) RedactPassport(c);  // issue 17: never in lists
  return out;
}

absl::StatusOr<v1::FindDuplicatesResponse> ClientStore::FindDuplicates(const Principal& caller,
                                                                       const v1::FindDuplicatesRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRead(caller));
  std::vector<std::string> phones, emails;
  if (!req.phone().empty()) {
    CRM_ASSIGN_OR_RETURN(std::string ph, NormalizePhone("phone", req.phone()));
    phones.push_back(std::move(ph));
  }
  if (!req.email().empty()) {
    CRM_ASSIGN_OR_RETURN(std::string e, NormalizeEmail("email", req.email()));
    emails.push_back(std::move(e));
  }
  const std::string inn(absl::StripAsciiWhitespace(req.inn()));
  if (!inn.empty() && !IsValidInn(inn)) return InvalidFieldError("inn", "not a valid ИНН");
  v1::FindDuplicatesResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_,
                                        [&](pqxx::work& tx) -> absl::Status {
                                          for (v1::Client& c : Duplicates(tx, phones, emails, inn))
                                            *out.add_clients() = std::move(c);
                                          return absl::OkStatus();
                                        },
                                        {.read_only = true}));
  for (v1::Client& c : *out.mutable_clients()) RedactPassport(c);  // issue 17: never in lists
  return out;
}

absl::StatusOr<v1::Contact> ClientStore::CreateContact(const Actor& actor, std::string_view client_id,
                                                       const v1::Contact& in) {
  CRM_RETURN_IF_ERROR(RequireWrite(actor.principal));
  CRM_RETURN_IF_ERROR(CheckId("client_id", client_id));
  v1::Contact c = in;
  CRM_RETURN_IF_ERROR(ValidateContact(c));
  const absl::Time now = clock_.Now();
  c.set_id(NewUuidV7());
  c.set_client_id(std::string(client_id));
  c.set_version(1);
  *c.mutable_create_time() = ToProtoTimestamp(now);
  *c.mutable_update_time() = ToProtoTimestamp(now);
  v1::CreateContactRequest request;  // what an idempotency key is bound to
  request.set_client_id(std::string(client_id));
  *request.mutable_contact() = in;
  const v1::Contact draft = c;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, now, actor.principal, actor.idempotency_key,
                                              kCreateContactMethod, request, c,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    c = draft;
    if (!LoadClient(tx, c.client_id(), /*for_update=*/false).has_value())
      return absl::NotFoundError("client not found");
    SqlParams p;
    const std::string id = p.Add(c.id()) + "::uuid";
    const std::string client = p.Add(c.client_id()) + "::uuid";
    Exec(tx,
         absl::StrCat(
             "INSERT INTO contacts (id, client_id, full_name, position, phones, emails, passport, version, "
             "create_time, update_time) VALUES (",
             id, ", ", client, ", ", p.Add(c.full_name()), ", ", p.Add(c.position()), ", ",
             p.Add(TextArray(c.phones())), "::text[], ", p.Add(TextArray(c.emails())), "::text[], ",
             p.Add(c.passport()), ", 1, ", TsParam(p, now), ", ", TsParam(p, now), ")"),
         p);
    SqlParams q;
    Exec(tx,
         absl::StrCat("INSERT INTO client_contacts (client_id, contact_id) VALUES (", q.Add(c.client_id()),
                      "::uuid, ", q.Add(c.id()), "::uuid)"),
         q);
    return absl::OkStatus();
  }));
  return c;
}

absl::StatusOr<v1::ListContactsResponse> ClientStore::ListContacts(const Principal& caller,
                                                                   std::string_view client_id) {
  v1::ListContactsRequest req;
  req.set_client_id(std::string(client_id));
  return ListContacts(caller, req);
}

absl::StatusOr<v1::ListContactsResponse> ClientStore::ListContacts(const Principal& caller,
                                                                   const v1::ListContactsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRead(caller));
  Violations v;  // every violation at once; the page rule of every list (README "Lists")
  CRM_RETURN_IF_ERROR(v.Merge(CheckId("client_id", req.client_id())));
  const int size = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize)).value_or(0);
  const std::optional<int64_t> after = v.Value(DecodePosPageToken("page_token", req.page_token())).value_or(std::nullopt);
  CRM_RETURN_IF_ERROR(v.Status());
  v1::ListContactsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        if (!LoadClient(tx, req.client_id(), false).has_value()) return absl::NotFoundError("client not found");
        SqlParams p;
        std::string where = absl::StrCat("cc.client_id = ", p.Add(req.client_id()), "::uuid");
        if (after.has_value()) absl::StrAppend(&where, " AND cc.pos > ", p.Add(absl::StrCat(*after)), "::bigint");
        pqxx::result r = Exec(tx,
                              absl::StrCat("SELECT ", ContactColumns(),
                                           ", cc.pos FROM client_contacts cc JOIN contacts k ON k.id = cc.contact_id "
                                           "WHERE ",
                                           where, " ORDER BY cc.pos LIMIT ", size + 1),
                              p);
        for (int i = 0; i < static_cast<int>(r.size()) && i < size; ++i) *out.add_contacts() = ReadContact(r[i]);
        if (static_cast<int>(r.size()) > size) out.set_next_page_token(PosPageToken(r[size - 1][10].as<int64_t>()));
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Contact> ClientStore::UpdateContact(const Actor& actor, const v1::Contact& in,
                                                       const google::protobuf::FieldMask& mask) {
  static const std::set<std::string> kPaths = {"full_name", "position", "phones", "emails", "passport"};
  CRM_RETURN_IF_ERROR(RequireWrite(actor.principal));
  {
    Violations v;  // every violation at once (issue 16)
    CRM_RETURN_IF_ERROR(v.Merge(CheckId("contact.id", in.id())));
    if (mask.paths().empty()) v.Add("update_mask", "required");
    for (const std::string& path : mask.paths()) {
      if (!kPaths.contains(path)) v.Add("update_mask", absl::StrCat("unknown path ", QuoteForError(path)));
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::Contact result;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Contact> old = LoadContact(tx, in.id(), /*for_update=*/true);
    if (!old.has_value()) return absl::NotFoundError("contact not found");
    CRM_RETURN_IF_ERROR(CheckVersion(in.version(), old->version()));
    v1::Contact next = *old;
    for (const std::string& path : mask.paths()) {
      if (path == "full_name") next.set_full_name(in.full_name());
      if (path == "position") next.set_position(in.position());
      if (path == "phones") *next.mutable_phones() = in.phones();
      if (path == "emails") *next.mutable_emails() = in.emails();
      if (path == "passport") next.set_passport(in.passport());
    }
    CRM_RETURN_IF_ERROR(ValidateContact(next));
    if (next.full_name() == old->full_name() && next.position() == old->position() &&
        SameList(next.phones(), old->phones()) && SameList(next.emails(), old->emails()) &&
        next.passport() == old->passport()) {
      result = *old;
      return absl::OkStatus();
    }
    next.set_version(old->version() + 1);
    const absl::Time now = clock_.Now();
    *next.mutable_update_time() = ToProtoTimestamp(now);
    SqlParams p;
    Exec(
        tx,
        absl::StrCat("UPDATE contacts SET full_name = ", p.Add(next.full_name()),
                     ", position = ", p.Add(next.position()), ", phones = ", p.Add(TextArray(next.phones())),
                     "::text[], emails = ", p.Add(TextArray(next.emails())), "::text[], passport = ",
                     p.Add(next.passport()), ", version = ", p.Add(absl::StrCat(next.version())),
                     "::bigint, update_time = ", TsParam(p, now), " WHERE id = ", p.Add(next.id()), "::uuid"),
        p);
    result = next;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<v1::ListDealContactsResponse> ClientStore::AddDealContact(
    const Actor& actor, const v1::AddDealContactRequest& req) {
  CRM_RETURN_IF_ERROR(RequireWrite(actor.principal));
  CRM_RETURN_IF_ERROR(CheckId("deal_id", req.deal_id()));
  CRM_RETURN_IF_ERROR(CheckId("contact_id", req.contact_id()));
  v1::ListDealContactsResponse out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kAddDealContactMethod, req, out,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<DealRef> deal = LoadDealRef(tx, req.deal_id(), /*for_update=*/true);
    if (!deal.has_value()) return absl::NotFoundError("deal not found");
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, deal->ownership));
    if (!LoadContact(tx, req.contact_id(), /*for_update=*/false).has_value()) {
      return absl::NotFoundError("contact not found");
    }
    SqlParams p;
    const std::string d = p.Add(req.deal_id()) + "::uuid";
    const std::string k = p.Add(req.contact_id()) + "::uuid";
    // Seed 003: a contact added to a deal also appears in the deal's client.
    if (!deal->client_id.empty()) {
      SqlParams q;
      Exec(
          tx,
          absl::StrCat("INSERT INTO client_contacts (client_id, contact_id) VALUES (", q.Add(deal->client_id),
                       "::uuid, ", q.Add(req.contact_id()), "::uuid) ON CONFLICT DO NOTHING"),
          q);
    }
    const bool has_main = !Exec(tx,
                                absl::StrCat("SELECT 1 FROM deal_contacts WHERE main AND deal_id = ", d,
                                             " AND contact_id <> ", k),
                                p)
                               .empty();
    const bool make_main = req.main() || !has_main;
    if (make_main) {
      Exec(tx,
           absl::StrCat("UPDATE deal_contacts SET main = false WHERE main AND deal_id = ", d,
                        " AND contact_id <> ", k),
           p);
    }
    Exec(tx,
         absl::StrCat(
             "INSERT INTO deal_contacts (deal_id, contact_id, main) VALUES (", d, ", ", k, ", ",
             make_main ? "true" : "false",
             ") ON CONFLICT (deal_id, contact_id) DO UPDATE SET main = deal_contacts.main OR EXCLUDED.main"),
         p);
    out = DealContacts(tx, req.deal_id(), kDefaultPageSize, std::nullopt);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListDealContactsResponse> ClientStore::RemoveDealContact(
    const Actor& actor, const v1::RemoveDealContactRequest& req) {
  CRM_RETURN_IF_ERROR(RequireWrite(actor.principal));
  CRM_RETURN_IF_ERROR(CheckId("deal_id", req.deal_id()));
  CRM_RETURN_IF_ERROR(CheckId("contact_id", req.contact_id()));
  v1::ListDealContactsResponse out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kRemoveDealContactMethod, req, out,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<DealRef> deal = LoadDealRef(tx, req.deal_id(), /*for_update=*/true);
    if (!deal.has_value()) return absl::NotFoundError("deal not found");
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, deal->ownership));
    SqlParams p;
    pqxx::result r =
        Exec(tx,
             absl::StrCat("DELETE FROM deal_contacts WHERE deal_id = ", p.Add(req.deal_id()),
                          "::uuid AND contact_id = ", p.Add(req.contact_id()), "::uuid RETURNING main"),
             p);
    if (r.empty()) return absl::NotFoundError("the deal has no such contact");
    out = DealContacts(tx, req.deal_id(), kDefaultPageSize, std::nullopt);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListDealContactsResponse> ClientStore::ListDealContacts(const Principal& caller,
                                                                           std::string_view deal_id) {
  v1::ListDealContactsRequest req;
  req.set_deal_id(std::string(deal_id));
  return ListDealContacts(caller, req);
}

absl::StatusOr<v1::ListDealContactsResponse> ClientStore::ListDealContacts(const Principal& caller,
                                                                           const v1::ListDealContactsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRead(caller));
  Violations v;  // every violation at once; the page rule of every list (README "Lists")
  CRM_RETURN_IF_ERROR(v.Merge(CheckId("deal_id", req.deal_id())));
  const int size = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize)).value_or(0);
  const std::optional<int64_t> after = v.Value(DecodePosPageToken("page_token", req.page_token())).value_or(std::nullopt);
  CRM_RETURN_IF_ERROR(v.Status());
  v1::ListDealContactsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_,
                                        [&](pqxx::work& tx) -> absl::Status {
                                          std::optional<DealRef> deal = LoadDealRef(tx, req.deal_id(), false);
                                          if (!deal.has_value()) return absl::NotFoundError("deal not found");
                                          CRM_RETURN_IF_ERROR(CheckCanRead(caller, deal->ownership));
                                          out = DealContacts(tx, req.deal_id(), size, after);
                                          return absl::OkStatus();
                                        },
                                        {.read_only = true}));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// ClientServiceImpl

grpc::Status ClientServiceImpl::CreateClient(grpc::ServerContext* ctx, const v1::CreateClientRequest* req,
                                             v1::Client* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.CreateClient(ActorOf(caller, *ctx), req->client(), req->allow_duplicate());
  });
}

grpc::Status ClientServiceImpl::GetClient(grpc::ServerContext* ctx, const v1::GetClientRequest* req,
                                          v1::Client* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.GetClient(caller, req->id()); });
}

grpc::Status ClientServiceImpl::UpdateClient(grpc::ServerContext* ctx, const v1::UpdateClientRequest* req,
                                             v1::Client* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.UpdateClient(ActorOf(caller, *ctx), req->client(), req->update_mask());
  });
}

grpc::Status ClientServiceImpl::ListClients(grpc::ServerContext* ctx, const v1::ListClientsRequest* req,
                                            v1::ListClientsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.ListClients(caller, *req); });
}

grpc::Status ClientServiceImpl::BatchGetClients(grpc::ServerContext* ctx, const v1::BatchGetClientsRequest* req,
                                                v1::BatchGetClientsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.BatchGetClients(caller, *req); });
}

grpc::Status ClientServiceImpl::FindDuplicates(grpc::ServerContext* ctx, const v1::FindDuplicatesRequest* req,
                                               v1::FindDuplicatesResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.FindDuplicates(caller, *req); });
}

grpc::Status ClientServiceImpl::CreateContact(grpc::ServerContext* ctx, const v1::CreateContactRequest* req,
                                              v1::Contact* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.CreateContact(ActorOf(caller, *ctx), req->client_id(), req->contact());
  });
}

grpc::Status ClientServiceImpl::ListContacts(grpc::ServerContext* ctx, const v1::ListContactsRequest* req,
                                             v1::ListContactsResponse* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.ListContacts(caller, *req); });
}

grpc::Status ClientServiceImpl::UpdateContact(grpc::ServerContext* ctx, const v1::UpdateContactRequest* req,
                                              v1::Contact* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.UpdateContact(ActorOf(caller, *ctx), req->contact(), req->update_mask());
  });
}

grpc::Status ClientServiceImpl::AddDealContact(grpc::ServerContext* ctx, const v1::AddDealContactRequest* req,
                                               v1::ListDealContactsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.AddDealContact(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status ClientServiceImpl::RemoveDealContact(grpc::ServerContext* ctx,
                                                  const v1::RemoveDealContactRequest* req,
                                                  v1::ListDealContactsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.RemoveDealContact(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status ClientServiceImpl::ListDealContacts(grpc::ServerContext* ctx,
                                                 const v1::ListDealContactsRequest* req,
                                                 v1::ListDealContactsResponse* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.ListDealContacts(caller, *req); });
}

}  // namespace crm::deals
