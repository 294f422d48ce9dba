// File: services/deals/copy_test.cc
// Deal copy (D11) and the redacted partner copy (D12) through DealService over gRPC: the scenarios of
// seed 000 §5.1–5.3 and §5.6, rights (§6.3), gates, idempotency and batch copy.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/events.pb.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "services/deals/copy.h"
#include "services/deals/deals_testing.h"

namespace crm::deals {
namespace {

using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids
using grpc::StatusCode;

constexpr char kClient[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kIvan[] = "01900000-0000-7000-8000-00000000c011";   // contact, main
constexpr char kMaria[] = "01900000-0000-7000-8000-00000000c012";  // contact

// Copy rights on top of the fixture's users.
Principal WithCopy(Principal p) {
  p.add_permissions("deals.copy");
  return p;
}

class CopyTest : public DealsFixture {
 protected:
  void SetUp() override {
    DealsFixture::SetUp();
    // "area" is a technical field (may go to a partner), "object_type" is not; "spec_url" is technical.
    Sql(absl::StrCat(
        "UPDATE field_definitions SET technical = true WHERE code = 'area';"
        "INSERT INTO field_definitions (code, name, type, technical) VALUES ('spec_url', 'Спецификация', 10, true);"
        "INSERT INTO clients (id, kind, name, phones) VALUES ('", kClient, "', 2, 'Иванов Иван', '{+79161234567}');"
        "INSERT INTO contacts (id, client_id, full_name, phones, passport) VALUES "
        "('", kIvan, "', '", kClient, "', 'Иванов Иван', '{+79161234567}', '4510 123456'),"
        "('", kMaria, "', '", kClient, "', 'Иванова Мария', '{+79167654321}', '');"
        "INSERT INTO client_contacts (client_id, contact_id) VALUES ('", kClient, "', '", kIvan, "'), ('", kClient,
        "', '", kMaria, "');"));
  }

  // Anna's full deal: amount, tags, source, priority, three custom fields, the client with its two
  // contacts, and one comment with an attachment.
  v1::Deal FullDeal(const Principal& who = Anna()) {
    v1::Deal d = Named("Квартира 2к, ЖК Северный — Иванов");
    d.mutable_amount()->set_amount_minor(1'250'000'00);
    d.add_tags("ипотека");
    d.add_tags("vip");
    d.set_source("site");
    d.set_priority(v1::Deal::PRIORITY_A);
    d.set_client_id(kClient);
    auto* f = d.add_fields();
    f->set_code("object_type");
    f->set_text("flat");
    f = d.add_fields();
    f->set_code("area");
    f->set_number("54.3");
    f = d.add_fields();
    f->set_code("spec_url");
    f->set_text("https://docs.example/spec/42");
    v1::Deal out = MustCreate(who, d);
    const std::string entry = NewUuidV7();
    Sql(absl::StrCat("INSERT INTO timeline_entries (id, deal_id, kind, actor_id, create_time, text) VALUES ('", entry,
                     "', '", out.id(), "', 1, '", kAnna, "', now(), 'Клиент просит 3-й этаж, паспорт 4510 123456');"
                     "INSERT INTO attachments (id, deal_id, file_name, content_type, size_bytes, sha256, entry_id, "
                     "create_time) VALUES ('", NewUuidV7(), "', '", out.id(), "', 'plan.pdf', 'application/pdf', 3, '",
                     std::string(64, 'a'), "', '", entry, "', now());"
                     "INSERT INTO deal_products (id, deal_id, name, quantity_milli, unit_price_minor, currency, "
                     "total_minor) VALUES ('", NewUuidV7(), "', '", out.id(), "', 'Кладовая', 1000, 50000000, 'RUB', "
                     "50000000), ('", NewUuidV7(), "', '", out.id(), "', 'Машино-место', 1000, 150000000, 'RUB', "
                     "150000000);"));
    return out;
  }

  grpc::Status Copy(const Principal& p, const v1::CopyDealRequest& req, v1::Deal* out, const std::string& key = "") {
    grpc::ClientContext ctx;
    As(ctx, p);
    if (!key.empty()) ctx.AddMetadata("idempotency-key", key);
    return stub_->CopyDeal(&ctx, req, out);
  }
  grpc::Status BatchCopy(const Principal& p, const v1::BatchCopyDealsRequest& req, v1::BatchCopyDealsResponse* out,
                         const std::string& key = "") {
    grpc::ClientContext ctx;
    As(ctx, p);
    if (!key.empty()) ctx.AddMetadata("idempotency-key", key);
    return stub_->BatchCopyDeals(&ctx, req, out);
  }
  v1::Deal Fetch(const std::string& id) {
    v1::Deal d;
    grpc::Status s = Get(Head(), id, &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return d;
  }
  // Contacts of a deal as "id" or "id*" for the main one, in their order.
  std::vector<std::string> Contacts(const std::string& deal) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const pqxx::row& r : tx.exec_params(
             "SELECT contact_id::text, main FROM deal_contacts WHERE deal_id = $1::uuid ORDER BY pos", deal)) {
      out.push_back(r[0].as<std::string>() + (r[1].as<bool>() ? "*" : ""));
    }
    return out;
  }
  int64_t Comments(const std::string& deal) {
    return Count(absl::StrCat("SELECT count(*) FROM timeline_entries WHERE kind = 1 AND deal_id = '", deal, "'"));
  }
  int64_t Deals() { return Count("SELECT count(*) FROM deals"); }
  // Line item names of a deal in their order.
  std::vector<std::string> Products(const std::string& deal) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const pqxx::row& r :
         tx.exec_params("SELECT name FROM deal_products WHERE deal_id = $1::uuid ORDER BY pos", deal)) {
      out.push_back(r[0].as<std::string>());
    }
    return out;
  }
  std::set<std::string> Codes(const v1::Deal& d) {
    std::set<std::string> out;
    for (const auto& f : d.fields()) out.insert(f.code());
    return out;
  }
};

// §5.1: a copy inside the pipeline keeps everything by default, lands in the source's stage, is linked
// to the source, and the source is not touched.
TEST_F(CopyTest, SamePipelineCopiesEverythingAndLeavesTheSourceAsItWas) {
  const v1::Deal src = FullDeal();
  const v1::Deal src_before = Fetch(src.id());
  const auto outbox_before = Outbox().size();
  v1::CopyDealRequest req;
  req.set_id(src.id());
  v1::Deal copy;
  grpc::Status s = Copy(WithCopy(Anna()), req, &copy);
  ASSERT_TRUE(s.ok()) << s.error_message();

  EXPECT_NE(copy.id(), src.id());
  EXPECT_EQ(copy.copied_from_id(), src.id());
  EXPECT_EQ(copy.pipeline_id(), kPipeline);
  EXPECT_EQ(copy.stage_id(), src.stage_id());
  EXPECT_EQ(copy.name(), src.name());
  EXPECT_EQ(copy.amount().amount_minor(), 1'250'000'00);
  EXPECT_EQ(copy.tags_size(), 2);
  EXPECT_EQ(copy.source(), "site");
  EXPECT_EQ(copy.priority(), v1::Deal::PRIORITY_A);
  EXPECT_EQ(copy.client_id(), kClient);
  EXPECT_EQ(copy.responsible_id(), kAnna);
  EXPECT_EQ(copy.version(), 1);
  EXPECT_EQ(Codes(copy), (std::set<std::string>{"object_type", "area", "spec_url"}));
  EXPECT_EQ(Contacts(copy.id()), Contacts(src.id()));
  EXPECT_EQ(Contacts(copy.id()), (std::vector<std::string>{std::string(kIvan) + "*", kMaria}));
  EXPECT_EQ(Comments(copy.id()), 1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM attachments WHERE deal_id = '", copy.id(), "'")), 1);
  EXPECT_EQ(Products(copy.id()), (std::vector<std::string>{"Кладовая", "Машино-место"}));
  EXPECT_EQ(Products(src.id()), Products(copy.id()));

  // The source is as it was: same version, contacts, comments.
  const v1::Deal src_after = Fetch(src.id());
  EXPECT_EQ(src_after.SerializeAsString(), src_before.SerializeAsString());
  EXPECT_EQ(Comments(src.id()), 1);

  // DealCreated for the copy, then DealCopied on the source's key.
  auto events = Outbox();
  ASSERT_EQ(events.size(), outbox_before + 2);
  EXPECT_EQ(events[outbox_before].type, "crm.deals.deal.created.v1");
  EXPECT_EQ(events[outbox_before].aggregate_id, copy.id());
  EXPECT_EQ(events[outbox_before + 1].type, kDealCopiedType);
  EXPECT_EQ(events[outbox_before + 1].aggregate_id, src.id());
  v1::DealCopied copied;
  ASSERT_TRUE(events[outbox_before + 1].env.payload().UnpackTo(&copied));
  EXPECT_EQ(copied.source_id(), src.id());
  EXPECT_EQ(copied.copy().id(), copy.id());
  EXPECT_FALSE(copied.redacted());

  // The copies of a source are listed by copied_from_id.
  v1::DealFilter f;
  f.set_copied_from_id(src.id());
  EXPECT_EQ(ListAll(Anna(), f, 10), std::vector<std::string>{copy.id()});
}

// §5.2 / §4.4: another pipeline and stage; only the ticked data comes along.
TEST_F(CopyTest, AnotherPipelineTakesOnlyTheChosenData) {
  const v1::Deal src = FullDeal();
  v1::CopyDealRequest req;
  req.set_id(src.id());
  req.set_pipeline_id(kOther);
  req.set_stage_id(kOtherStage);
  req.mutable_options()->set_name(true);
  req.mutable_options()->set_client(true);
  req.mutable_options()->add_custom_fields("area");
  v1::Deal copy;
  grpc::Status s = Copy(WithCopy(Anna()), req, &copy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(copy.pipeline_id(), kOther);
  EXPECT_EQ(copy.stage_id(), kOtherStage);
  EXPECT_EQ(copy.name(), src.name());
  EXPECT_EQ(copy.client_id(), kClient);
  EXPECT_EQ(copy.amount().amount_minor(), 0);
  EXPECT_EQ(copy.tags_size(), 0);
  EXPECT_EQ(copy.source(), "");
  EXPECT_EQ(copy.priority(), v1::Deal::PRIORITY_UNSPECIFIED);
  EXPECT_EQ(Codes(copy), std::set<std::string>{"area"});
  EXPECT_TRUE(Contacts(copy.id()).empty());  // contacts were not ticked, the client's are not added
  EXPECT_EQ(Comments(copy.id()), 0);
  EXPECT_TRUE(Products(copy.id()).empty());  // §5.2: products unticked
  // Without `responsible` ticked the copy is the caller's.
  EXPECT_EQ(copy.responsible_id(), kAnna);

  // Without a stage the copy lands in the target pipeline's first open stage; the name is generated.
  v1::CopyDealRequest bare;
  bare.set_id(src.id());
  bare.set_pipeline_id(kOther);
  bare.mutable_options();
  ASSERT_TRUE(Copy(WithCopy(Anna()), bare, &copy).ok());
  EXPECT_EQ(copy.stage_id(), kOtherStage);
  EXPECT_TRUE(absl::StartsWith(copy.name(), "Сделка №")) << copy.name();
  EXPECT_EQ(copy.client_id(), "");
}

// Seed 000 §5.7: the post-sale copy takes the company and its main contact only.
TEST_F(CopyTest, MainContactOnlyTakesTheMainContact) {
  const v1::Deal src = FullDeal();
  ASSERT_EQ(Contacts(src.id()).size(), 2u);
  v1::CopyDealRequest req;
  req.set_id(src.id());
  req.mutable_options()->set_client(true);
  req.mutable_options()->set_contacts(true);
  req.mutable_options()->set_main_contact_only(true);
  v1::Deal copy;
  grpc::Status s = Copy(WithCopy(Anna()), req, &copy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Contacts(copy.id()), (std::vector<std::string>{std::string(kIvan) + "*"}));
  // Without contacts ticked, main_contact_only adds none.
  req.mutable_options()->set_contacts(false);
  ASSERT_TRUE(Copy(WithCopy(Anna()), req, &copy).ok());
  EXPECT_TRUE(Contacts(copy.id()).empty());
}

// §5.3: a team lead copies a manager's deal for another manager; the source stays with its owner.
// A manager with own rights cannot hand a copy to someone else.
TEST_F(CopyTest, AnotherResponsibleNeedsTheRightToAssign) {
  const v1::Deal src = FullDeal();
  v1::CopyDealRequest req;
  req.set_id(src.id());
  req.set_responsible_id(kBoris);
  v1::Deal copy;
  const int64_t before = Deals();
  grpc::Status s = Copy(WithCopy(Anna()), req, &copy);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(Deals(), before);

  s = Copy(WithCopy(Lena()), req, &copy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(copy.responsible_id(), kBoris);
  EXPECT_EQ(copy.creator_id(), kLena);
  EXPECT_EQ(Fetch(src.id()).responsible_id(), kAnna);
  // Boris sees his copy but still not the source.
  v1::Deal seen;
  EXPECT_TRUE(Get(Boris(), copy.id(), &seen).ok());
  EXPECT_EQ(Get(Boris(), src.id(), &seen).error_code(), StatusCode::NOT_FOUND);
}

// §6.3: the copy obeys the rights on the source; deals.copy is needed.
TEST_F(CopyTest, RightsOnTheSourceAndTheCopyPermission) {
  const v1::Deal src = FullDeal();
  v1::CopyDealRequest req;
  req.set_id(src.id());
  v1::Deal copy;
  const int64_t before = Deals();
  const auto events = Outbox().size();
  EXPECT_EQ(Copy(WithCopy(Boris()), req, &copy).error_code(), StatusCode::NOT_FOUND);
  grpc::Status s = Copy(Anna(), req, &copy);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "deals.copy")) << s.error_message();
  EXPECT_EQ(Deals(), before);
  EXPECT_EQ(Outbox().size(), events);
}

// Bad input names the field and writes nothing.
TEST_F(CopyTest, InvalidTargetsNameTheField) {
  const v1::Deal src = FullDeal();
  const int64_t before = Deals();
  struct Case {
    std::function<void(v1::CopyDealRequest&)> edit;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](v1::CopyDealRequest& r) { r.set_id("nope"); }, "id"},
      {[](v1::CopyDealRequest& r) { r.set_pipeline_id(NewUuidV7()); }, "pipeline_id"},
      {[](v1::CopyDealRequest& r) { r.set_stage_id(kOtherStage); }, "stage_id"},  // of another pipeline
      {[](v1::CopyDealRequest& r) { r.set_responsible_id("x"); }, "responsible_id"},
      {[](v1::CopyDealRequest& r) { r.mutable_options()->add_custom_fields("no_such_field"); },
       "options.custom_fields"},
  };
  for (const Case& c : cases) {
    v1::CopyDealRequest req;
    req.set_id(src.id());
    c.edit(req);
    v1::Deal copy;
    grpc::Status s = Copy(WithCopy(Head()), req, &copy);
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(FirstField(s), c.field) << s.error_message();
  }
  EXPECT_EQ(Deals(), before);
}

// The target stage's gates apply to the copy, every missing item listed.
TEST_F(CopyTest, TargetStageGatesApply) {
  const v1::Deal src = FullDeal();
  v1::CopyDealRequest req;
  req.set_id(src.id());
  req.set_stage_id(kQualified);
  req.mutable_options()->set_name(true);
  const int64_t before = Deals();
  v1::Deal copy;
  grpc::Status s = Copy(WithCopy(Anna()), req, &copy);
  ASSERT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();
  for (const char* item : {"amount", "object_type", "task", "comment"}) {
    EXPECT_TRUE(absl::StrContains(s.error_message(), item)) << item << ": " << s.error_message();
  }
  // The copy's own comment meets the comment gate; the rest are still listed.
  req.set_comment("Передаю на квалификацию");
  s = Copy(WithCopy(Anna()), req, &copy);
  ASSERT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_FALSE(absl::StrContains(s.error_message(), "comment")) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "task")) << s.error_message();
  EXPECT_EQ(Deals(), before);
  // A copy's comment lands in its timeline after the notes it took; too long a comment is refused.
  v1::CopyDealRequest plain;
  plain.set_id(src.id());
  plain.set_comment("Повторная продажа");
  ASSERT_TRUE(Copy(WithCopy(Anna()), plain, &copy).ok());
  EXPECT_EQ(Comments(copy.id()), 2);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM timeline_entries WHERE deal_id = '", copy.id(),
                               "' AND text = 'Повторная продажа'")),
            1);
  plain.set_comment(std::string(5001, 'x'));
  EXPECT_EQ(FirstField(Copy(WithCopy(Anna()), plain, &copy)), "comment");
}

// §5.6: the partner copy carries technical fields only — no client, people, notes, money or name.
TEST_F(CopyTest, RedactedCopyCarriesOnlyTechnicalFields) {
  const v1::Deal src = FullDeal();
  v1::CopyDealRequest req;
  req.set_id(src.id());
  req.set_pipeline_id(kOther);
  req.set_responsible_id(kLena);
  req.set_redacted(true);
  v1::Deal copy;
  grpc::Status s = Copy(WithCopy(Head()), req, &copy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(absl::StartsWith(copy.name(), "Копия для партнёра №")) << copy.name();
  EXPECT_TRUE(absl::EndsWith(copy.id(), copy.name().substr(copy.name().size() - 8)));
  EXPECT_EQ(copy.client_id(), "");
  EXPECT_EQ(copy.amount().amount_minor(), 0);
  EXPECT_EQ(copy.tags_size(), 0);
  EXPECT_EQ(copy.source(), "");
  EXPECT_EQ(Codes(copy), (std::set<std::string>{"area", "spec_url"}));
  EXPECT_TRUE(Contacts(copy.id()).empty());
  EXPECT_EQ(Comments(copy.id()), 0);
  EXPECT_EQ(Products(copy.id()).size(), 2u);  // the list of services may go to the partner
  EXPECT_EQ(copy.copied_from_id(), src.id());
  // Nothing personal anywhere in the copy or its events.
  auto events = Outbox();
  for (const auto& e : events) {
    if (e.aggregate_id != copy.id() && e.type != kDealCopiedType) continue;
    const std::string bytes = e.env.SerializeAsString();
    for (const std::string& secret : {std::string("Иванов"), std::string(kClient), std::string("+7916"),
                                      std::string("4510"), std::string("ипотека")}) {
      EXPECT_FALSE(absl::StrContains(bytes, secret)) << e.type << " carries " << secret;
    }
  }
  // Options cannot widen a partner copy.
  req.mutable_options()->set_client(true);
  req.mutable_options()->set_contacts(true);
  req.mutable_options()->set_all_custom_fields(true);
  ASSERT_TRUE(Copy(WithCopy(Head()), req, &copy).ok());
  EXPECT_EQ(copy.client_id(), "");
  EXPECT_TRUE(Contacts(copy.id()).empty());
  EXPECT_EQ(Codes(copy), (std::set<std::string>{"area", "spec_url"}));
}

// The same Idempotency-Key gives the same copy, even when sent concurrently; reusing it for another
// request is refused.
// A robot's copy: DealCreated of the copy and DealCopied both carry the call's automation causation.
TEST_F(CopyTest, CopyEventsCarryTheAutomationCausation) {
  const v1::Deal src = MustCreate(Anna(), Named("Источник"));
  const auto before = Outbox().size();
  grpc::ClientContext ctx;
  As(ctx, WithCopy(Anna()));
  ctx.AddMetadata(rpc::kAutomationDepthHeader, "4");
  ctx.AddMetadata(rpc::kSkipAutomationHeader, "1");
  v1::CopyDealRequest req;
  req.set_id(src.id());
  v1::Deal copy;
  grpc::Status s = stub_->CopyDeal(&ctx, req, &copy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto events = Outbox();
  ASSERT_EQ(events.size(), before + 2);
  EXPECT_EQ(events[before - 1].env.automation_depth(), 0);  // the source's own DealCreated
  EXPECT_FALSE(events[before - 1].env.skip_automation());
  for (size_t i = before; i < events.size(); ++i) {
    EXPECT_EQ(events[i].env.automation_depth(), 4) << events[i].type;
    EXPECT_TRUE(events[i].env.skip_automation()) << events[i].type;
  }
}

TEST_F(CopyTest, IdempotencyKeyMakesOneCopy) {
  const v1::Deal src = FullDeal();
  v1::CopyDealRequest req;
  req.set_id(src.id());
  const int64_t before = Deals();
  std::vector<std::string> ids(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      v1::Deal copy;
      grpc::Status s = Copy(WithCopy(Anna()), req, &copy, "copy-once");
      EXPECT_TRUE(s.ok()) << s.error_message();
      ids[i] = copy.id();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(Deals(), before + 1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", kDealCopiedType, "'")), 1);

  req.set_pipeline_id(kOther);
  v1::Deal copy;
  grpc::Status s = Copy(WithCopy(Anna()), req, &copy, "copy-once");
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "idempotency-key");
  // Another caller's key is theirs alone.
  ASSERT_TRUE(Copy(WithCopy(Head()), v1::CopyDealRequest(req), &copy, "copy-once").ok());
  EXPECT_EQ(Deals(), before + 2);
}

// Batch copy: one result per source in order, failures do not stop the others, a retried batch with
// the same key makes nothing new.
TEST_F(CopyTest, BatchCopyReportsEachSource) {
  const v1::Deal a = FullDeal();
  const v1::Deal b = MustCreate(Anna(), Named("Вторая"));
  const v1::Deal boris = MustCreate(Boris(), Named("Чужая"));
  v1::BatchCopyDealsRequest req;
  req.add_ids(a.id());
  req.add_ids(boris.id());
  req.add_ids("not-a-uuid");
  req.add_ids(b.id());
  req.set_pipeline_id(kOther);
  const int64_t before = Deals();
  v1::BatchCopyDealsResponse resp;
  grpc::Status s = BatchCopy(WithCopy(Anna()), req, &resp, "batch-1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), 4);
  EXPECT_EQ(resp.results(0).source_id(), a.id());
  EXPECT_EQ(resp.results(0).error_code(), 0);
  EXPECT_EQ(resp.results(0).copy().copied_from_id(), a.id());
  EXPECT_EQ(resp.results(0).copy().pipeline_id(), kOther);
  EXPECT_EQ(resp.results(1).error_code(), static_cast<int>(StatusCode::NOT_FOUND));
  EXPECT_EQ(resp.results(2).error_code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(resp.results(3).error_code(), 0);
  EXPECT_EQ(resp.results(3).copy().copied_from_id(), b.id());
  // Issue 16: each result carries its status by name, as the REST error body spells it.
  EXPECT_EQ(resp.results(0).error_status(), "");
  EXPECT_EQ(resp.results(1).error_status(), "NOT_FOUND");
  EXPECT_EQ(resp.results(2).error_status(), "INVALID_ARGUMENT");
  EXPECT_EQ(Deals(), before + 2);

  v1::BatchCopyDealsResponse again;
  ASSERT_TRUE(BatchCopy(WithCopy(Anna()), req, &again, "batch-1").ok());
  EXPECT_EQ(again.results(0).copy().id(), resp.results(0).copy().id());
  EXPECT_EQ(again.results(3).copy().id(), resp.results(3).copy().id());
  EXPECT_EQ(again.SerializeAsString(), resp.SerializeAsString());  // the batch's recorded reply
  EXPECT_EQ(Deals(), before + 2);
  // The same key with another batch: INVALID_ARGUMENT naming the key, nothing copied.
  v1::BatchCopyDealsRequest other = req;
  other.set_comment("другой пакет");
  EXPECT_EQ(FirstField(BatchCopy(WithCopy(Anna()), other, &again, "batch-1")), "idempotency-key");
  EXPECT_EQ(Deals(), before + 2);

  v1::BatchCopyDealsRequest empty;
  EXPECT_EQ(FirstField(BatchCopy(WithCopy(Anna()), empty, &resp)), "ids");
  v1::BatchCopyDealsRequest many;
  for (int i = 0; i < kMaxBatchCopy + 1; ++i) many.add_ids(a.id());
  EXPECT_EQ(FirstField(BatchCopy(WithCopy(Anna()), many, &resp)), "ids");
  EXPECT_EQ(Deals(), before + 2);
}

}  // namespace
}  // namespace crm::deals
