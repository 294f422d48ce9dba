// File: services/deals/erp/notice_probe.cc
// crm-erp-notice-probe: the accountant's notice worker (notices.h) in a process of its own, so a test can
// kill it with SIGKILL in the middle of an SMTP conversation (notice_test.cc). Test tool only.
//
//   crm-erp-notice-probe DSN SMTP_URL NOW_UNIX_MICROS
//
// Runs one NoticeSender::RunOnce at the given time (a ManualClock) against the database DSN and the SMTP
// server SMTP_URL, printing "ready" first and "sent <n>" at the end; exit 0, or 1 with the error.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "libs/base/clock.h"
#include "libs/mail/mail.h"
#include "libs/pg/pool.h"
#include "services/deals/erp/notices.h"

int main(int argc, char** argv) {
  int64_t now_micros = 0;
  if (argc != 4 || !absl::SimpleAtoi(argv[3], &now_micros)) {
    std::fprintf(stderr, "usage: crm-erp-notice-probe DSN SMTP_URL NOW_UNIX_MICROS\n");
    return 2;
  }
  auto pool = crm::pg::Pool::Create({.dsn = argv[1], .size = 1});
  auto mailer = crm::mail::SmtpMailer::Create({.url = argv[2]});
  if (!pool.ok() || !mailer.ok()) {
    std::fprintf(stderr, "crm-erp-notice-probe: %s %s\n", std::string(pool.status().ToString()).c_str(),
                 std::string(mailer.status().ToString()).c_str());
    return 1;
  }
  crm::ManualClock clock(absl::FromUnixMicros(now_micros));
  crm::deals::erp::NoticeSender sender(**pool, clock, **mailer);
  std::printf("ready\n");
  std::fflush(stdout);
  absl::StatusOr<int> sent = sender.RunOnce();
  if (!sent.ok()) {
    std::fprintf(stderr, "crm-erp-notice-probe: %s\n", std::string(sent.status().ToString()).c_str());
    return 1;
  }
  std::printf("sent %d\n", *sent);
  return 0;
}
