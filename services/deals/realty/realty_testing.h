// File: services/deals/realty/realty_testing.h
// -----------------------------------------------------------------------------
// The fixture of the real-estate gRPC tests (test code only): deals' ServiceTest (a fresh database with
// the events and deals migrations, a ManualClock, a signing "gateway" key) plus the realty migrations,
// the stores on a pool of 16 connections, both services on a loopback server, and helpers that call them
// as the test's users.
#ifndef CRM_SERVICES_DEALS_REALTY_REALTY_TESTING_H_
#define CRM_SERVICES_DEALS_REALTY_REALTY_TESTING_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "crm/deals/v1/realty.grpc.pb.h"
#include "crm/deals/v1/realty_events.pb.h"
#include "services/deals/deals_testing.h"
#include "services/deals/realty/board.h"
#include "services/deals/realty/bookings.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/realty/service.h"
#include "services/deals/realty/wiring.h"

namespace crm::deals::realty::testing {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using crm::deals::fixture::User;

inline constexpr char kAnna[] = "01900000-0000-7000-8000-00000000f001";   // manager, team 1
inline constexpr char kBoris[] = "01900000-0000-7000-8000-00000000f002";  // manager, team 2
inline constexpr char kLena[] = "01900000-0000-7000-8000-00000000f003";   // team lead, team 1
inline constexpr char kHead[] = "01900000-0000-7000-8000-00000000f004";   // head of sales
inline constexpr char kTeam1[] = "01900000-0000-7000-8000-00000000e001";
inline constexpr char kTeam2[] = "01900000-0000-7000-8000-00000000e002";

inline Principal Manager(const char* id, const char* team) {
  return User(id, {"realty.read", "bookings.read.own", "bookings.write.own"}, {team});
}
inline Principal Anna() { return Manager(kAnna, kTeam1); }
inline Principal Boris() { return Manager(kBoris, kTeam2); }
inline Principal Lena() {
  return User(kLena, {"realty.read", "bookings.read.team", "bookings.write.team"}, {kTeam1});
}
inline Principal Head() {
  return User(kHead, {"realty.read", "realty.manage", "bookings.read.all", "bookings.write.all"}, {kTeam1});
}
inline Principal Reader() { return User(kHead, {"realty.read"}); }

class RealtyTest : public crm::deals::fixture::ServiceTest {
 protected:
  RealtyTest() : ServiceTest("realty") {}

  void SetUp() override {
    clock_.Set(absl::FromUnixSeconds(1'800'000'000));  // Fri 2027-01-15 08:00 UTC (11:00 in Moscow)
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    auto migrated = pg::Migrate(db_->dsn(), crm::RealtyMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 16});
    ASSERT_TRUE(pool.ok()) << pool.status();
    wide_pool_ = *std::move(pool);
    auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "2027-01-18,2027-02-23");
    ASSERT_TRUE(cal.ok()) << cal.status();
    calendar_ = std::make_unique<crm::calendar::WorkingCalendar>(*cal);
    inventory_ = std::make_unique<InventoryStore>(*wide_pool_, clock_);
    board_ = std::make_unique<BoardReader>(*wide_pool_);
    bookings_ = std::make_unique<BookingStore>(*wide_pool_, clock_, *calendar_);
    realty_service_ = std::make_unique<RealtyServiceImpl>(*inventory_, *board_);
    booking_service_ = std::make_unique<BookingServiceImpl>(*bookings_);
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_CONCURRENT_STREAMS, 64);
    channel_ = Serve({realty_service_.get(), booking_service_.get()}, args);
    realty_ = v1::RealtyService::NewStub(channel_);
    booking_ = v1::BookingService::NewStub(channel_);
    Sql(absl::StrCat("INSERT INTO user_directory (user_id, team_ids) VALUES ('", kAnna, "', '{", kTeam1,
                     "}'), ('", kBoris, "', '{", kTeam2, "}'), ('", kLena, "', '{", kTeam1, "}')"));
  }

  void TearDown() override {
    ServiceTest::TearDown();
    wide_pool_.reset();
  }

  // A client of deals (clients table), named `name`.
  std::string MakeClient(const std::string& name) {
    const std::string id = NewUuidV7();
    Sql(absl::StrCat("INSERT INTO clients (id, kind, name) VALUES ('", id, "', 2, '", name, "')"));
    return id;
  }

  // A project and a building of `sections` sections of floors 1..`floors` (as the head of sales).
  v1::Building MakeBuilding(int sections, int floors, const std::string& name = "Корпус 1") {
    v1::CreateProjectRequest pr;
    pr.mutable_project()->set_name("ЖК " + name);
    v1::Project project;
    grpc::Status s = Call(&v1::RealtyService::Stub::CreateProject, Head(), pr, &project);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::CreateBuildingRequest br;
    br.mutable_building()->set_project_id(project.id());
    br.mutable_building()->set_name(name);
    for (int i = 1; i <= sections; ++i) {
      v1::Section* sec = br.mutable_building()->add_sections();
      sec->set_number(i);
      sec->set_name(absl::StrCat("Секция ", i));
      sec->set_first_floor(1);
      sec->set_last_floor(floors);
    }
    v1::Building b;
    s = Call(&v1::RealtyService::Stub::CreateBuilding, Head(), br, &b);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return b;
  }

  // A priced unit on sale in `b` at section/floor/position.
  v1::Unit MakeUnit(const v1::Building& b, int section, int floor, int position,
                    int64_t price_minor = 1'000'000'000, int rooms = 2,
                    v1::Unit::Status status = v1::Unit::AVAILABLE) {
    v1::CreateUnitRequest req;
    v1::Unit* u = req.mutable_unit();
    u->set_building_id(b.id());
    u->set_section_number(section);
    u->set_floor(floor);
    u->set_position(position);
    u->set_number(absl::StrCat(section, floor, position));
    u->set_kind(v1::Unit::APARTMENT);
    u->set_rooms(rooms);
    u->set_area_centi_m2(5000);
    u->mutable_price()->set_amount_minor(price_minor);
    u->set_status(status);
    v1::Unit out;
    grpc::Status s = Call(&v1::RealtyService::Stub::CreateUnit, Head(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::CreateBookingRequest BookingFor(const v1::Unit& u, const std::string& client, bool queue = false) {
    v1::CreateBookingRequest req;
    req.set_unit_id(u.id());
    req.set_client_id(client);
    req.mutable_fee()->set_amount_minor(5'000'000);
    req.set_join_queue(queue);
    return req;
  }

  // Calls `method` of the RealtyService or BookingService stub as `who`.
  template <typename Stub, typename Req, typename Resp>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Principal& who, const Req& req, Resp* out,
                    const std::string& idempotency_key = "") {
    grpc::ClientContext ctx;
    As(ctx, who);
    if (!idempotency_key.empty()) ctx.AddMetadata("idempotency-key", idempotency_key);
    if constexpr (std::is_same_v<Stub, v1::RealtyService::Stub>) {
      return (realty_.get()->*method)(&ctx, req, out);
    } else {
      return (booking_.get()->*method)(&ctx, req, out);
    }
  }

  struct Event {
    std::string type, aggregate_type, aggregate_id;
    crm::events::v1::Envelope env;
  };
  // The outbox's realty events in order.
  std::vector<Event> Events() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<Event> out;
    for (const pqxx::row& r :
         tx.exec("SELECT type, aggregatetype, aggregateid, payload FROM outbox WHERE aggregatetype IN "
                 "('project', 'unit', 'booking') ORDER BY seq")) {
      Event e{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), {}};
      pqxx::binarystring raw(r[3]);
      EXPECT_TRUE(e.env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      out.push_back(std::move(e));
    }
    return out;
  }
  std::vector<std::string> EventTypes(const std::string& aggregate_id) {
    std::vector<std::string> out;
    for (const Event& e : Events()) {
      if (e.aggregate_id == aggregate_id) out.push_back(e.type);
    }
    return out;
  }

  std::unique_ptr<pg::Pool> wide_pool_;
  std::unique_ptr<crm::calendar::WorkingCalendar> calendar_;
  std::unique_ptr<InventoryStore> inventory_;
  std::unique_ptr<BoardReader> board_;
  std::unique_ptr<BookingStore> bookings_;
  std::unique_ptr<RealtyServiceImpl> realty_service_;
  std::unique_ptr<BookingServiceImpl> booking_service_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RealtyService::Stub> realty_;
  std::unique_ptr<v1::BookingService::Stub> booking_;
};

// A status as a test assertion: its code and message when it is not OK.
inline ::testing::AssertionResult Ok(const grpc::Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "code " << s.error_code() << ": " << s.error_message();
}

// The fields an INVALID_ARGUMENT names.
inline std::vector<std::string> Fields(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(FromGrpcStatus(s))) out.push_back(v.field);
  return out;
}

}  // namespace crm::deals::realty::testing

#endif  // CRM_SERVICES_DEALS_REALTY_REALTY_TESTING_H_
