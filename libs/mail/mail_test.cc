// Tests of e-mail (libs/mail/mail.h): RenderMime's output format, message and option validation,
// and real SMTP sends to tests/fakes/smtp_sink.py started as a child process (staged 550 / 451 replies,
// a port nobody listens on, a server that never greets).
#include "libs/mail/mail.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/process.h"

namespace crm::mail {
namespace {

using ::testing::HasSubstr;

// ---- helpers: reading what the sink stored ----------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Decodes RFC 2047 "=?UTF-8?B?...?=" words in an unfolded header value; whitespace between two adjacent
// encoded words is dropped, as RFC 2047 says.
std::string DecodeWords(const std::string& v) {
  std::string out;
  size_t i = 0;
  bool last_was_word = false;
  std::string pending_space;
  while (i < v.size()) {
    if (v.compare(i, 10, "=?UTF-8?B?") == 0) {
      const size_t end = v.find("?=", i + 10);
      if (end == std::string::npos) break;
      std::string raw;
      EXPECT_TRUE(absl::Base64Unescape(v.substr(i + 10, end - i - 10), &raw)) << v;
      if (!last_was_word) out += pending_space;
      pending_space.clear();
      out += raw;
      last_was_word = true;
      i = end + 2;
    } else if (v[i] == ' ' || v[i] == '\t') {
      pending_space += v[i];
      ++i;
    } else {
      out += pending_space;
      pending_space.clear();
      out += v[i];
      last_was_word = false;
      ++i;
    }
  }
  return out + pending_space;
}

struct ParsedMail {
  std::map<std::string, std::string> headers;  // unfolded, raw (still encoded)
  std::vector<std::string> header_lines;       // as sent, folded
  std::string body;                            // after the blank line
};

ParsedMail Parse(const std::string& mime) {
  ParsedMail m;
  const size_t split = mime.find("\r\n\r\n");
  EXPECT_NE(split, std::string::npos);
  const std::string head = mime.substr(0, split + 2);
  m.body = mime.substr(split + 4);
  std::string current;
  for (absl::string_view line : absl::StrSplit(head, "\r\n", absl::SkipEmpty())) {
    m.header_lines.emplace_back(line);
    if (line[0] == ' ' || line[0] == '\t') {
      current += std::string(line);
      continue;
    }
    if (!current.empty()) {
      const size_t colon = current.find(':');
      m.headers[current.substr(0, colon)] = current.substr(colon + 2);
    }
    current = std::string(line);
  }
  if (!current.empty()) {
    const size_t colon = current.find(':');
    m.headers[current.substr(0, colon)] = current.substr(colon + 2);
  }
  return m;
}

std::string DecodeBody(const std::string& body) {
  std::string joined;
  for (absl::string_view line : absl::StrSplit(body, "\r\n", absl::SkipEmpty())) {
    EXPECT_LE(line.size(), 76u);
    joined += std::string(line);
  }
  std::string raw;
  EXPECT_TRUE(absl::Base64Unescape(joined, &raw));
  return raw;
}

// A running tests/fakes/smtp_sink.py with its own directory.
class Sink {
 public:
  static std::unique_ptr<Sink> Start(const std::vector<std::string>& extra = {}) {
    std::string tmpl = ::testing::TempDir() + "smtp_sink_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return nullptr;
    }
    auto sink = std::unique_ptr<Sink>(new Sink());
    sink->dir_ = buf.data();
    std::vector<std::string> argv = {CRM_PYTHON, CRM_SMTP_SINK, "--dir", sink->dir_, "--port", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = testing::Process::Spawn(argv);
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return nullptr;
    }
    sink->process_ = std::move(*p);
    auto line = sink->process_->ReadLineStartingWith("smtp_sink listening on 127.0.0.1:", absl::Seconds(20));
    if (!line.ok()) {
      ADD_FAILURE() << "smtp_sink did not start: " << line.status();
      return nullptr;
    }
    sink->port_ = line->substr(line->rfind(':') + 1);
    return sink;
  }
  ~Sink() {
    if (process_ != nullptr) {
      process_->Kill(SIGKILL);
      (void)process_->Wait(absl::Seconds(10));
    }
    if (!dir_.empty()) (void)system(("rm -rf '" + dir_ + "'").c_str());
  }

  std::string url() const { return "smtp://127.0.0.1:" + port_; }
  const std::string& dir() const { return dir_; }
  // The lines of index.jsonl (one per stored message).
  std::vector<std::string> Index() const {
    std::vector<std::string> out;
    for (absl::string_view l : absl::StrSplit(ReadFile(dir_ + "/index.jsonl"), '\n', absl::SkipEmpty())) {
      out.emplace_back(l);
    }
    return out;
  }

 private:
  Sink() = default;
  std::unique_ptr<testing::Process> process_;
  std::string dir_;
  std::string port_;
};

std::unique_ptr<SmtpMailer> NewMailer(const std::string& url, absl::Duration timeout = absl::Seconds(20)) {
  auto m = SmtpMailer::Create({.url = url, .timeout = timeout});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

MailMessage RussianMessage() {
  return MailMessage{
      .from = "Робот CRM <robots@crm.local>",
      .to = {"Иванов Иван Петрович <ivanov@crm.local>", "rop@crm.local"},
      .subject = "Сделка «Квартира 42 на Ленинском проспекте»: нет контакта 30 минут — срочно свяжитесь",
      .text = "Здравствуйте, Иван Петрович!\n\nПо сделке «Квартира 42» нет первого контакта 30 минут.\n"
              ".Строка с точкой в начале\nhttps://crm.local/deals/01930000-0000-7000-8000-000000000001\n",
      .message_id = "exec-01930000-0000-7000-8000-000000000001.2@robots.crm.local"};
}

std::string Crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// ---- RenderMime ------------------------------------------------------------------------------------------

TEST(RenderMimeTest, HeadersAndBodyRoundTrip) {
  const MailMessage m = RussianMessage();
  const std::string mime = RenderMime(m, absl::FromUnixSeconds(1'800'000'000));
  ParsedMail p = Parse(mime);
  EXPECT_EQ(DecodeWords(p.headers["From"]), "Робот CRM <robots@crm.local>");
  EXPECT_EQ(DecodeWords(p.headers["To"]), "Иванов Иван Петрович <ivanov@crm.local>, rop@crm.local");
  EXPECT_EQ(DecodeWords(p.headers["Subject"]), m.subject);
  EXPECT_EQ(p.headers["Date"], "Fri, 15 Jan 2027 08:00:00 +0000");
  EXPECT_EQ(p.headers["Message-ID"], "<exec-01930000-0000-7000-8000-000000000001.2@robots.crm.local>");
  EXPECT_EQ(p.headers["MIME-Version"], "1.0");
  EXPECT_EQ(p.headers["Content-Type"], "text/plain; charset=utf-8");
  EXPECT_EQ(p.headers["Content-Transfer-Encoding"], "base64");
  // The subject is non-ASCII: encoded words only, no raw UTF-8 in the header section.
  EXPECT_THAT(p.headers["Subject"], HasSubstr("=?UTF-8?B?"));
  for (const std::string& line : p.header_lines) {
    EXPECT_LE(line.size(), 78u) << line;
    for (char c : line) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << line;
  }
  EXPECT_EQ(DecodeBody(p.body), Crlf(m.text));
}

TEST(RenderMimeTest, CrlfOnlyAnd76CharacterBase64Lines) {
  MailMessage m = RussianMessage();
  m.text = std::string(5000, 'x') + "\nи ещё\r\nстрока\rконец";
  const std::string mime = RenderMime(m, absl::FromUnixSeconds(0));
  for (size_t i = 0; i < mime.size(); ++i) {
    if (mime[i] == '\n') {
      EXPECT_TRUE(i > 0 && mime[i - 1] == '\r') << "bare LF at " << i;
    }
    if (mime[i] == '\r') {
      EXPECT_TRUE(i + 1 < mime.size() && mime[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  ASSERT_TRUE(absl::EndsWith(mime, "\r\n"));
  ParsedMail p = Parse(mime);
  std::vector<std::string> lines = absl::StrSplit(p.body, "\r\n", absl::SkipEmpty());
  ASSERT_GT(lines.size(), 2u);
  for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 76u) << i;
  EXPECT_LE(lines.back().size(), 76u);
  EXPECT_EQ(DecodeBody(p.body), std::string(5000, 'x') + "\r\nи ещё\r\nстрока\r\nконец");
}

TEST(RenderMimeTest, AsciiSubjectStaysReadable) {
  MailMessage m = RussianMessage();
  m.subject = "Deal 42: no contact";
  m.from = "robots@crm.local";
  ParsedMail p = Parse(RenderMime(m, absl::FromUnixSeconds(0)));
  EXPECT_EQ(p.headers["Subject"], "Deal 42: no contact");
  EXPECT_EQ(p.headers["From"], "robots@crm.local");
  EXPECT_EQ(p.headers["Date"], "Thu, 01 Jan 1970 00:00:00 +0000");
  // Names with specials are quoted; an already quoted name keeps its meaning.
  m.to = {"Smith, John <js@example.org>", "\"O\\\"Brien\" <ob@example.org>", "Plain Name <pn@example.org>"};
  p = Parse(RenderMime(m, absl::FromUnixSeconds(0)));
  EXPECT_EQ(p.headers["To"],
            "\"Smith, John\" <js@example.org>, \"O\\\"Brien\" <ob@example.org>, Plain Name <pn@example.org>");
}

TEST(RenderMimeTest, HeaderInjectionIsRejectedAndNeverRendered) {
  MailMessage m = RussianMessage();
  m.subject = "Привет\r\nBcc: evil@example.com";
  absl::Status s = ValidateMessage(m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("subject"));
  // Even unvalidated, no injected header line comes out.
  ParsedMail p = Parse(RenderMime(m, absl::FromUnixSeconds(0)));
  EXPECT_EQ(p.headers.count("Bcc"), 0u);
  for (const std::string& line : p.header_lines) EXPECT_FALSE(absl::StartsWith(line, "Bcc")) << line;
  EXPECT_EQ(DecodeWords(p.headers["Subject"]), "Привет  Bcc: evil@example.com");

  m = RussianMessage();
  m.to = {"ok@crm.local", "x@crm.local\r\nBcc: evil@example.com"};
  s = ValidateMessage(m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("to[1]"));
  p = Parse(RenderMime(m, absl::FromUnixSeconds(0)));
  EXPECT_EQ(p.headers.count("Bcc"), 0u);

  m = RussianMessage();
  m.from = "Робот\n <robots@crm.local>";
  EXPECT_THAT(ValidateMessage(m).message(), HasSubstr("from"));
  m = RussianMessage();
  m.message_id = "a@b>\r\nBcc: evil@example.com";
  EXPECT_THAT(ValidateMessage(m).message(), HasSubstr("message_id"));
}

// ---- validation ------------------------------------------------------------------------------------------

TEST(ValidateMessageTest, NamesTheBadField) {
  const auto field_error = [](const MailMessage& m) {
    absl::Status s = ValidateMessage(m);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    return std::string(s.message());
  };
  EXPECT_TRUE(ValidateMessage(RussianMessage()).ok());
  MailMessage m = RussianMessage();
  m.from = "";
  EXPECT_THAT(field_error(m), HasSubstr("from"));
  m = RussianMessage();
  m.from = "not an address";
  EXPECT_THAT(field_error(m), HasSubstr("from"));
  m = RussianMessage();
  m.to.clear();
  EXPECT_THAT(field_error(m), HasSubstr("to"));
  m = RussianMessage();
  m.to.push_back("иванов@crm.local");  // non-ASCII address
  EXPECT_THAT(field_error(m), HasSubstr("to[2]"));
  m = RussianMessage();
  m.to.assign(kMaxRecipients + 1, "a@crm.local");
  EXPECT_THAT(field_error(m), HasSubstr("to"));
  m = RussianMessage();
  m.subject = std::string(kMaxSubjectBytes + 1, 'a');
  EXPECT_THAT(field_error(m), HasSubstr("subject"));
  m.subject = std::string(kMaxSubjectBytes, 'a');
  EXPECT_TRUE(ValidateMessage(m).ok());
  m = RussianMessage();
  m.subject = "\xD0";  // truncated UTF-8
  EXPECT_THAT(field_error(m), HasSubstr("subject"));
  m = RussianMessage();
  m.text = std::string(kMaxTextBytes + 1, 'a');
  EXPECT_THAT(field_error(m), HasSubstr("text"));
  m.text = std::string(kMaxTextBytes, 'a');
  EXPECT_TRUE(ValidateMessage(m).ok());
  m = RussianMessage();
  m.message_id = "";
  EXPECT_THAT(field_error(m), HasSubstr("message_id"));
  m.message_id = "no-at-sign";
  EXPECT_THAT(field_error(m), HasSubstr("message_id"));
  m.message_id = "<ok@robots>";
  EXPECT_TRUE(ValidateMessage(m).ok());
}

TEST(SmtpMailerTest, CreateNamesTheBadOption) {
  const auto option_error = [](SmtpOptions o) {
    auto m = SmtpMailer::Create(std::move(o));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
    return std::string(m.status().message());
  };
  EXPECT_THAT(option_error({.url = ""}), HasSubstr("url"));
  EXPECT_THAT(option_error({.url = "http://mail.local"}), HasSubstr("url"));
  EXPECT_THAT(option_error({.url = "smtp://"}), HasSubstr("url"));
  EXPECT_THAT(option_error({.url = "smtp://mail local"}), HasSubstr("url"));
  EXPECT_THAT(option_error({.url = "smtps://mail.local", .starttls = true}), HasSubstr("starttls"));
  EXPECT_THAT(option_error({.url = "smtp://mail.local", .password = "p"}), HasSubstr("password"));
  EXPECT_THAT(option_error({.url = "smtp://mail.local", .username = "a\r\nb"}), HasSubstr("username"));
  EXPECT_THAT(option_error({.url = "smtp://mail.local", .timeout = absl::ZeroDuration()}), HasSubstr("timeout"));
  EXPECT_TRUE(SmtpMailer::Create({.url = "smtp://mail.local:587", .username = "u", .password = "p",
                                  .starttls = true}).ok());
  EXPECT_TRUE(SmtpMailer::Create({.url = "smtps://mail.local:465"}).ok());
}

TEST(SmtpMailerTest, BadMessageIsInvalidArgumentWithoutConnecting) {
  auto mailer = NewMailer("smtp://127.0.0.1:1", absl::Seconds(5));
  ASSERT_NE(mailer, nullptr);
  MailMessage m = RussianMessage();
  m.to.clear();
  EXPECT_EQ(mailer->Send(m).code(), absl::StatusCode::kInvalidArgument);
  m = RussianMessage();
  m.from.clear();
  EXPECT_EQ(mailer->Send(m).code(), absl::StatusCode::kInvalidArgument);
}

// ---- real SMTP ------------------------------------------------------------------------------------------

TEST(SmtpMailerTest, SendsRussianMessageThatDecodesBack) {
  auto sink = Sink::Start();
  ASSERT_NE(sink, nullptr);
  auto mailer = NewMailer(sink->url());
  ASSERT_NE(mailer, nullptr);
  const MailMessage m = RussianMessage();
  ASSERT_TRUE(mailer->Send(m).ok());

  std::vector<std::string> index = sink->Index();
  ASSERT_EQ(index.size(), 1u);
  EXPECT_THAT(index[0], HasSubstr("\"mail_from\": \"robots@crm.local\""));
  EXPECT_THAT(index[0], HasSubstr("\"rcpt_to\": [\"ivanov@crm.local\", \"rop@crm.local\"]"));
  const std::string eml = ReadFile(sink->dir() + "/1.eml");
  ASSERT_FALSE(eml.empty());
  ParsedMail p = Parse(eml);
  EXPECT_EQ(DecodeWords(p.headers["From"]), "Робот CRM <robots@crm.local>");
  EXPECT_EQ(DecodeWords(p.headers["To"]), "Иванов Иван Петрович <ivanov@crm.local>, rop@crm.local");
  EXPECT_EQ(DecodeWords(p.headers["Subject"]), m.subject);
  EXPECT_EQ(p.headers["Message-ID"], "<" + m.message_id + ">");
  EXPECT_FALSE(p.headers["Date"].empty());
  EXPECT_EQ(DecodeBody(p.body), Crlf(m.text));
}

TEST(SmtpMailerTest, SendIsSafeFromSeveralThreads) {
  auto sink = Sink::Start();
  ASSERT_NE(sink, nullptr);
  auto mailer = NewMailer(sink->url());
  ASSERT_NE(mailer, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        MailMessage m = RussianMessage();
        m.message_id = absl::StrCat("t", t, ".", i, "@robots.crm.local");
        if (!mailer->Send(m).ok()) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> index = sink->Index();
  EXPECT_EQ(index.size(), 12u);
  std::set<std::string> ids;
  for (const std::string& line : index) {
    const std::string key = "\"file\": \"";
    const std::string file = line.substr(line.find(key) + key.size());
    ids.insert(Parse(ReadFile(file.substr(0, file.find('"')))).headers["Message-ID"]);
  }
  EXPECT_EQ(ids.size(), 12u);
}

TEST(SmtpMailerTest, PermanentRecipientFailureIsFailedPreconditionWithReply) {
  auto sink = Sink::Start({"--fail-rcpt", "rop@crm.local=550"});
  ASSERT_NE(sink, nullptr);
  auto mailer = NewMailer(sink->url());
  ASSERT_NE(mailer, nullptr);
  absl::Status s = mailer->Send(RussianMessage());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("550"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("mailbox unavailable"));
  EXPECT_TRUE(sink->Index().empty());  // all recipients or none
}

TEST(SmtpMailerTest, TransientRecipientFailureIsUnavailable) {
  auto sink = Sink::Start({"--fail-rcpt", "ROP@crm.local=451"});
  ASSERT_NE(sink, nullptr);
  auto mailer = NewMailer(sink->url());
  ASSERT_NE(mailer, nullptr);
  absl::Status s = mailer->Send(RussianMessage());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("451"));
}

TEST(SmtpMailerTest, TransientDataFailureIsUnavailableAndTheRetryKeepsTheMessageId) {
  auto sink = Sink::Start({"--fail-next-data", "1"});
  ASSERT_NE(sink, nullptr);
  auto mailer = NewMailer(sink->url());
  ASSERT_NE(mailer, nullptr);
  const MailMessage m = RussianMessage();
  absl::Status s = mailer->Send(m);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("451"));
  EXPECT_TRUE(sink->Index().empty());
  ASSERT_TRUE(mailer->Send(m).ok());  // the caller's retry
  ASSERT_EQ(sink->Index().size(), 1u);
  EXPECT_EQ(Parse(ReadFile(sink->dir() + "/1.eml")).headers["Message-ID"], "<" + m.message_id + ">");
}

TEST(SmtpMailerTest, StarttlsRequiredButNotOfferedIsFailedPrecondition) {
  auto sink = Sink::Start();  // offers no STARTTLS
  ASSERT_NE(sink, nullptr);
  auto mailer = SmtpMailer::Create({.url = sink->url(), .starttls = true});
  ASSERT_TRUE(mailer.ok()) << mailer.status();
  absl::Status s = (*mailer)->Send(RussianMessage());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(sink->Index().empty());
}

TEST(SmtpMailerTest, NothingListeningIsUnavailable) {
  // A port that was free a moment ago and has nobody listening now.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  close(fd);
  auto mailer = NewMailer(absl::StrCat("smtp://127.0.0.1:", port), absl::Seconds(5));
  ASSERT_NE(mailer, nullptr);
  absl::Status s = mailer->Send(RussianMessage());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST(SmtpMailerTest, ServerThatNeverGreetsTimesOutAsUnavailable) {
  // The kernel completes the TCP handshake for a listening socket nobody accepts on: the client then
  // waits for a 220 greeting that never comes.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto mailer = NewMailer(absl::StrCat("smtp://127.0.0.1:", ntohs(addr.sin_port)), absl::Milliseconds(300));
  ASSERT_NE(mailer, nullptr);
  const absl::Time start = absl::Now();
  absl::Status s = mailer->Send(RussianMessage());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  close(fd);
}

}  // namespace
}  // namespace crm::mail
