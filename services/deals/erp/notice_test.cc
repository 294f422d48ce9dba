// File: services/deals/erp/notice_test.cc
// The accountant's e-mail about a signed document (notices.h) against a real SMTP listener
// (tests/fakes/smtp_sink.py, started as a child process) on a real PostgreSQL: delivered once and
// recorded with its event; the worker killed with SIGKILL in the middle of the DATA of its message
// (crm-erp-notice-probe, through a proxy that stalls the conversation there) — the server stores
// nothing of it and the next worker, once the lease is over, delivers it exactly once; a transient 451
// retried after the backoff; a permanent 550 given up with its event. Times come from ManualClocks.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/events/schema.h"
#include "libs/mail/mail.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "proto/crm/deals/v1/erp_event_types.h"
#include "services/deals/erp/document_store.h"
#include "services/deals/erp/notices.h"
#include "services/deals/erp/settings_store.h"
#include "services/deals/erp/wiring.h"
#include "tests/support/process.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::erp {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

constexpr char kPipeline[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kStage[] = "01900000-0000-7000-8000-00000000d001";
constexpr char kDeal[] = "01900000-0000-7000-8000-00000000de01";
constexpr char kAccountant[] = "buh@example.com";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A running smtp_sink with a directory of its own (as libs/mail/mail_test.cc starts it).
class Sink {
 public:
  static std::unique_ptr<Sink> Start(const std::vector<std::string>& extra = {}) {
    std::string tmpl = ::testing::TempDir() + "erp_sink_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) return nullptr;
    auto sink = std::unique_ptr<Sink>(new Sink());
    sink->dir_ = buf.data();
    std::vector<std::string> argv = {CRM_PYTHON, CRM_SMTP_SINK, "--dir", sink->dir_, "--port", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = testing::Process::Spawn(argv);
    if (!p.ok()) return nullptr;
    sink->process_ = std::move(*p);
    auto line = sink->process_->ReadLineStartingWith("smtp_sink listening on 127.0.0.1:", absl::Seconds(20));
    if (!line.ok()) return nullptr;
    sink->port_ = std::stoi(line->substr(line->rfind(':') + 1));
    return sink;
  }
  ~Sink() {
    if (process_ != nullptr) {
      process_->Kill(SIGKILL);
      (void)process_->Wait(absl::Seconds(10));
    }
    if (!dir_.empty()) (void)system(("rm -rf '" + dir_ + "'").c_str());
  }
  int port() const { return port_; }
  std::string url() const { return absl::StrCat("smtp://127.0.0.1:", port_); }
  std::vector<std::string> Index() const {
    std::vector<std::string> out;
    for (absl::string_view l : absl::StrSplit(ReadFile(dir_ + "/index.jsonl"), '\n', absl::SkipEmpty())) {
      out.emplace_back(l);
    }
    return out;
  }
  std::string Message(int n) const { return ReadFile(absl::StrCat(dir_, "/", n, ".eml")); }

 private:
  Sink() = default;
  std::unique_ptr<testing::Process> process_;
  std::string dir_;
  int port_ = 0;
};

// A TCP proxy in front of the sink for ONE connection that stalls it in the middle of the message: once
// the server has said 354 (go ahead with the DATA), it forwards the client's first `keep` bytes of the
// message and then nothing more, so the client waits for a reply that never comes. When the client goes
// away (killed), the proxy closes the server's side too: the server sees the DATA cut short.
class StallingProxy {
 public:
  explicit StallingProxy(int upstream_port, size_t keep = 64) : upstream_port_(upstream_port), keep_(keep) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(listen_fd_, 4) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "proxy: cannot listen";
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~StallingProxy() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    thread_.join();
  }
  std::string url() const { return absl::StrCat("smtp://127.0.0.1:", port_); }
  bool stalled() const { return stalled_.load(); }
  bool done() const { return done_.load(); }

 private:
  void Run() {
    const int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) {
      done_ = true;
      return;
    }
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (connect(server, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(client);
      done_ = true;
      return;
    }
    bool data_started = false;
    size_t forwarded = 0;
    char buf[4096];
    for (;;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(fds, 2, 100) < 0) break;
      if (fds[1].revents & (POLLIN | POLLHUP)) {
        const ssize_t n = read(server, buf, sizeof(buf));
        if (n <= 0) break;
        if (absl::StrContains(absl::string_view(buf, n), "354")) data_started = true;
        if (write(client, buf, n) != n) break;
      }
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        const ssize_t n = read(client, buf, sizeof(buf));
        if (n <= 0) break;  // the client is gone
        size_t send = static_cast<size_t>(n);
        if (data_started) {
          send = forwarded >= keep_ ? 0 : std::min(send, keep_ - forwarded);
          forwarded += send;
          if (forwarded >= keep_) stalled_ = true;
        }
        if (send > 0 && write(server, buf, send) != static_cast<ssize_t>(send)) break;
      }
    }
    close(client);
    close(server);
    done_ = true;
  }

  int listen_fd_ = -1;
  int port_ = 0;
  const int upstream_port_;
  const size_t keep_;
  std::atomic<bool> stalled_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

class NoticeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("derpmail");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), ErpMigrations().begin(), ErpMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    clock_.Set(absl::FromUnixSeconds(1'772'434'800));
    db_->Exec(absl::StrCat(
        "INSERT INTO pipelines (id, name) VALUES ('", kPipeline, "', 'Продажа');",
        "INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kStage, "', '", kPipeline,
        "', 1, 'Новая', 1);",
        "INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, amount_minor) VALUES ('", kDeal,
        "', 'Поставка насосов', '", kPipeline, "', '", kStage, "', 1, '01900000-0000-7000-8000-00000000a001', 100);",
        "UPDATE erp_settings SET accountant_emails = ARRAY['Бухгалтерия <", kAccountant, ">'] WHERE id = 1;"));
    // 1C signs an УПД: its notice is queued.
    Principal one_c;
    one_c.set_kind(Principal::KIND_API_KEY);
    one_c.add_permissions("erp.sync");
    DocumentStore documents(*pool_, clock_);
    v1::BatchUpsertDocumentsRequest req;
    v1::Document* d = req.add_documents();
    d->set_external_id("1c-upd-1");
    d->set_deal_id(kDeal);
    d->set_kind(v1::Document::UPD);
    d->set_number("У-17");
    d->set_date("2026-03-05");
    d->mutable_amount()->set_amount_minor(62'000'000);
    d->set_status(v1::Document::SIGNED);
    auto r = documents.Upsert(Actor{.principal = one_c}, req);
    ASSERT_TRUE(r.ok()) << r.status();
    document_id_ = r->ids(0);
  }
  std::unique_ptr<mail::SmtpMailer> Mailer(const std::string& url) {
    auto m = mail::SmtpMailer::Create({.url = url, .timeout = absl::Seconds(20)});
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? std::move(*m) : nullptr;
  }
  int64_t Count(const std::string& sql) { return db_->Count(sql); }
  std::string State() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    pqxx::row r = tx.exec_params1("SELECT state, attempts, last_error FROM erp_mail_queue WHERE document_id = $1",
                                  document_id_);
    return absl::StrCat(r[0].c_str(), "/", r[1].c_str(), "/", r[2].c_str());
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  ManualClock clock_{absl::UnixEpoch()};
  std::string document_id_;
};

TEST_F(NoticeTest, TheAccountantGetsTheSignedDocumentOnce) {
  auto sink = Sink::Start();
  ASSERT_NE(sink, nullptr);
  auto mailer = Mailer(sink->url());
  NoticeSender sender(*pool_, clock_, *mailer, {.default_from = "CRM <crm@example.com>"});
  absl::StatusOr<int> sent = sender.RunOnce();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 1);
  EXPECT_EQ(*sender.RunOnce(), 0);
  const std::vector<std::string> index = sink->Index();
  ASSERT_EQ(index.size(), 1u);
  EXPECT_TRUE(absl::StrContains(index[0], absl::StrCat("\"rcpt_to\": [\"", kAccountant, "\"]"))) << index[0];
  EXPECT_TRUE(absl::StrContains(index[0], "\"mail_from\": \"crm@example.com\"")) << index[0];
  EXPECT_TRUE(absl::StrContains(sink->Message(1), absl::StrCat("Message-ID: <document.", document_id_, "@deals.crm>")));
  EXPECT_EQ(State(), "2/1/");
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", v1::kDocumentAccountantNotifiedType,
                               "' AND aggregateid = '", document_id_, "'")),
            1);
}

TEST_F(NoticeTest, AWorkerKilledMidSendLeavesItToTheNextWhichDeliversItExactlyOnce) {
  auto sink = Sink::Start();
  ASSERT_NE(sink, nullptr);
  {
    StallingProxy proxy(sink->port());
    auto probe = testing::Process::Spawn({CRM_ERP_NOTICE_PROBE, db_->dsn(), proxy.url(),
                                          absl::StrCat(absl::ToUnixMicros(clock_.Now()))});
    ASSERT_TRUE(probe.ok()) << probe.status();
    ASSERT_TRUE((*probe)->ReadLineStartingWith("ready", absl::Seconds(20)).ok());
    // In the middle of the message's DATA: the worker has claimed the notice and is sending it.
    ASSERT_TRUE(testing::WaitFor([&] { return proxy.stalled(); }, absl::Seconds(30)));
    (*probe)->Kill(SIGKILL);
    ASSERT_TRUE((*probe)->Wait(absl::Seconds(10)).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return proxy.done(); }, absl::Seconds(10)));
  }
  // The server kept nothing of the interrupted message; the notice is claimed (attempt 1) until its lease ends.
  EXPECT_TRUE(sink->Index().empty());
  EXPECT_EQ(State(), "1/1/");
  auto mailer = Mailer(sink->url());
  NoticeSender sender(*pool_, clock_, *mailer);
  EXPECT_EQ(*sender.RunOnce(), 0);  // still leased to the dead worker
  clock_.Advance(NoticeOptions().lease);
  absl::StatusOr<int> sent = sender.RunOnce();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 1);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(*sender.RunOnce(), 0);
  ASSERT_EQ(sink->Index().size(), 1u);
  EXPECT_TRUE(absl::StrContains(sink->Message(1), absl::StrCat("Message-ID: <document.", document_id_, "@deals.crm>")));
  EXPECT_EQ(State(), "2/2/");
}

TEST_F(NoticeTest, ATransientRefusalIsRetriedAfterTheBackoff) {
  auto sink = Sink::Start({"--fail-next-data", "1"});
  ASSERT_NE(sink, nullptr);
  auto mailer = Mailer(sink->url());
  NoticeSender sender(*pool_, clock_, *mailer);
  EXPECT_EQ(*sender.RunOnce(), 0);
  EXPECT_TRUE(absl::StartsWith(State(), "1/1/")) << State();
  EXPECT_NE(State(), "1/1/");  // the error is kept
  clock_.Advance(absl::Seconds(29));
  EXPECT_EQ(*sender.RunOnce(), 0);  // not due yet
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*sender.RunOnce(), 1);
  EXPECT_EQ(sink->Index().size(), 1u);
  EXPECT_EQ(State(), "2/2/");
}

TEST_F(NoticeTest, APermanentRefusalIsGivenUpWithItsEvent) {
  auto sink = Sink::Start({"--fail-rcpt", absl::StrCat(kAccountant, "=550")});
  ASSERT_NE(sink, nullptr);
  auto mailer = Mailer(sink->url());
  NoticeSender sender(*pool_, clock_, *mailer);
  EXPECT_EQ(*sender.RunOnce(), 0);
  EXPECT_TRUE(absl::StartsWith(State(), "3/1/")) << State();
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(*sender.RunOnce(), 0);
  EXPECT_TRUE(absl::StartsWith(State(), "3/1/")) << State();
  EXPECT_TRUE(sink->Index().empty());
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", v1::kDocumentAccountantNoticeFailedType,
                               "'")),
            1);
}

}  // namespace
}  // namespace crm::deals::erp
