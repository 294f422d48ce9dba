// The reference store on a real PostgreSQL: dated documents answer "as of a date", catalogue versions,
// validation naming the field, idempotent creates, and a second replica seeing the first one's changes.
#include "services/mortgage/store.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "proto/crm/common/v1/common.pb.h"
#include "services/mortgage/demo.h"

namespace crm {
const std::vector<crm::pg::Migration>& MortgageMigrations();
}  // namespace crm

namespace crm::mortgage {
namespace {

using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("mortgage_store");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(pg::Migrate(db_->dsn(), MortgageMigrations()).ok());
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    store_ = std::make_unique<ReferenceStore>(*pool_, clock_, ReferenceStoreOptions{.refresh = absl::Hours(1)});
    caller_.set_id("0190a1b2-0000-7000-8000-00000000aa01");
    caller_.add_permissions("mortgage.manage");
  }

  v1::Bank MakeBank(const std::string& code) {
    v1::Bank b;
    b.set_code(code);
    b.set_name("Банк " + code);
    b.set_decision_days(3);
    auto created = store_->CreateBank(caller_, b, "");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Bank();
  }

  v1::Program MakeProgram(const v1::Bank& bank) {
    v1::Program p;
    p.set_bank_id(bank.id());
    p.set_code("000000039");
    p.set_name("Квартира в новостройке. Классическая ипотека");
    p.set_kind(v1::PROGRAM_KIND_CLASSIC);
    v1::Scheme* s = p.add_schemes();
    s->set_code("S1");
    s->set_valid_from("2026-01-01");
    auto created = store_->CreateProgram(caller_, p, "");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Program();
  }

  absl::StatusOr<v1::RateDocument> PostRate(const v1::Program& p, const std::string& date, const std::string& rate,
                                            v1::Operation op = v1::OPERATION_SET) {
    v1::RateDocument d;
    d.set_date(date);
    d.set_operation(op);
    d.set_bank_id(p.bank_id());
    d.set_program_id(p.id());
    d.set_scheme_code("S1");
    if (op == v1::OPERATION_SET) {
      v1::RateCell* cell = d.add_cells();
      cell->set_rate(rate);
      v1::Predicate* when = cell->add_when();
      when->set_parameter(v1::PARAMETER_DOWN_PAYMENT_SHARE);
      when->set_min(2000);
    }
    return store_->PostRateDocument(caller_, d, "");
  }

  // The rate the program's first cell has on `day`; "" when there is none.
  std::string RateOn(ReferenceStore& store, absl::CivilDay day) {
    auto snapshot = store.Current();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    if (!snapshot.ok()) return "?";
    auto ref = (*snapshot)->At(day);
    EXPECT_TRUE(ref.ok()) << ref.status();
    if (!ref.ok() || (*ref)->banks.empty() || (*ref)->banks[0].programs.empty()) return "";
    const ProgramTerms& p = (*ref)->banks[0].programs[0];
    return p.cells.empty() ? "" : FormatRate(p.cells[0].rate);
  }

  ManualClock clock_{absl::FromCivil(absl::CivilSecond(2026, 11, 25, 9, 0, 0), absl::UTCTimeZone())};
  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<ReferenceStore> store_;
  crm::common::v1::Principal caller_;
};

TEST_F(StoreTest, RatesAsOfADateFollowTheLatestDocument) {
  v1::Bank bank = MakeBank("00000014");
  v1::Program program = MakeProgram(bank);
  ASSERT_TRUE(PostRate(program, "2026-01-01", "0.2").ok());
  ASSERT_TRUE(PostRate(program, "2026-06-01", "0.18").ok());
  ASSERT_TRUE(PostRate(program, "2026-09-01", "", v1::OPERATION_CANCEL).ok());

  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2025, 12, 31)), "");  // before the first document
  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2026, 3, 1)), "0.2");
  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2026, 6, 1)), "0.18");   // effective on its own date
  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2026, 8, 31)), "0.18");
  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2026, 9, 1)), "");      // cancelled

  // A correction registered later for an earlier date wins on that date: the log is append-only.
  ASSERT_TRUE(PostRate(program, "2026-03-01", "0.195").ok());
  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2026, 2, 28)), "0.2");
  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2026, 3, 1)), "0.195");
}

TEST_F(StoreTest, StopFactorsAndPtiAsOfADate) {
  v1::Bank bank = MakeBank("00000015");
  MakeProgram(bank);
  v1::StopFactorDocument sf;
  sf.set_date("2026-01-01");
  sf.set_operation(v1::OPERATION_SET);
  sf.set_bank_id(bank.id());
  v1::StopFactor* f = sf.add_factors();
  f->set_code("AGE_BELOW_20");
  f->set_text("Возраст <20");
  f->set_parameter(v1::PARAMETER_AGE);
  f->set_max(19);
  auto posted = store_->PostStopFactorDocument(caller_, sf, "");
  ASSERT_TRUE(posted.ok()) << posted.status();
  EXPECT_FALSE(posted->number().empty());
  sf.set_date("2026-07-01");
  sf.set_operation(v1::OPERATION_CANCEL);
  sf.clear_factors();
  ASSERT_TRUE(store_->PostStopFactorDocument(caller_, sf, "").ok());

  v1::PtiDocument pti;
  pti.set_date("2026-02-01");
  auto* e = pti.add_entries();
  e->set_bank_id(bank.id());
  e->set_coefficient("0.8");
  ASSERT_TRUE(store_->PostPtiDocument(caller_, pti, "").ok());

  auto snapshot = store_->Current();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  auto march = (*snapshot)->At(absl::CivilDay(2026, 3, 1));
  ASSERT_TRUE(march.ok()) << march.status();
  ASSERT_EQ((*march)->banks.size(), 1u);
  ASSERT_EQ((*march)->banks[0].stop_factors.size(), 1u);
  EXPECT_EQ((*march)->banks[0].stop_factors[0].code, "AGE_BELOW_20");
  ASSERT_TRUE((*march)->banks[0].pti_coefficient.has_value());
  EXPECT_EQ(FormatRate(*(*march)->banks[0].pti_coefficient), "0.8");
  auto january = (*snapshot)->At(absl::CivilDay(2026, 1, 15));
  ASSERT_TRUE(january.ok());
  EXPECT_FALSE((*january)->banks[0].pti_coefficient.has_value());
  auto august = (*snapshot)->At(absl::CivilDay(2026, 8, 1));
  ASSERT_TRUE(august.ok());
  EXPECT_TRUE((*august)->banks[0].stop_factors.empty());
}

TEST_F(StoreTest, BadInputNamesTheField) {
  v1::Bank bank;
  bank.set_name("Без кода");
  auto s = store_->CreateBank(caller_, bank, "");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("bank.code"));

  v1::Bank ok = MakeBank("00000016");
  v1::Program p;
  p.set_bank_id(ok.id());
  p.set_code("1");
  p.set_name("Программа");
  p.set_kind(v1::PROGRAM_KIND_CLASSIC);
  p.add_schemes()->set_code("S1");
  p.mutable_schemes(0)->set_valid_from("2026-13-01");
  auto ps = store_->CreateProgram(caller_, p, "");
  EXPECT_EQ(ps.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ps.status().message()), HasSubstr("program.schemes[0].valid_from"));

  p.mutable_schemes(0)->set_valid_from("2026-01-01");
  p.set_bank_id("0190a1b2-0000-7000-8000-0000000000ff");
  EXPECT_EQ(store_->CreateProgram(caller_, p, "").status().code(), absl::StatusCode::kNotFound);

  v1::Program program = MakeProgram(ok);
  v1::RateDocument d;
  d.set_date("2026-01-01");
  d.set_operation(v1::OPERATION_SET);
  d.set_bank_id(ok.id());
  d.set_program_id(program.id());
  d.set_scheme_code("NOPE");
  d.add_cells()->set_rate("0.2");
  auto ds = store_->PostRateDocument(caller_, d, "");
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr("document.scheme_code"));
  d.set_scheme_code("S1");
  d.mutable_cells(0)->set_rate("12%");
  ds = store_->PostRateDocument(caller_, d, "");
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr("document.cells[0].rate"));
  // Nothing half-written: the catalogue has no rate document.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM rate_documents"), 0);
}

std::vector<std::string> FieldsOf(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& f : FieldViolations(s)) out.push_back(f.field);
  return out;
}

// Issue 16: the reference's validators name every bad field at once, not the first.
TEST_F(StoreTest, EveryBadFieldIsNamedAtOnce) {
  v1::Bank bank;
  bank.set_decision_days(-1);
  bank.add_application_emails("ipoteka@bank.ru");
  bank.add_application_emails("нет почты");
  absl::Status s = store_->CreateBank(caller_, bank, "").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(s), (std::vector<std::string>{"bank.code", "bank.name", "bank.decision_days",
                                                   "bank.application_emails[1]"}));
  EXPECT_THAT(std::string(s.message()), HasSubstr("bank.code: is required (and 3 more)"));

  v1::Program p;
  p.set_bank_id("not-a-uuid");
  p.set_kind(v1::PROGRAM_KIND_FAMILY);
  p.mutable_limits()->set_max_term_months(700);
  v1::Scheme* scheme = p.add_schemes();
  scheme->set_code("S1");
  scheme->set_valid_from("2026-02-01");
  scheme->set_valid_to("2026-01-01");
  EXPECT_EQ(FieldsOf(store_->CreateProgram(caller_, p, "").status()),
            (std::vector<std::string>{"program.bank_id", "program.code", "program.name",
                                      "program.limits.max_term_months", "program.schemes[0].valid_to",
                                      "program.family.limit", "program.family.market_rate"}));

  v1::RateDocument d;
  d.set_date("2026-02-30");
  d.set_bank_id("x");
  d.set_program_id("y");
  d.set_scheme_code("S1");
  d.add_cells()->set_rate("12%");
  d.mutable_cells(0)->add_when()->set_parameter(v1::PARAMETER_AGE);
  EXPECT_EQ(FieldsOf(store_->PostRateDocument(caller_, d, "").status()),
            (std::vector<std::string>{"document.date", "document.operation", "document.bank_id",
                                      "document.program_id", "document.cells[0].rate",
                                      "document.cells[0].when[0]"}));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM banks"), 0);
}

TEST_F(StoreTest, VersionsIdempotencyAndDuplicates) {
  v1::Bank b;
  b.set_code("00000018");
  b.set_name("ВТБ");
  auto first = store_->CreateBank(caller_, b, "key-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = store_->CreateBank(caller_, b, "key-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM banks"), 1);
  EXPECT_EQ(store_->CreateBank(caller_, b, "key-2").status().code(), absl::StatusCode::kAlreadyExists);

  v1::UpdateBankRequest update;
  *update.mutable_bank() = *first;
  update.mutable_bank()->set_decision_days(5);
  update.mutable_update_mask()->add_paths("*");
  auto updated = store_->UpdateBank(caller_, update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2);
  EXPECT_EQ(store_->UpdateBank(caller_, update).status().code(), absl::StatusCode::kAborted);  // stale version 1
}

// Issue 16: a PATCH changes only what update_mask names (nested paths too, lists replaced whole), an
// unknown path is 400 naming update_mask, version 0 is "any version", a stale one ABORTED.
TEST_F(StoreTest, UpdatesChangeOnlyTheMaskedFieldsAndHonourVersions) {
  v1::Bank b;
  b.set_code("00000030");
  b.set_name("ВТБ");
  b.set_legal_name("Банк ВТБ (ПАО)");
  b.set_decision_days(3);
  b.add_application_emails("ipoteka@vtb.example");
  b.mutable_profile()->set_interest_rounding(v1::ConventionProfile::ROUNDING_TRUNCATE);
  auto bank = store_->CreateBank(caller_, b, "");
  ASSERT_TRUE(bank.ok()) << bank.status();

  v1::UpdateBankRequest req;
  req.mutable_bank()->set_id(bank->id());
  req.mutable_bank()->set_decision_days(5);
  req.mutable_bank()->mutable_profile()->set_accrual(v1::ConventionProfile::ACCRUAL_ACTUAL_DAYS);
  req.mutable_update_mask()->add_paths("decision_days");
  req.mutable_update_mask()->add_paths("profile.accrual");
  req.mutable_update_mask()->add_paths("version");  // ignored: it guards, it is not changed
  auto patched = store_->UpdateBank(caller_, req);  // version 0: whatever is stored
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(patched->decision_days(), 5);
  EXPECT_EQ(patched->name(), "ВТБ");  // not in the mask: kept (it was cleared before)
  EXPECT_EQ(patched->legal_name(), "Банк ВТБ (ПАО)");
  EXPECT_EQ(patched->application_emails_size(), 1);
  EXPECT_EQ(patched->profile().accrual(), v1::ConventionProfile::ACCRUAL_ACTUAL_DAYS);
  EXPECT_EQ(patched->profile().interest_rounding(),
            v1::ConventionProfile::ROUNDING_TRUNCATE);  // a sibling kept
  EXPECT_EQ(patched->version(), 2);

  req.clear_update_mask();
  req.mutable_update_mask()->add_paths("application_emails");  // a list: replaced whole
  req.mutable_bank()->add_application_emails("new@vtb.example");
  req.mutable_bank()->set_version(2);
  patched = store_->UpdateBank(caller_, req);
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(
      std::vector<std::string>(patched->application_emails().begin(), patched->application_emails().end()),
      std::vector<std::string>{"new@vtb.example"});
  EXPECT_EQ(patched->decision_days(), 5);
  EXPECT_EQ(store_->UpdateBank(caller_, req).status().code(), absl::StatusCode::kAborted);  // 2 is stale now

  req.clear_update_mask();
  req.mutable_update_mask()->add_paths("decision_dayz");
  req.mutable_update_mask()->add_paths("profile.nope");
  absl::Status unknown = store_->UpdateBank(caller_, req).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(unknown), (std::vector<std::string>{"update_mask", "update_mask"}));
  req.clear_update_mask();
  EXPECT_EQ(FieldsOf(store_->UpdateBank(caller_, req).status()), std::vector<std::string>{"update_mask"});
  req.mutable_update_mask()->add_paths("name");  // the result is validated whole: an empty name is refused
  req.mutable_bank()->set_version(0);
  EXPECT_EQ(FieldsOf(store_->UpdateBank(caller_, req).status()), std::vector<std::string>{"bank.name"});

  v1::Program program = MakeProgram(*bank);
  v1::UpdateProgramRequest preq;
  preq.mutable_program()->set_id(program.id());
  preq.mutable_program()->set_name("Новое имя");
  preq.mutable_program()->set_bank_id("0190a1b2-0000-7000-8000-0000000000ff");  // ignored: a program stays
  preq.mutable_update_mask()->add_paths("name");
  preq.mutable_update_mask()->add_paths("bank_id");
  auto renamed = store_->UpdateProgram(caller_, preq);
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->name(), "Новое имя");
  EXPECT_EQ(renamed->bank_id(), bank->id());
  ASSERT_EQ(renamed->schemes_size(), 1);  // not in the mask: kept
  EXPECT_EQ(renamed->schemes(0).id(), program.schemes(0).id());
  EXPECT_EQ(renamed->version(), 2);
}

TEST_F(StoreTest, AnotherReplicaSeesChangesAfterItsRefresh) {
  ReferenceStore replica(*pool_, clock_, ReferenceStoreOptions{.refresh = absl::ZeroDuration()});
  v1::Bank bank = MakeBank("00000020");
  v1::Program program = MakeProgram(bank);
  ASSERT_TRUE(PostRate(program, "2026-01-01", "0.21").ok());
  EXPECT_EQ(RateOn(replica, absl::CivilDay(2026, 11, 25)), "0.21");
  ASSERT_TRUE(PostRate(program, "2026-11-01", "0.19").ok());
  EXPECT_EQ(RateOn(replica, absl::CivilDay(2026, 11, 25)), "0.19");
  EXPECT_EQ(RateOn(*store_, absl::CivilDay(2026, 11, 25)), "0.19");  // its own write: at once
}

TEST_F(StoreTest, ListsRateDocumentsByPages) {
  v1::Bank bank = MakeBank("00000022");
  v1::Program program = MakeProgram(bank);
  for (const char* date : {"2026-01-01", "2026-02-01", "2026-03-01"}) {
    ASSERT_TRUE(PostRate(program, date, "0.2").ok());
    clock_.Advance(absl::Seconds(1));
  }
  v1::ListRateDocumentsRequest req;
  req.set_program_id(program.id());
  req.set_page_size(2);
  auto page1 = store_->ListRateDocuments(req);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->rate_documents_size(), 2);
  EXPECT_EQ(page1->rate_documents(0).date(), "2026-03-01");  // newest registered first
  ASSERT_FALSE(page1->next_page_token().empty());
  req.set_page_token(page1->next_page_token());
  auto page2 = store_->ListRateDocuments(req);
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->rate_documents_size(), 1);
  EXPECT_EQ(page2->rate_documents(0).date(), "2026-01-01");
  EXPECT_TRUE(page2->next_page_token().empty());
}

// Issue 16: banks and programs are lists like every other — paged by keyset under the suite's page rule
// (negative refused naming page_size, 0 the default, above the maximum the maximum).
TEST_F(StoreTest, BanksAndProgramsArePagedByThePageRule) {
  ASSERT_TRUE(store_->Install(DemoCatalog()).ok());
  std::vector<std::string> names;
  v1::ListBanksRequest banks;
  banks.set_page_size(10);
  int pages = 0;
  do {
    auto page = store_->ListBanks(banks);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->banks_size(), 10);
    for (const v1::Bank& b : page->banks()) names.push_back(b.name());
    banks.set_page_token(page->next_page_token());
    ++pages;
  } while (!banks.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 25u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 25u);

  v1::ListProgramsRequest programs;
  auto first = store_->ListPrograms(programs);  // 0 = the default, 50
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->programs_size(), 50);
  EXPECT_FALSE(first->next_page_token().empty());
  programs.set_page_size(100000);  // above the maximum: the maximum, 200
  auto most = store_->ListPrograms(programs);
  ASSERT_TRUE(most.ok()) << most.status();
  EXPECT_EQ(most->programs_size(), 200);
  programs.set_page_token(most->next_page_token());
  auto rest = store_->ListPrograms(programs);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(most->programs_size() + rest->programs_size(), static_cast<int>(DemoCatalog().programs.size()));
  EXPECT_TRUE(rest->next_page_token().empty());
  EXPECT_NE(most->programs(199).id(), rest->programs(0).id());

  v1::ListBanksRequest negative;
  negative.set_page_size(-1);
  negative.set_page_token("garbage");
  const absl::Status refused = store_->ListBanks(negative).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(refused), (std::vector<std::string>{"page_size", "page_token"}));
}

TEST_F(StoreTest, InstallsTheDemoOnce) {
  auto wrote = store_->Install(DemoCatalog());
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_TRUE(*wrote);
  auto again = store_->Install(DemoCatalog());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  auto snapshot = store_->Current();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ((*snapshot)->catalog().banks.size(), 25u);
  auto ref = (*snapshot)->At(absl::CivilDay(2026, 11, 25));
  ASSERT_TRUE(ref.ok()) << ref.status();
  size_t programs = 0;
  for (const BankTerms& b : (*ref)->banks) programs += b.programs.size();
  EXPECT_GE(programs, 200u);
}

// Issue 16: a document posted without a number after the demo (whose documents carry the seed's numbers,
// PTI «000000001») gets the next free number, not 409 "the number is in use".
TEST_F(StoreTest, ADocumentWithoutANumberSkipsTheNumbersInUse) {
  ASSERT_TRUE(store_->Install(DemoCatalog()).ok());
  v1::PtiDocument pti;
  pti.set_date("2026-02-01");
  auto* e = pti.add_entries();
  e->set_bank_id(DemoBankId("00000014"));
  e->set_coefficient("0.7");
  auto posted = store_->PostPtiDocument(caller_, pti, "");
  ASSERT_TRUE(posted.ok()) << posted.status();
  EXPECT_EQ(posted->number(), "000000002");
}

}  // namespace
}  // namespace crm::mortgage
