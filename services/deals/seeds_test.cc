// File: services/deals/seeds_test.cc
// Issue 16, "the seeds, exactly" — deals' part, on the DealsFixture (deals_testing.h: real PostgreSQL, an
// in-process server, a ManualClock) and the other stores called directly:
//   - D2: a deal type (тип сделки, seed 003) on the deal — set, changed, filtered, carried by events,
//     cards and copies;
//   - D3: the list filtered by a custom field value through the query-string form (filter.custom_fields);
//   - D5: e-mail duplicates whatever the case;
//   - D10: the field history records the one custom field that changed, old and new;
//   - D4: "a comment" means one on the deal since it entered its stage or one sent with the move (one
//     definition, Deal.comment_since_stage_entry), and a gate's «телефон» is the client's phone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/events.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "services/deals/clients.h"
#include "services/deals/copy.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/pipelines.h"
#include "services/deals/timeline.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using grpc::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids

Principal ClientsManager() {
  return User(kHead, {"deals.read.all", "deals.write.all", "clients.read", "clients.write", "deals.copy"}, {kTeam1});
}

std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}

class SeedsTest : public DealsFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DealsFixture::SetUp());
    clients_ = std::make_unique<ClientStore>(*pool_, clock_);
    pipelines_ = std::make_unique<PipelineStore>(*pool_, clock_);
    blobs_ = std::make_unique<LocalDirBlobStore>(::testing::TempDir() + "/seeds_test_blobs", kMaxAttachmentBytes);
    timeline_ = std::make_unique<TimelineStore>(*pool_, clock_, *blobs_);
    copier_ = std::make_unique<DealCopier>(*store_);
  }

  Actor As(const Principal& p) { return Actor{.principal = p}; }

  v1::Deal MustGet(const std::string& id) {
    v1::Deal out;
    grpc::Status s = Get(Head(), id, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  void Comment(const std::string& deal_id, const std::string& text) {
    v1::AddCommentRequest req;
    req.set_deal_id(deal_id);
    req.set_text(text);
    auto added = timeline_->AddComment(As(Head()), req);
    ASSERT_TRUE(added.ok()) << added.status();
  }

  grpc::Status MoveTo(const std::string& id, const std::string& stage, const std::string& comment = "",
                      v1::Deal* out = nullptr, const std::string& pipeline = "") {
    v1::MoveDealRequest req;
    req.set_id(id);
    req.set_stage_id(stage);
    req.set_pipeline_id(pipeline);
    req.set_comment(comment);
    v1::Deal ignored;
    grpc::Status s = Move(Head(), req, out != nullptr ? out : &ignored);
    clock_.Advance(absl::Minutes(1));
    return s;
  }

  // A deal in kNew with everything kQualified's gates ask for but a comment (amount, object_type, an
  // open task).
  v1::Deal ReadyButForAComment(const std::string& name) {
    v1::Deal d = Named(name);
    d.mutable_amount()->set_amount_minor(100'000);
    v1::FieldValue* f = d.add_fields();
    f->set_code("object_type");
    f->set_text("flat");
    d = MustCreate(Head(), d);
    Sql(absl::StrCat("UPDATE deals SET next_task_time = now() WHERE id = '", d.id(), "'"));
    return d;
  }

  std::unique_ptr<ClientStore> clients_;
  std::unique_ptr<PipelineStore> pipelines_;
  std::unique_ptr<LocalDirBlobStore> blobs_;
  std::unique_ptr<TimelineStore> timeline_;
  std::unique_ptr<DealCopier> copier_;
};

// ---------------------------------------------------------------------------------------------------
// D2: the deal type

TEST_F(SeedsTest, ADealHasATypeSetChangedFilteredAndCarriedAlong) {
  auto types = pipelines_->ListDealTypes();
  ASSERT_TRUE(types.ok()) << types.status();
  std::vector<std::string> codes;
  for (const v1::DealType& t : types->deal_types()) codes.push_back(t.code());
  EXPECT_THAT(codes, ElementsAre("new_sale", "repeat_sale", "upsell", "renewal"));
  EXPECT_EQ(types->deal_types(2).name(), "Допродажа");

  v1::Deal upsell = Named("Допродажа склада");
  upsell.set_type_code("upsell");
  upsell = MustCreate(Head(), upsell);
  EXPECT_EQ(upsell.type_code(), "upsell");
  EXPECT_EQ(MustGet(upsell.id()).type_code(), "upsell");
  const v1::Deal plain = MustCreate(Head(), Named("Без типа"));
  EXPECT_EQ(plain.type_code(), "");
  // DealCreated carries it.
  std::vector<OutboxRow> rows = Outbox();
  ASSERT_FALSE(rows.empty());
  v1::DealCreated created;
  ASSERT_TRUE(rows[0].env.payload().UnpackTo(&created));
  EXPECT_EQ(created.deal().type_code(), "upsell");

  // An unknown type names the field with the allowed ones, with every other violation.
  v1::Deal bad = Named("");
  bad.set_type_code("barter");
  v1::Deal out;
  grpc::Status s = Create(Head(), bad, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(AllFields(s), ElementsAre("deal.name", "deal.type_code"));
  EXPECT_THAT(s.error_message(), HasSubstr("deal.name"));
  EXPECT_THAT(FieldViolations(FromGrpcStatus(s))[1].description, HasSubstr("new_sale, repeat_sale, upsell, renewal"));

  // Changed with update_mask type_code: DealUpdated names it, the history has it.
  v1::Deal change;
  change.set_id(plain.id());
  change.set_type_code("renewal");
  ASSERT_TRUE(Update(Head(), change, {"type_code"}, &out).ok());
  EXPECT_EQ(out.type_code(), "renewal");
  EXPECT_EQ(out.version(), 2);
  rows = Outbox();
  v1::DealUpdated updated;
  ASSERT_TRUE(rows.back().env.payload().UnpackTo(&updated));
  EXPECT_THAT(updated.changed_fields(), ElementsAre("type_code"));
  EXPECT_EQ(updated.deal().type_code(), "renewal");
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM timeline_entries WHERE deal_id = '", plain.id(),
                               "' AND field = 'type_code' AND new_value LIKE '%renewal%'")),
            1);
  change.set_type_code("nope");
  EXPECT_EQ(FirstField(Update(Head(), change, {"type_code"}, &out)), "deal.type_code");

  // The list filters on it (any of the types given), the card shows it.
  v1::DealFilter f;
  f.add_type_codes("upsell");
  EXPECT_THAT(ListAll(Head(), f, 10), ElementsAre(upsell.id()));
  f.add_type_codes("renewal");
  EXPECT_THAT(ListAll(Head(), f, 10), ElementsAre(plain.id(), upsell.id()));
  v1::ListDealsRequest req;
  *req.mutable_filter() = f;
  v1::ListDealsResponse resp;
  ASSERT_TRUE(List(Head(), req, &resp).ok());
  EXPECT_EQ(resp.deals(1).type_code(), "upsell");
  req.mutable_filter()->add_type_codes("barter");
  EXPECT_EQ(FirstField(List(Head(), req, &resp)), "filter.type_codes[2]");

  // A copy takes the type; a partner copy does not.
  v1::CopyDealRequest copy;
  copy.set_id(upsell.id());
  auto copied = copier_->Copy(As(ClientsManager()), copy, "");
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(copied->type_code(), "upsell");
  copy.set_redacted(true);
  copied = copier_->Copy(As(ClientsManager()), copy, "");
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(copied->type_code(), "");
}

// ---------------------------------------------------------------------------------------------------
// D3: custom field values in the query string

TEST_F(SeedsTest, TheListFiltersOnCustomFieldsGivenAsCodeAndValue) {
  auto with = [&](const std::string& name, const std::string& type, const std::string& area) {
    v1::Deal d = Named(name);
    v1::FieldValue* f = d.add_fields();
    f->set_code("object_type");
    f->set_text(type);
    f = d.add_fields();
    f->set_code("area");
    f->set_number(area);
    return MustCreate(Head(), d).id();
  };
  const std::string flat54 = with("Квартира 54", "flat", "54");
  const std::string flat70 = with("Квартира 70", "flat", "70");
  const std::string house = with("Дом", "house", "54");
  MustCreate(Head(), Named("Без полей"));
  v1::DealFilter f;
  f.add_custom_fields("object_type:flat");
  EXPECT_THAT(ListAll(Head(), f, 10), ElementsAre(flat70, flat54));
  f.add_custom_fields("area:54");
  EXPECT_THAT(ListAll(Head(), f, 10), ElementsAre(flat54));
  f.clear_custom_fields();
  f.add_custom_fields("area:54");
  EXPECT_THAT(ListAll(Head(), f, 10), ElementsAre(house, flat54));

  // Each bad one named at once: no colon, an unknown field, not an option, not a number.
  v1::ListDealsRequest req;
  for (const char* c : {"object_type", "color:red", "object_type:castle", "area:much"}) {
    req.mutable_filter()->add_custom_fields(c);
  }
  v1::ListDealsResponse resp;
  grpc::Status s = List(Head(), req, &resp);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(AllFields(s), ElementsAre("filter.custom_fields[0]", "filter.custom_fields[1]",
                                        "filter.custom_fields[2]", "filter.custom_fields[3]"));
}

// ---------------------------------------------------------------------------------------------------
// D5: e-mail duplicates whatever the case

TEST_F(SeedsTest, EmailDuplicatesAreFoundWhateverTheCase) {
  v1::Client c;
  c.set_kind(v1::Client::KIND_PERSON);
  c.set_name("Иван Петров");
  c.add_emails("Ivan.Petrov@Example.RU");
  auto made = clients_->CreateClient(As(ClientsManager()), c, false);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_THAT(made->emails(), ElementsAre("Ivan.Petrov@example.ru"));  // the mailbox as written

  v1::FindDuplicatesRequest find;
  find.set_email("ivan.petrov@EXAMPLE.ru");
  auto dups = clients_->FindDuplicates(ClientsManager(), find);
  ASSERT_TRUE(dups.ok()) << dups.status();
  ASSERT_EQ(dups->clients_size(), 1);
  EXPECT_EQ(dups->clients(0).id(), made->id());

  v1::Client again;
  again.set_kind(v1::Client::KIND_PERSON);
  again.set_name("И. Петров");
  again.add_emails("IVAN.PETROV@example.ru");
  auto refused = clients_->CreateClient(As(ClientsManager()), again, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.status().message(), HasSubstr("e-mail IVAN.PETROV@example.ru"));
  EXPECT_EQ(Count("SELECT count(*) FROM clients"), 1);
}

// ---------------------------------------------------------------------------------------------------
// D10: the history of one custom field

TEST_F(SeedsTest, TheHistoryRecordsTheOneCustomFieldThatChanged) {
  v1::Deal d = Named("С полями");
  v1::FieldValue* f = d.add_fields();
  f->set_code("object_type");
  f->set_text("flat");
  f = d.add_fields();
  f->set_code("area");
  f->set_number("54");
  d = MustCreate(Head(), d);
  v1::Deal change = d;
  change.mutable_fields(1)->set_number("61.5");
  v1::Deal out;
  ASSERT_TRUE(Update(Head(), change, {"fields"}, &out).ok());
  // A field added and one removed: each its own entry.
  change = out;
  change.mutable_fields()->DeleteSubrange(0, 1);  // object_type gone
  ASSERT_TRUE(Update(Head(), change, {"fields"}, &out).ok());

  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  const pqxx::result r = tx.exec_params(
      "SELECT field, old_value, new_value FROM timeline_entries WHERE deal_id = $1 AND kind = 5 "
      "ORDER BY create_time, id",
      d.id());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0][0].as<std::string>(), "custom.area");
  EXPECT_EQ(r[0][1].as<std::string>(), R"({"fields":[{"code":"area","number":"54"}]})");
  EXPECT_EQ(r[0][2].as<std::string>(), R"({"fields":[{"code":"area","number":"61.5"}]})");
  EXPECT_EQ(r[1][0].as<std::string>(), "custom.object_type");
  EXPECT_EQ(r[1][1].as<std::string>(), R"({"fields":[{"code":"object_type","text":"flat"}]})");
  EXPECT_EQ(r[1][2].as<std::string>(), "{}");
}

// ---------------------------------------------------------------------------------------------------
// D4: one definition of "a comment", and the client's phone

TEST_F(SeedsTest, ACommentSinceTheStageWasEnteredOrWithTheMoveMeetsTheGate) {
  // A comment written in «Неразобранное» meets «Квалифицирован»'s gate without one in the move.
  v1::Deal d = ReadyButForAComment("Комментарий заранее");
  EXPECT_FALSE(d.comment_since_stage_entry());
  EXPECT_FALSE(d.has_last_comment_time());
  ASSERT_NO_FATAL_FAILURE(Comment(d.id(), "Клиент подтвердил бюджет"));
  const absl::Time commented = clock_.Now();
  v1::Deal now = MustGet(d.id());
  EXPECT_TRUE(now.comment_since_stage_entry());
  EXPECT_EQ(FromProtoTimestamp(now.last_comment_time()), commented);
  EXPECT_EQ(now.version(), d.version());  // a comment is no change of the deal
  clock_.Advance(absl::Minutes(1));
  v1::Deal moved;
  grpc::Status s = MoveTo(d.id(), kQualified, "", &moved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // In «Квалифицирован» that comment is from before: none since the stage was entered.
  EXPECT_FALSE(moved.comment_since_stage_entry());
  EXPECT_EQ(FromProtoTimestamp(moved.last_comment_time()), commented);

  // Back, and forward again: the old comment no longer counts.
  ASSERT_TRUE(MoveTo(d.id(), kNew).ok());
  s = MoveTo(d.id(), kQualified);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "stage «Квалифицирован» requires: a comment");
  EXPECT_THAT(AllFields(s), ElementsAre("comment"));
  // A comment with the move meets it and is a comment in the new stage, in the event too.
  const absl::Time move_time = clock_.Now();
  s = MoveTo(d.id(), kQualified, "Договорились о встрече", &moved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(moved.comment_since_stage_entry());
  EXPECT_EQ(FromProtoTimestamp(moved.last_comment_time()), move_time);
  EXPECT_TRUE(MustGet(d.id()).comment_since_stage_entry());
  v1::DealStageChanged sc;
  for (const OutboxRow& row : Outbox()) {
    if (row.type == kDealStageChangedType) {
      ASSERT_TRUE(row.env.payload().UnpackTo(&sc));
    }
  }
  EXPECT_TRUE(sc.deal().comment_since_stage_entry());

  // A comment written after the move counts in the stage as well.
  v1::Deal other = ReadyButForAComment("Комментарий после");
  ASSERT_NO_FATAL_FAILURE(Comment(other.id(), "Первый звонок"));
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(MoveTo(other.id(), kQualified).ok());
  EXPECT_FALSE(MustGet(other.id()).comment_since_stage_entry());
  ASSERT_NO_FATAL_FAILURE(Comment(other.id(), "Перезвонить в пятницу"));
  EXPECT_TRUE(MustGet(other.id()).comment_since_stage_entry());
}

TEST_F(SeedsTest, AGatesPhoneIsTheClientsPhone) {
  // kOther's stage asks for the client's phone (seed 001's «телефон»).
  Sql(absl::StrCat("UPDATE stages SET gates = '{\"requiredFields\": [\"client.phone\"]}' WHERE id = '", kOtherStage,
                   "'; UPDATE pipelines SET version = version + 1 WHERE id = '", kOther, "'"));
  v1::Deal d = MustCreate(Head(), Named("Телефон клиента"));
  grpc::Status s = MoveTo(d.id(), kOtherStage, "", nullptr, kOther);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "stage «Новая» requires: client.phone");
  EXPECT_THAT(AllFields(s), ElementsAre("client.phone"));

  // A client without a phone does not meet it; with one it does.
  v1::Client c;
  c.set_kind(v1::Client::KIND_COMPANY);
  c.set_name("ООО Без телефона");
  c.add_emails("office@example.ru");
  auto client = clients_->CreateClient(As(ClientsManager()), c, false);
  ASSERT_TRUE(client.ok()) << client.status();
  v1::Deal change;
  change.set_id(d.id());
  change.set_client_id(client->id());
  v1::Deal out;
  ASSERT_TRUE(Update(Head(), change, {"client_id"}, &out).ok());
  s = MoveTo(d.id(), kOtherStage, "", nullptr, kOther);
  EXPECT_EQ(s.error_message(), "stage «Новая» requires: client.phone");
  v1::Client phoned = *client;
  phoned.add_phones("+7 916 123-45-67");
  google::protobuf::FieldMask mask;
  mask.add_paths("phones");
  ASSERT_TRUE(clients_->UpdateClient(As(ClientsManager()), phoned, mask).ok());
  s = MoveTo(d.id(), kOtherStage, "", &out, kOther);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.stage_id(), kOtherStage);

  // A pipeline may name it in a gate; "phone" alone stays unknown.
  v1::Pipeline p;
  p.set_name("С телефоном");
  for (auto [name, kind] : std::vector<std::pair<const char*, v1::Stage::Kind>>{
           {"Новая", v1::Stage::KIND_OPEN}, {"Успех", v1::Stage::KIND_WON}, {"Отказ", v1::Stage::KIND_LOST}}) {
    v1::Stage* st = p.add_stages();
    st->set_name(name);
    st->set_kind(kind);
  }
  p.mutable_stages(0)->mutable_gates()->add_required_fields("client.phone");
  p.mutable_stages(0)->mutable_gates()->add_required_fields("type_code");
  auto made = pipelines_->Create(p);
  ASSERT_TRUE(made.ok()) << made.status();
  p.mutable_stages(0)->mutable_gates()->add_required_fields("phone");
  EXPECT_THAT(Fields(pipelines_->Create(p).status()), ElementsAre("pipeline.stages[0].gates.required_fields"));
}

}  // namespace
}  // namespace crm::deals
