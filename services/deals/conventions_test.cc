// File: services/deals/conventions_test.cc
// Issue 16 (G1): the conventions every part of deals follows, on the DealsFixture (deals_testing.h: real
// PostgreSQL, an in-process server, a ManualClock) and the other stores called directly:
//   - a refused request names every field violation at once, as the proto spells it; a stage gate's
//     refusal carries each missing item as a violation; a malformed id is INVALID_ARGUMENT naming it;
//   - one page rule (page_size < 0 refused, 0 the default, above the maximum clamped) and every list
//     paginated, contacts included;
//   - "me" (or "mine") wherever a user id filters a list;
//   - versions: 0 means any version (If-Match: *), a stale one is ABORTED.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "services/deals/clients.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/orders.h"
#include "services/deals/payments.h"
#include "services/deals/pipelines.h"
#include "services/deals/products.h"
#include "services/deals/tasks.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using grpc::StatusCode;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAre;

using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids

// Every field an absl status names.
std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}

// Anna as a manager of clients, payments and tasks too.
Principal Manager() {
  return User(kAnna, {"deals.read.own", "deals.write.own", "clients.read", "clients.write", "payments.write"},
              {kTeam1});
}

class ConventionsTest : public DealsFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DealsFixture::SetUp());
    clients_ = std::make_unique<ClientStore>(*pool_, clock_);
    tasks_ = std::make_unique<TaskStore>(*pool_, clock_);
    lines_ = std::make_unique<DealProductStore>(*pool_, clock_);
    orders_ = std::make_unique<OrderStore>(*pool_, clock_);
    pipelines_ = std::make_unique<PipelineStore>(*pool_, clock_);
    auto zone = LoadTimeZone(kDefaultPaymentTimeZone);
    ASSERT_TRUE(zone.ok()) << zone.status();
    payments_ = std::make_unique<PaymentStore>(*pool_, clock_, *store_, *zone);
  }

  Actor As(const Principal& p) { return Actor{.principal = p}; }

  std::unique_ptr<ClientStore> clients_;
  std::unique_ptr<TaskStore> tasks_;
  std::unique_ptr<DealProductStore> lines_;
  std::unique_ptr<OrderStore> orders_;
  std::unique_ptr<PipelineStore> pipelines_;
  std::unique_ptr<PaymentStore> payments_;
};

// ---------------------------------------------------------------------------------------------------
// Every violation at once

TEST_F(ConventionsTest, ADealRefusedForItsFieldsNamesEveryOne) {
  v1::Deal d;
  d.set_pipeline_id("not-a-uuid");
  d.set_client_id("nope");
  d.mutable_amount()->set_currency("rub");
  d.mutable_amount()->set_amount_minor(-5);
  d.set_priority(static_cast<v1::Deal::Priority>(42));
  d.add_tags("");
  d.add_tags("ok");
  d.add_tags(std::string(65, 'x'));
  v1::FieldValue* f = d.add_fields();
  f->set_code("object_type");
  f->set_text("castle");
  f = d.add_fields();
  f->set_code("area");
  f->set_flag(true);
  f = d.add_fields();
  f->set_code("no_such");
  f->set_text("x");
  v1::Deal out;
  grpc::Status s = Create(Anna(), d, &out);
  ASSERT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(AllFields(s), UnorderedElementsAre("deal.name", "deal.pipeline_id", "deal.client_id",
                                                 "deal.amount.currency", "deal.amount.amount_minor",
                                                 "deal.priority", "deal.tags[0]", "deal.tags[2]",
                                                 "deal.fields[0].text", "deal.fields[1]", "deal.fields[2].code"));
  EXPECT_EQ(s.error_message(), "deal.name: required (and 10 more)");
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 0);

  // An unknown pipeline is named with the rest.
  d = Named("");
  d.set_pipeline_id(NewUuidV7());
  EXPECT_THAT(AllFields(Create(Anna(), d, &out)), UnorderedElementsAre("deal.name", "deal.pipeline_id"));

  // An update: every bad path and value.
  v1::Deal made = MustCreate(Anna(), Named("Окна"));
  v1::Deal change = made;
  change.set_name("");
  change.set_source(std::string(201, 's'));
  change.mutable_amount()->set_currency("usd");
  grpc::Status u = Update(Anna(), change, {"name", "source", "amount", "stage_id"}, &out);
  ASSERT_EQ(u.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(AllFields(u), UnorderedElementsAre("update_mask", "deal.name", "deal.source", "deal.amount.currency"));

  // A move: a malformed id and stage, both named.
  v1::MoveDealRequest mv;
  mv.set_id("x");
  mv.set_stage_id("y");
  EXPECT_THAT(AllFields(Move(Anna(), mv, &out)), UnorderedElementsAre("id", "stage_id"));
}

TEST_F(ConventionsTest, AGateRefusalCarriesEachMissingItemAsAViolation) {
  v1::Deal d = MustCreate(Anna(), Named("Ворота"));
  v1::MoveDealRequest req;
  req.set_id(d.id());
  req.set_stage_id(kQualified);
  v1::Deal out;
  grpc::Status s = Move(Anna(), req, &out);
  ASSERT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "stage «Квалифицирован» requires: amount, custom.object_type, an open task, a comment");
  EXPECT_THAT(AllFields(s), ElementsAre("amount", "custom.object_type", "open_task", "comment"));
  const std::vector<FieldViolation> v = FieldViolations(FromGrpcStatus(s));
  EXPECT_EQ(v[0].description, "required by stage «Квалифицирован»");
}

TEST_F(ConventionsTest, EveryOtherValidatorNamesEveryViolation) {
  // Clients and contacts.
  v1::Client c;
  c.set_inn("123");
  c.add_phones("not a phone");
  c.add_phones("+7 916 123-45-67");
  c.add_emails("a@b.ru");
  c.add_emails("nobody");
  EXPECT_THAT(Fields(clients_->CreateClient(As(Manager()), c, false).status()),
              UnorderedElementsAre("client.kind", "client.name", "client.inn", "client.phones[0]", "client.emails[1]"));
  v1::Contact k;
  k.add_emails("@@");
  EXPECT_THAT(Fields(clients_->CreateContact(As(Manager()), "bad-id", k).status()), ElementsAre("client_id"));
  EXPECT_THAT(Fields(clients_->CreateContact(As(Manager()), NewUuidV7(), k).status()),
              UnorderedElementsAre("contact.full_name", "contact.emails[0]"));

  // Tasks.
  v1::Task t;
  t.set_deal_id("x");
  t.set_responsible_id("y");
  EXPECT_THAT(Fields(tasks_->Create(As(Manager()), t).status()),
              UnorderedElementsAre("task.deal_id", "task.kind", "task.title", "task.due_time", "task.responsible_id"));

  // Payments and schedules.
  v1::Deal deal = MustCreate(Anna(), Named("Платежи"));
  v1::Payment pay;
  pay.set_due_date("31.12.2026");
  pay.set_comment(std::string(2001, 'x'));
  EXPECT_THAT(Fields(payments_->Add(As(Manager()), deal.id(), pay).status()),
              UnorderedElementsAre("payment.due_date", "payment.comment", "payment.amount.amount_minor"));
  v1::ApplyPaymentScheduleRequest sched;
  sched.set_deal_id(deal.id());
  sched.add_parts()->set_due_date("2026-13-01");
  v1::SchedulePart* part = sched.add_parts();
  part->set_percent(100);
  part->set_due_date("2026-05-01");
  EXPECT_THAT(Fields(payments_->ApplySchedule(As(Manager()), sched).status()),
              UnorderedElementsAre("parts[0].percent", "parts[0].due_date"));

  // Line items and orders.
  v1::DealProduct line;
  line.set_quantity("1.0001");
  line.mutable_unit_price()->set_amount_minor(-1);
  line.set_vat_basis_points(20000);
  EXPECT_THAT(Fields(lines_->Add(As(Manager()), deal.id(), line).status()),
              UnorderedElementsAre("product.name", "product.quantity", "product.unit_price.amount_minor",
                                   "product.vat_basis_points"));
  v1::CreateOrderRequest order;
  order.set_deal_id(deal.id());
  order.mutable_order()->add_lines()->set_quantity("x");
  v1::DealProduct* second = order.mutable_order()->add_lines();
  second->set_name("Окно");
  second->set_quantity("1");
  second->set_discount_basis_points(-1);
  EXPECT_THAT(Fields(orders_->Create(As(Manager()), order).status()),
              UnorderedElementsAre("order.lines[0].name", "order.lines[0].quantity",
                                   "order.lines[1].discount_basis_points"));

  // Pipelines and field definitions.
  v1::Pipeline p;
  v1::Stage* st = p.add_stages();
  st->set_kind(v1::Stage::KIND_OPEN);
  st->set_color("red");
  st->mutable_gates()->add_required_fields("phone");
  EXPECT_THAT(Fields(pipelines_->Create(p).status()),
              UnorderedElementsAre("pipeline.name", "pipeline.stages[0].name", "pipeline.stages[0].color",
                                   "pipeline.stages[0].gates.required_fields", "pipeline.stages"));
  v1::FieldDefinition fd;
  fd.set_code("Bad Code");
  fd.add_options("x");
  EXPECT_THAT(Fields(pipelines_->CreateField(fd).status()),
              UnorderedElementsAre("field.code", "field.name", "field.type", "field.options"));
}

TEST_F(ConventionsTest, AMalformedIdIsInvalidArgumentNamingIt) {
  v1::Deal out;
  EXPECT_EQ(FirstField(Get(Anna(), "not-a-uuid", &out)), "id");
  EXPECT_EQ(Fields(pipelines_->Get("not-a-uuid").status()), std::vector<std::string>{"id"});
  v1::Pipeline p;
  p.set_id("nope");
  EXPECT_EQ(Fields(pipelines_->Update(p, {"name"}).status()), std::vector<std::string>{"pipeline.id"});
  EXPECT_EQ(Fields(clients_->GetClient(Manager(), "nope").status()), std::vector<std::string>{"id"});
  EXPECT_EQ(Fields(clients_->ListContacts(Manager(), "nope").status()), std::vector<std::string>{"client_id"});
  EXPECT_EQ(Fields(clients_->ListDealContacts(Manager(), "nope").status()), std::vector<std::string>{"deal_id"});
  EXPECT_EQ(Fields(tasks_->Get(Manager(), "nope").status()), std::vector<std::string>{"id"});
  EXPECT_EQ(Fields(lines_->List(Manager(), "nope").status()), std::vector<std::string>{"deal_id"});
  EXPECT_EQ(Fields(orders_->List(Manager(), "nope").status()), std::vector<std::string>{"deal_id"});
  EXPECT_EQ(Fields(payments_->GetPanel(Manager(), "nope").status()), std::vector<std::string>{"deal_id"});
  v1::ListDealsRequest list;
  list.mutable_filter()->set_pipeline_id("nope");
  list.mutable_filter()->add_stage_ids("x");
  list.mutable_filter()->set_copied_from_id("y");
  v1::ListDealsResponse resp;
  EXPECT_THAT(AllFields(List(Anna(), list, &resp)),
              UnorderedElementsAre("filter.pipeline_id", "filter.stage_ids[0]", "filter.copied_from_id"));
}

// ---------------------------------------------------------------------------------------------------
// One page rule, every list paginated

TEST_F(ConventionsTest, ThePageRuleRefusesNegativeDefaultsZeroAndClampsTheRest) {
  Sql(absl::StrCat("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, create_time) "
                   "SELECT gen_random_uuid(), 'Сделка ' || i, '", kPipeline, "', '", kNew, "', 1, '", kAnna,
                   "', now() - i * interval '1 second' FROM generate_series(1, 230) i"));
  v1::ListDealsRequest req;
  v1::ListDealsResponse resp;
  req.set_page_size(-1);
  EXPECT_EQ(FirstField(List(Anna(), req, &resp)), "page_size");
  req.set_page_size(0);
  ASSERT_TRUE(List(Anna(), req, &resp).ok());
  EXPECT_EQ(resp.deals_size(), 50);
  req.set_page_size(100000);
  resp.Clear();
  ASSERT_TRUE(List(Anna(), req, &resp).ok());
  EXPECT_EQ(resp.deals_size(), 200);
  EXPECT_FALSE(resp.next_page_token().empty());
  // The same rule on another list.
  v1::ListTasksRequest tasks;
  tasks.set_page_size(-3);
  EXPECT_EQ(Fields(tasks_->List(Manager(), tasks).status()), std::vector<std::string>{"page_size"});
}

TEST_F(ConventionsTest, ContactsOrdersAndLineItemsComeInPages) {
  v1::Client c;
  c.set_kind(v1::Client::KIND_COMPANY);
  c.set_name("ООО Ромашка");
  auto client = clients_->CreateClient(As(Manager()), c, false);
  ASSERT_TRUE(client.ok()) << client.status();
  std::vector<std::string> contacts;
  for (const char* name : {"Иванов", "Петров", "Сидоров"}) {
    v1::Contact k;
    k.set_full_name(name);
    auto made = clients_->CreateContact(As(Manager()), client->id(), k);
    ASSERT_TRUE(made.ok()) << made.status();
    contacts.push_back(made->id());
  }
  v1::ListContactsRequest req;
  req.set_client_id(client->id());
  req.set_page_size(2);
  auto first = clients_->ListContacts(Manager(), req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->contacts_size(), 2);
  ASSERT_FALSE(first->next_page_token().empty());
  req.set_page_token(first->next_page_token());
  auto second = clients_->ListContacts(Manager(), req);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->contacts_size(), 1);
  EXPECT_EQ(second->contacts(0).id(), contacts[2]);
  EXPECT_TRUE(second->next_page_token().empty());

  // A deal's contacts: the main one first, then the others in the order added, over pages of one.
  v1::Deal deal = MustCreate(Anna(), Named("Контакты"));
  for (size_t i = 0; i < contacts.size(); ++i) {
    v1::AddDealContactRequest add;
    add.set_deal_id(deal.id());
    add.set_contact_id(contacts[i]);
    add.set_main(i == 1);
    ASSERT_TRUE(clients_->AddDealContact(As(Manager()), add).ok());
  }
  v1::ListDealContactsRequest dreq;
  dreq.set_deal_id(deal.id());
  dreq.set_page_size(1);
  std::vector<std::string> seen;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = clients_->ListDealContacts(Manager(), dreq);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& dc : page->contacts()) seen.push_back(dc.contact().id());
    if (page->next_page_token().empty()) break;
    dreq.set_page_token(page->next_page_token());
  }
  EXPECT_THAT(seen, ElementsAre(contacts[1], contacts[0], contacts[2]));

  // Orders newest first, line items in order, over pages; the lines' total is of them all.
  for (int i = 0; i < 3; ++i) {
    v1::CreateOrderRequest o;
    o.set_deal_id(deal.id());
    ASSERT_TRUE(orders_->Create(As(Manager()), o).ok());
    clock_.Advance(absl::Seconds(1));
    v1::DealProduct l;
    l.set_name(absl::StrCat("Позиция ", i));
    l.set_quantity("1");
    l.mutable_unit_price()->set_amount_minor(1000 * (i + 1));
    ASSERT_TRUE(lines_->Add(As(Manager()), deal.id(), l).ok());
  }
  v1::ListOrdersRequest oreq;
  oreq.set_deal_id(deal.id());
  oreq.set_page_size(2);
  auto orders = orders_->List(Manager(), oreq);
  ASSERT_TRUE(orders.ok()) << orders.status();
  ASSERT_EQ(orders->orders_size(), 2);
  oreq.set_page_token(orders->next_page_token());
  auto more = orders_->List(Manager(), oreq);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(more->orders_size(), 1);
  EXPECT_TRUE(more->next_page_token().empty());
  v1::ListDealProductsRequest lreq;
  lreq.set_deal_id(deal.id());
  lreq.set_page_size(2);
  auto lines = lines_->List(Manager(), lreq);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->products_size(), 2);
  EXPECT_EQ(lines->total().amount_minor(), 6000);
  lreq.set_page_token(lines->next_page_token());
  lines = lines_->List(Manager(), lreq);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->products_size(), 1);
  EXPECT_EQ(lines->products(0).name(), "Позиция 2");
}

// ---------------------------------------------------------------------------------------------------
// "me"

TEST_F(ConventionsTest, MeAndMineNameTheCallerInEveryUserFilter) {
  v1::Deal mine = MustCreate(Head(), Named("Моя"));
  v1::Deal annas = Named("Аннина");
  annas.set_responsible_id(kAnna);
  annas = MustCreate(Head(), annas);
  for (const char* me : {"me", "mine", "ME"}) {
    v1::DealFilter f;
    f.add_responsible_ids(me);
    EXPECT_THAT(ListAll(Head(), f, 10), ElementsAre(mine.id())) << me;
  }
  v1::DealFilter both;
  both.add_responsible_ids("me");
  both.add_responsible_ids(kAnna);
  EXPECT_THAT(ListAll(Head(), both, 10), UnorderedElementsAre(mine.id(), annas.id()));
  v1::ListDealsRequest bad;
  bad.mutable_filter()->add_responsible_ids("someone");
  v1::ListDealsResponse resp;
  EXPECT_EQ(FirstField(List(Head(), bad, &resp)), "filter.responsible_ids[0]");

  // Tasks: responsible=me and its alias.
  v1::Task t;
  t.set_deal_id(mine.id());
  t.set_kind(v1::Task::CALL);
  t.set_title("Позвонить");
  *t.mutable_due_time() = ToProtoTimestamp(clock_.Now() + absl::Hours(1));
  ASSERT_TRUE(tasks_->Create(As(Head()), t).ok());
  for (const char* me : {"me", "mine"}) {
    v1::ListTasksRequest req;
    req.set_responsible(me);
    auto got = tasks_->List(Head(), req);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->tasks_size(), 1) << me;
  }
}

// ---------------------------------------------------------------------------------------------------
// Versions

TEST_F(ConventionsTest, VersionZeroIsAnyVersionAndAStaleOneIsAborted) {
  // A deal: If-Match: * reaches the store as version 0, the last writer wins.
  v1::Deal d = MustCreate(Anna(), Named("Версии"));
  v1::Deal change = d;
  change.set_version(0);
  change.set_name("Версии 2");
  v1::Deal out;
  ASSERT_TRUE(Update(Anna(), change, {"name"}, &out).ok());
  EXPECT_EQ(out.version(), 2);
  change.set_version(1);
  change.set_name("Версии 3");
  EXPECT_EQ(Update(Anna(), change, {"name"}, &out).error_code(), StatusCode::ABORTED);

  // A client and a contact the same way.
  v1::Client c;
  c.set_kind(v1::Client::KIND_PERSON);
  c.set_name("Иван Иванов");
  auto client = clients_->CreateClient(As(Manager()), c, false);
  ASSERT_TRUE(client.ok()) << client.status();
  v1::Client cc = *client;
  cc.set_version(0);
  cc.set_comment("Звонить после 18:00");
  google::protobuf::FieldMask mask;
  mask.add_paths("comment");
  auto updated = clients_->UpdateClient(As(Manager()), cc, mask);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2);
  cc.set_version(1);
  cc.set_comment("Не звонить");
  EXPECT_TRUE(absl::IsAborted(clients_->UpdateClient(As(Manager()), cc, mask).status()));
  v1::Contact k;
  k.set_full_name("Анна");
  auto contact = clients_->CreateContact(As(Manager()), client->id(), k);
  ASSERT_TRUE(contact.ok()) << contact.status();
  v1::Contact kk = *contact;
  kk.set_version(0);
  kk.set_position("Директор");
  google::protobuf::FieldMask pos;
  pos.add_paths("position");
  ASSERT_TRUE(clients_->UpdateContact(As(Manager()), kk, pos).ok());
  kk.set_version(1);
  kk.set_position("Бухгалтер");
  EXPECT_TRUE(absl::IsAborted(clients_->UpdateContact(As(Manager()), kk, pos).status()));
}

}  // namespace
}  // namespace crm::deals
