// File: services/deals/clients_test.cc
// ClientService end to end on the ServiceTest harness (deals_testing.h): an in-process crm::rpc::Server
// trusting a test "gateway" key that signs principals, a fresh PostgreSQL database per test
// (CRM_TEST_PG_DSN) with the events and deals migrations, a pipeline and deals inserted by SQL, and a
// ManualClock.
#include "services/deals/clients.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <pqxx/binarystring>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "services/deals/deals_testing.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using fixture::FirstField;
using fixture::kAnna;
using fixture::kBoris;
using fixture::kNew;
using fixture::kPipeline;
using fixture::kTeam1;
using fixture::User;
using grpc::StatusCode;

// Anna: her own deals, clients read and write.
Principal Anna() {
  return User(kAnna, {"deals.read.own", "deals.write.own", "clients.read", "clients.write"}, {kTeam1});
}
// Boris: his own deals only, clients read and write.
Principal Boris() {
  return User(kBoris, {"deals.read.own", "deals.write.own", "clients.read", "clients.write"}, {kTeam1});
}
// A reader: every deal, clients read only.
Principal Reader() { return User(kBoris, {"deals.read.all", "clients.read"}, {kTeam1}); }
Principal NoClients() { return User(kAnna, {"deals.read.own", "deals.write.own"}, {kTeam1}); }

class ClientsTest : public fixture::ServiceTest {
 protected:
  ClientsTest() : ServiceTest("deals_clients") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    Sql(absl::StrCat("INSERT INTO pipelines (id, name) VALUES ('", kPipeline,
                     "', 'Продажа'); INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('",
                     kNew, "', '", kPipeline, "', 1, 'Новая', 1);"));
    store_ = std::make_unique<ClientStore>(*pool_, clock_);
    service_ = std::make_unique<ClientServiceImpl>(*store_);
    stub_ = v1::ClientService::NewStub(Serve({service_.get()}));
  }

  // A deal of `responsible` (optionally with a client), inserted by SQL.
  std::string Deal(const std::string& responsible, const std::string& client_id = "") {
    const std::string id = NewUuidV7();
    Sql(
        absl::StrCat("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, client_id) "
                     "VALUES ('",
                     id, "', 'Сделка', '", kPipeline, "', '", kNew, "', 1, '", responsible, "', ",
                     client_id.empty() ? "NULL" : absl::StrCat("'", client_id, "'"), ")"));
    return id;
  }

  grpc::Status Create(const Principal& p, const v1::Client& c, v1::Client* out,
                      bool allow_duplicate = false) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CreateClientRequest req;
    *req.mutable_client() = c;
    req.set_allow_duplicate(allow_duplicate);
    return stub_->CreateClient(&ctx, req, out);
  }
  v1::Client MustCreate(v1::Client c, bool allow_duplicate = false) {
    v1::Client out;
    grpc::Status s = Create(Anna(), c, &out, allow_duplicate);
    EXPECT_TRUE(s.ok()) << s.error_message();
    clock_.Advance(absl::Seconds(1));
    return out;
  }
  static v1::Client Company(const std::string& name, std::vector<std::string> phones = {},
                            std::vector<std::string> emails = {}, const std::string& inn = "") {
    v1::Client c;
    c.set_kind(v1::Client::KIND_COMPANY);
    c.set_name(name);
    for (auto& s : phones) c.add_phones(s);
    for (auto& s : emails) c.add_emails(s);
    c.set_inn(inn);
    return c;
  }
  grpc::Status Update(const Principal& p, const v1::Client& c, std::vector<std::string> paths,
                      v1::Client* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::UpdateClientRequest req;
    *req.mutable_client() = c;
    for (auto& s : paths) req.mutable_update_mask()->add_paths(s);
    return stub_->UpdateClient(&ctx, req, out);
  }
  grpc::Status CreateContact(const Principal& p, const std::string& client_id, const v1::Contact& c,
                             v1::Contact* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CreateContactRequest req;
    req.set_client_id(client_id);
    *req.mutable_contact() = c;
    return stub_->CreateContact(&ctx, req, out);
  }
  v1::Contact MustContact(const std::string& client_id, const std::string& name) {
    v1::Contact c, out;
    c.set_full_name(name);
    grpc::Status s = CreateContact(Anna(), client_id, c, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    clock_.Advance(absl::Seconds(1));
    return out;
  }
  std::vector<std::string> ClientContactNames(const std::string& client_id) {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    v1::ListContactsRequest req;
    req.set_client_id(client_id);
    v1::ListContactsResponse resp;
    grpc::Status s = stub_->ListContacts(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const auto& c : resp.contacts()) out.push_back(c.full_name());
    return out;
  }
  grpc::Status AddToDeal(const Principal& p, const std::string& deal, const std::string& contact, bool main,
                         v1::ListDealContactsResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::AddDealContactRequest req;
    req.set_deal_id(deal);
    req.set_contact_id(contact);
    req.set_main(main);
    return stub_->AddDealContact(&ctx, req, out);
  }
  grpc::Status RemoveFromDeal(const Principal& p, const std::string& deal, const std::string& contact,
                              v1::ListDealContactsResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::RemoveDealContactRequest req;
    req.set_deal_id(deal);
    req.set_contact_id(contact);
    return stub_->RemoveDealContact(&ctx, req, out);
  }
  grpc::Status DealContacts(const Principal& p, const std::string& deal, v1::ListDealContactsResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::ListDealContactsRequest req;
    req.set_deal_id(deal);
    return stub_->ListDealContacts(&ctx, req, out);
  }
  // "name*" for the main contact, in the listed order.
  std::vector<std::string> Names(const v1::ListDealContactsResponse& r) {
    std::vector<std::string> out;
    for (const auto& c : r.contacts()) out.push_back(c.contact().full_name() + (c.main() ? "*" : ""));
    return out;
  }

  std::unique_ptr<ClientStore> store_;
  std::unique_ptr<ClientServiceImpl> service_;
  std::unique_ptr<v1::ClientService::Stub> stub_;
};

TEST(NormalizeTest, RussianAndForeignPhonesBecomeE164) {
  for (const char* raw : {"8 (916) 123-45-67", "+7 916 123 45 67", "89161234567", "9161234567",
                          "+7(916)1234567", " 8-916-123-45-67 "}) {
    absl::StatusOr<std::string> n = NormalizePhone("p", raw);
    ASSERT_TRUE(n.ok()) << raw << ": " << n.status();
    EXPECT_EQ(*n, "+79161234567") << raw;
  }
  EXPECT_EQ(*NormalizePhone("p", "8 (495) 123-45-67"), "+74951234567");
  EXPECT_EQ(*NormalizePhone("p", "+1 650-253-0000"), "+16502530000");
  EXPECT_EQ(*NormalizePhone("p", "+44 20 7946 0958"), "+442079460958");
  for (const char* bad : {"12345", "abc", "+7 916 123", ""}) {
    absl::Status s = NormalizePhone("client.phones[0]", bad).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    ASSERT_FALSE(FieldViolations(s).empty());
    EXPECT_EQ(FieldViolations(s)[0].field, "client.phones[0]");
  }
}

TEST(NormalizeTest, EmailsAndInn) {
  EXPECT_EQ(*NormalizeEmail("e", "  Ivan.Petrov@Mail.RU "), "Ivan.Petrov@mail.ru");
  for (const char* bad :
       {"ivan", "@mail.ru", "ivan@", "ivan@mail", "iv an@mail.ru", "a@b@c.ru", "ivan@mail..ru"}) {
    EXPECT_FALSE(NormalizeEmail("e", bad).ok()) << bad;
  }
  EXPECT_TRUE(IsValidInn("7707083893"));
  EXPECT_TRUE(IsValidInn("500100732259"));
  EXPECT_FALSE(IsValidInn("7707083894"));
  EXPECT_FALSE(IsValidInn("500100732258"));
  EXPECT_FALSE(IsValidInn("770708389"));
  EXPECT_FALSE(IsValidInn("77070838a3"));
}

TEST_F(ClientsTest, CreateNormalisesAndWritesEvent) {
  v1::Client c = MustCreate(
      Company("ООО Ромашка", {"8 (916) 123-45-67", "+1 650-253-0000"}, {"Info@Romashka.RU"}, "7707083893"));
  EXPECT_TRUE(IsUuid(c.id()));
  EXPECT_EQ(c.version(), 1);
  ASSERT_EQ(c.phones_size(), 2);
  EXPECT_EQ(c.phones(0), "+79161234567");
  EXPECT_EQ(c.phones(1), "+16502530000");
  EXPECT_EQ(c.emails(0), "Info@romashka.ru");
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM clients WHERE id = '", c.id(),
                               "' AND phones = '{+79161234567,+16502530000}' AND inn = '7707083893'")),
            1);

  grpc::ClientContext ctx;
  As(ctx, Reader());
  v1::GetClientRequest get;
  get.set_id(c.id());
  v1::Client got;
  ASSERT_TRUE(stub_->GetClient(&ctx, get, &got).ok());
  EXPECT_EQ(got.name(), "ООО Ромашка");
  EXPECT_EQ(got.inn(), "7707083893");

  pqxx::connection conn(db_->dsn());
  pqxx::work tx(conn);
  pqxx::result r = tx.exec("SELECT type, aggregateid, aggregatetype, payload FROM outbox ORDER BY seq");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0][0].as<std::string>(), kClientCreatedType);
  EXPECT_EQ(r[0][1].as<std::string>(), c.id());
  EXPECT_EQ(r[0][2].as<std::string>(), "client");
  pqxx::binarystring raw(r[0][3]);
  crm::events::v1::Envelope env;
  ASSERT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
  v1::ClientCreated created;
  ASSERT_TRUE(env.payload().UnpackTo(&created));
  EXPECT_EQ(created.client().id(), c.id());
  EXPECT_EQ(created.client().phones(0), "+79161234567");
}

TEST_F(ClientsTest, InvalidValuesNameTheField) {
  v1::Client out;
  grpc::Status s = Create(Anna(), Company("ООО Ромашка", {"+79161234567", "12345"}), &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "client.phones[1]");
  s = Create(Anna(), Company("ООО Ромашка", {}, {"ok@mail.ru", "not-an-email"}), &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "client.emails[1]");
  s = Create(Anna(), Company("ООО Ромашка", {}, {}, "7707083894"), &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "client.inn");
  v1::Client no_kind = Company("ООО Ромашка");
  no_kind.clear_kind();
  s = Create(Anna(), no_kind, &out);
  EXPECT_EQ(FirstField(s), "client.kind");
  s = Create(Anna(), Company(""), &out);
  EXPECT_EQ(FirstField(s), "client.name");
  EXPECT_EQ(Count("SELECT count(*) FROM clients"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 0);
}

TEST_F(ClientsTest, DuplicatesByPhoneEmailInnAreRefusedUnlessAllowed) {
  v1::Client first = MustCreate(Company("ООО Ромашка", {"+79161234567"}, {"info@romashka.ru"}, "7707083893"));
  v1::Client out;
  // Same phone in another format.
  grpc::Status s = Create(Anna(), Company("Ромашка-2", {"8 916 123-45-67"}), &out);
  EXPECT_EQ(s.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(absl::StrContains(s.error_message(), first.id())) << s.error_message();
  // Same e-mail, domain in another case.
  s = Create(Anna(), Company("Ромашка-3", {}, {"info@ROMASHKA.ru"}), &out);
  EXPECT_EQ(s.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(absl::StrContains(s.error_message(), first.id()));
  // Same ИНН.
  s = Create(Anna(), Company("Ромашка-4", {}, {}, "7707083893"), &out);
  EXPECT_EQ(s.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(absl::StrContains(s.error_message(), first.id()));
  EXPECT_EQ(Count("SELECT count(*) FROM clients"), 1);
  // Nothing shared: created.
  MustCreate(Company("ООО Лютик", {"+74951234567"}, {"info@lutik.ru"}, "7736207543"));
  // Allowed duplicate: created.
  v1::Client dup = MustCreate(Company("Ромашка-2", {"8 916 123-45-67"}), /*allow_duplicate=*/true);
  EXPECT_NE(dup.id(), first.id());
  EXPECT_EQ(Count("SELECT count(*) FROM clients"), 3);

  grpc::ClientContext ctx;
  As(ctx, Reader());
  v1::FindDuplicatesRequest req;
  req.set_phone("8 (916) 123-45-67");
  v1::FindDuplicatesResponse resp;
  ASSERT_TRUE(stub_->FindDuplicates(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.clients_size(), 2);
  EXPECT_EQ(resp.clients(0).id(), first.id());
  EXPECT_EQ(resp.clients(1).id(), dup.id());

  grpc::ClientContext ctx2;
  As(ctx2, Reader());
  v1::FindDuplicatesRequest by_inn;
  by_inn.set_inn("7736207543");
  by_inn.set_email("nobody@nowhere.ru");
  ASSERT_TRUE(stub_->FindDuplicates(&ctx2, by_inn, &resp).ok());
  ASSERT_EQ(resp.clients_size(), 1);
  EXPECT_EQ(resp.clients(0).name(), "ООО Лютик");

  grpc::ClientContext ctx3;
  As(ctx3, Reader());
  v1::FindDuplicatesRequest bad;
  bad.set_phone("123");
  grpc::Status bs = stub_->FindDuplicates(&ctx3, bad, &resp);
  EXPECT_EQ(bs.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(bs), "phone");
}

TEST_F(ClientsTest, UpdateChecksVersionAndWritesEvent) {
  v1::Client c = MustCreate(Company("ООО Ромашка", {"+79161234567"}));
  v1::Client change = c;
  change.set_name("ООО «Ромашка»");
  change.clear_phones();
  change.add_phones("8 495 123 45 67");
  v1::Client out;
  grpc::Status s = Update(Anna(), change, {"name", "phones"}, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.version(), 2);
  EXPECT_EQ(out.phones(0), "+74951234567");
  // The old version again: ABORTED, nothing written.
  change.set_name("Другое");
  s = Update(Anna(), change, {"name"}, &out);
  EXPECT_EQ(s.error_code(), StatusCode::ABORTED);
  EXPECT_EQ(Count("SELECT count(*) FROM clients WHERE name = 'ООО «Ромашка»' AND version = 2"), 1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", kClientUpdatedType, "'")), 1);
  // An invalid value names the field; an unknown path is refused.
  change.set_version(2);
  change.set_inn("123");
  s = Update(Anna(), change, {"inn"}, &out);
  EXPECT_EQ(FirstField(s), "client.inn");
  s = Update(Anna(), change, {"version"}, &out);
  EXPECT_EQ(FirstField(s), "update_mask");
  // Read-only callers may not update.
  change.set_inn("");
  s = Update(Reader(), change, {"name"}, &out);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "clients.write"));
}

TEST_F(ClientsTest, PermissionDenied) {
  v1::Client out;
  grpc::Status s = Create(NoClients(), Company("ООО Ромашка"), &out);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "clients.write"));
  s = Create(Reader(), Company("ООО Ромашка"), &out);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  v1::Client c = MustCreate(Company("ООО Ромашка"));
  grpc::ClientContext ctx;
  As(ctx, NoClients());
  v1::GetClientRequest get;
  get.set_id(c.id());
  s = stub_->GetClient(&ctx, get, &out);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "clients.read"));
  // Deal contacts also need access to the deal: Boris's deal is invisible to Anna, and a reader of all
  // deals may see but not change it.
  v1::Contact k = MustContact(c.id(), "Иванов Иван");
  const std::string boris_deal = Deal(kBoris);
  v1::ListDealContactsResponse dc;
  s = AddToDeal(Anna(), boris_deal, k.id(), false, &dc);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  s = DealContacts(Anna(), boris_deal, &dc);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(DealContacts(Boris(), Deal(kAnna), &dc).error_code(), StatusCode::NOT_FOUND);
  s = DealContacts(Reader(), boris_deal, &dc);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = AddToDeal(Reader(), boris_deal, k.id(), false, &dc);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Count("SELECT count(*) FROM deal_contacts"), 0);
}

TEST_F(ClientsTest, ListClientsSearchesAndPages) {
  MustCreate(Company("ООО Ромашка", {"+79161234567"}));
  MustCreate(Company("ООО Лютик", {}, {"hello@lutik.ru"}));
  MustCreate(Company("ИП Астра"));
  MustCreate(Company("ООО Роза", {"+74951112233"}));
  auto list = [&](const std::string& q, int size, const std::string& token, v1::ListClientsResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, Reader());
    v1::ListClientsRequest req;
    req.set_query(q);
    req.set_page_size(size);
    req.set_page_token(token);
    return stub_->ListClients(&ctx, req, out);
  };
  v1::ListClientsResponse r;
  ASSERT_TRUE(list("ооо", 10, "", &r).ok());
  EXPECT_EQ(r.clients_size(), 3);
  ASSERT_TRUE(list("lutik", 10, "", &r).ok());
  ASSERT_EQ(r.clients_size(), 1);
  EXPECT_EQ(r.clients(0).name(), "ООО Лютик");
  ASSERT_TRUE(list("8 (916) 123-45-67", 10, "", &r).ok());
  ASSERT_EQ(r.clients_size(), 1);
  EXPECT_EQ(r.clients(0).name(), "ООО Ромашка");
  ASSERT_TRUE(list("1112233", 10, "", &r).ok());
  ASSERT_EQ(r.clients_size(), 1);
  EXPECT_EQ(r.clients(0).name(), "ООО Роза");
  // All four, two per page, no repeats.
  std::vector<std::string> names;
  std::string token;
  for (int guard = 0; guard < 10; ++guard) {
    ASSERT_TRUE(list("", 2, token, &r).ok());
    EXPECT_LE(r.clients_size(), 2);
    for (const auto& c : r.clients()) names.push_back(c.name());
    token = r.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"ИП Астра", "ООО Лютик", "ООО Роза", "ООО Ромашка"}));
  EXPECT_EQ(list("", 2, "garbage", &r).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(ClientsTest, ContactsCrud) {
  v1::Client c = MustCreate(Company("ООО Ромашка"));
  v1::Contact in, out;
  in.set_full_name("Петров Пётр Петрович");
  in.set_position("Директор");
  in.add_phones("8 916 765-43-21");
  in.add_emails("Petrov@Romashka.RU");
  in.set_passport("4509 123456");
  ASSERT_TRUE(CreateContact(Anna(), c.id(), in, &out).ok());
  EXPECT_TRUE(IsUuid(out.id()));
  EXPECT_EQ(out.client_id(), c.id());
  EXPECT_EQ(out.phones(0), "+79167654321");
  EXPECT_EQ(out.emails(0), "Petrov@romashka.ru");
  EXPECT_EQ(out.passport(), "4509 123456");
  // Bad phone names the contact's field; unknown client is NOT_FOUND.
  v1::Contact bad = in;
  bad.add_phones("000");
  v1::Contact ignored;
  grpc::Status s = CreateContact(Anna(), c.id(), bad, &ignored);
  EXPECT_EQ(FirstField(s), "contact.phones[1]");
  s = CreateContact(Anna(), NewUuidV7(), in, &ignored);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  MustContact(c.id(), "Сидорова Анна");
  EXPECT_EQ(ClientContactNames(c.id()), (std::vector<std::string>{"Петров Пётр Петрович", "Сидорова Анна"}));

  grpc::ClientContext ctx;
  As(ctx, Anna());
  v1::UpdateContactRequest up;
  *up.mutable_contact() = out;
  up.mutable_contact()->set_position("Генеральный директор");
  up.mutable_update_mask()->add_paths("position");
  v1::Contact updated;
  ASSERT_TRUE(stub_->UpdateContact(&ctx, up, &updated).ok());
  EXPECT_EQ(updated.position(), "Генеральный директор");
  EXPECT_EQ(updated.version(), 2);
  grpc::ClientContext ctx2;
  As(ctx2, Anna());
  EXPECT_EQ(stub_->UpdateContact(&ctx2, up, &updated).error_code(), StatusCode::ABORTED);
}

TEST_F(ClientsTest, DealContactsFollowSeed003) {
  v1::Client c = MustCreate(Company("ООО Ромашка"));
  v1::Contact petrov = MustContact(c.id(), "Петров");
  v1::Contact sidorova = MustContact(c.id(), "Сидорова");
  const std::string deal = Deal(kAnna, c.id());

  // A new deal of the client gets all its contacts; the first becomes main.
  {
    pqxx::connection conn(db_->dsn());
    pqxx::work tx(conn);
    absl::StatusOr<int> n = CopyClientContactsToDeal(tx, deal, c.id());
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 2);
    // Copying again adds nothing.
    EXPECT_EQ(*CopyClientContactsToDeal(tx, deal, c.id()), 0);
    EXPECT_EQ(CopyClientContactsToDeal(tx, deal, NewUuidV7()).status().code(), absl::StatusCode::kNotFound);
    tx.commit();
  }
  v1::ListDealContactsResponse r;
  ASSERT_TRUE(DealContacts(Anna(), deal, &r).ok());
  EXPECT_EQ(Names(r), (std::vector<std::string>{"Петров*", "Сидорова"}));

  // Making another main unsets the previous: exactly one main.
  ASSERT_TRUE(AddToDeal(Anna(), deal, sidorova.id(), /*main=*/true, &r).ok());
  EXPECT_EQ(Names(r), (std::vector<std::string>{"Сидорова*", "Петров"}));
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deal_contacts WHERE main AND deal_id = '", deal, "'")),
            1);

  // A contact of another client added to the deal also appears in the deal's client.
  v1::Client other = MustCreate(Company("ООО Лютик"));
  v1::Contact ivanov = MustContact(other.id(), "Иванов");
  ASSERT_TRUE(AddToDeal(Anna(), deal, ivanov.id(), /*main=*/false, &r).ok());
  EXPECT_EQ(Names(r), (std::vector<std::string>{"Сидорова*", "Петров", "Иванов"}));
  EXPECT_EQ(ClientContactNames(c.id()), (std::vector<std::string>{"Петров", "Сидорова", "Иванов"}));
  EXPECT_EQ(ClientContactNames(other.id()), (std::vector<std::string>{"Иванов"}));

  // Removing from the deal keeps the contact in the client; removing the main promotes none.
  ASSERT_TRUE(RemoveFromDeal(Anna(), deal, sidorova.id(), &r).ok());
  EXPECT_EQ(Names(r), (std::vector<std::string>{"Петров", "Иванов"}));
  EXPECT_EQ(ClientContactNames(c.id()), (std::vector<std::string>{"Петров", "Сидорова", "Иванов"}));
  EXPECT_EQ(RemoveFromDeal(Anna(), deal, sidorova.id(), &r).error_code(), StatusCode::NOT_FOUND);

  // Adding to a deal with no main contact makes the added one main.
  ASSERT_TRUE(AddToDeal(Anna(), deal, sidorova.id(), /*main=*/false, &r).ok());
  EXPECT_EQ(Names(r), (std::vector<std::string>{"Сидорова*", "Петров", "Иванов"}));

  // A deal without a client: the contact is added to the deal only.
  const std::string bare = Deal(kAnna);
  ASSERT_TRUE(AddToDeal(Anna(), bare, petrov.id(), /*main=*/false, &r).ok());
  EXPECT_EQ(Names(r), (std::vector<std::string>{"Петров*"}));
  EXPECT_EQ(Count("SELECT count(*) FROM client_contacts"), 4);
  EXPECT_EQ(AddToDeal(Anna(), bare, NewUuidV7(), false, &r).error_code(), StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace crm::deals
