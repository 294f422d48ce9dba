// File: libs/mail/mail.cc
#include "libs/mail/mail.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string_view>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm::mail {
namespace {

constexpr size_t kMaxDisplayNameBytes = 200;
constexpr size_t kMaxMessageIdBytes = 250;
constexpr size_t kMaxHeaderLine = 78;
// Raw bytes per RFC 2047 encoded word: 39 bytes -> 52 base64 characters -> a 64-character word, so even
// "Subject: " plus one word stays within 78 characters.
constexpr size_t kEncodedWordBytes = 39;
constexpr size_t kBase64LineChars = 76;

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not a valid one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;  // overlong / range
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                                          // surrogates
  return n;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Control characters other than TAB, and DEL, are not allowed in header values.
bool HasHeaderControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// addr-spec: local@domain, ASCII, no whitespace or specials that would break the SMTP path or header.
bool IsAddrSpec(std::string_view a) {
  if (a.empty() || a.size() > kMaxAddressBytes) return false;
  const size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size() || at > 64) return false;
  const std::string_view local = a.substr(0, at);
  const std::string_view domain = a.substr(at + 1);
  for (char ch : local) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || std::strchr("<>()[],;:\\\"@", ch) != nullptr) return false;
  }
  if (local.front() == '.' || local.back() == '.') return false;
  if (domain.front() == '[') return domain.back() == ']' && domain.size() > 2 &&
                                     domain.find_first_of(" <>\\\"") == std::string_view::npos;
  if (domain.front() == '.' || domain.back() == '.' || domain.front() == '-') return false;
  return std::all_of(domain.begin(), domain.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

struct Mailbox {
  std::string name;  // display name, may be empty
  std::string addr;  // addr-spec
};

// Trims ASCII spaces and tabs.
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses "addr" or "Name <addr>"; an error description on failure.
absl::StatusOr<Mailbox> ParseMailbox(std::string_view field, std::string_view v) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(field), ": ", AsAbsl(why), ", got ", QuoteForError(v)));
  };
  if (HasCrLf(v)) return bad("must not contain CR or LF");
  if (HasHeaderControl(v)) return bad("must not contain control characters");
  if (!IsValidUtf8(v)) return bad("must be UTF-8");
  Mailbox m;
  std::string_view t = Trim(v);
  if (t.empty()) return bad("required");
  if (t.back() == '>') {
    const size_t lt = t.rfind('<');
    if (lt == std::string_view::npos) return bad("unbalanced '>'");
    std::string_view name = Trim(t.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      // A quoted-string: drop the quotes and its backslash escapes.
      for (size_t i = 1; i + 1 < name.size(); ++i) {
        if (name[i] == '\\' && i + 2 < name.size()) ++i;
        m.name += name[i];
      }
    } else {
      m.name = std::string(name);
    }
    if (m.name.size() > kMaxDisplayNameBytes) return bad("display name longer than 200 bytes");
    m.addr = std::string(t.substr(lt + 1, t.size() - lt - 2));
  } else {
    m.addr = std::string(t);
  }
  if (!IsAddrSpec(m.addr)) return bad("must be an e-mail address (user@domain, ASCII) or \"Name <user@domain>\"");
  return m;
}

// The message id without angle brackets, or an error.
absl::StatusOr<std::string> ParseMessageId(std::string_view v) {
  std::string_view id = v;
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  const bool printable = std::all_of(id.begin(), id.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7F && c != '<' && c != '>';
  });
  const size_t at = id.find('@');
  if (id.empty() || id.size() > kMaxMessageIdBytes || !printable || at == std::string_view::npos || at == 0 ||
      at + 1 == id.size() || id.find('@', at + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message_id: must be \"left@right\" in printable ASCII without spaces (at most 250 bytes), got ",
        QuoteForError(v)));
  }
  return std::string(id);
}

// Splits UTF-8 `s` into RFC 2047 B encoded words of whole characters.
std::vector<std::string> EncodedWords(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = i;
    while (end < s.size()) {
      size_t n = Utf8SequenceLength(s, end);
      if (n == 0) n = 1;  // not UTF-8 (unvalidated input): keep going byte-wise
      if (end + n - i > kEncodedWordBytes && end > i) break;
      end += n;
    }
    out.push_back(absl::StrCat("=?UTF-8?B?", absl::Base64Escape(AsAbsl(s.substr(i, end - i))), "?="));
    i = end;
  }
  return out;
}

// Writes "Name: " + atoms separated by single spaces, folding (CRLF SP) between atoms to keep lines
// within 78 characters where an atom allows.
void AppendHeader(std::string& out, std::string_view name, const std::vector<std::string>& atoms) {
  size_t line = name.size() + 1;
  out.append(name.data(), name.size());
  out += ':';
  for (const std::string& a : atoms) {
    if (line > name.size() + 1 && line + 1 + a.size() > kMaxHeaderLine) {
      out += "\r\n";
      line = 0;
    }
    out += ' ';
    out += a;
    line += 1 + a.size();
  }
  out += "\r\n";
}

// Header value text with CR / LF (and other controls) replaced by spaces: the last line of defence against
// header injection for a message that skipped ValidateMessage.
std::string Sanitize(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) ch = ' ';
  }
  return out;
}

bool IsAtext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

// The atoms of one display name: as written when it is plain words, a quoted string when it has
// specials, encoded words when it is not ASCII.
std::vector<std::string> NameAtoms(std::string_view name) {
  if (name.empty()) return {};
  if (!IsAscii(name) || name.find("=?") != std::string_view::npos) return EncodedWords(name);
  bool plain = true;
  for (char c : name) plain = plain && (IsAtext(c) || c == ' ');
  if (plain && name.find("  ") == std::string_view::npos && Trim(name) == name) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i <= name.size()) {
      size_t sp = name.find(' ', i);
      if (sp == std::string_view::npos) sp = name.size();
      words.emplace_back(name.substr(i, sp - i));
      i = sp + 1;
    }
    return words;
  }
  std::string q = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  return {q};
}

// Header atoms for a list of mailboxes: "Name <addr>," ... (unparseable entries are sanitised as is).
std::vector<std::string> MailboxAtoms(const std::vector<std::string>& list) {
  std::vector<std::string> atoms;
  for (size_t i = 0; i < list.size(); ++i) {
    absl::StatusOr<Mailbox> m = ParseMailbox("address", list[i]);
    std::vector<std::string> part;
    if (m.ok()) {
      part = NameAtoms(m->name);
      part.push_back(m->name.empty() ? m->addr : absl::StrCat("<", m->addr, ">"));
    } else {
      part.push_back(Sanitize(list[i]));
    }
    if (i + 1 < list.size()) part.back() += ',';
    atoms.insert(atoms.end(), part.begin(), part.end());
  }
  return atoms;
}

std::vector<std::string> SubjectAtoms(std::string_view subject) {
  const std::string s = Sanitize(subject);
  const bool printable = std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7F;
  });
  if (s.empty()) return {};
  if (printable && s.find("=?") == std::string::npos && s.size() + 9 <= kMaxHeaderLine && s.front() != ' ') {
    return {s};
  }
  return EncodedWords(s);
}

std::string FormatDate(absl::Time t) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  const int wd = static_cast<int>(absl::GetWeekday(c));  // absl::Weekday::monday == 0
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04lld %02d:%02d:%02d +0000", kDays[wd], c.day(),
                kMonths[c.month() - 1], static_cast<long long>(c.year()), c.hour(), c.minute(), c.second());
  return buf;
}

// The text in MIME canonical form: every line break (LF, CR or CRLF) as CRLF.
std::string CanonicalLineBreaks(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

// ---- libcurl ------------------------------------------------------------------------------------------

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Upload {
  std::string_view data;
  size_t pos = 0;
};

size_t ReadCallback(char* buffer, size_t size, size_t nitems, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t n = std::min(size * nitems, up->data.size() - up->pos);
  std::memcpy(buffer, up->data.data() + up->pos, n);
  up->pos += n;
  return n;
}

// Collects the server's last complete error reply ("550 5.1.1 ..." with continuation lines); the
// replies after it (QUIT's 221) do not replace it.
struct Replies {
  std::string current;
  std::string last_error;
};

size_t HeaderCallback(char* buffer, size_t size, size_t nitems, void* user) {
  auto* r = static_cast<Replies*>(user);
  std::string_view line(buffer, size * nitems);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (!r->current.empty()) r->current += " | ";
  r->current.append(line.data(), line.size());
  // "250-..." continues the reply; "250 ..." (or a bare code) ends it.
  if (line.size() < 4 || line[3] == ' ') {
    if (!r->current.empty() && (r->current[0] == '4' || r->current[0] == '5')) r->last_error = r->current;
    r->current.clear();
  }
  return size * nitems;
}

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

absl::Status ValidateMessage(const MailMessage& message) {
  if (message.from.empty()) return absl::InvalidArgumentError("from: required");
  CRM_RETURN_IF_ERROR(ParseMailbox("from", message.from).status());
  if (message.to.empty()) return absl::InvalidArgumentError("to: at least one recipient is required");
  if (message.to.size() > kMaxRecipients) {
    return absl::InvalidArgumentError(
        absl::StrCat("to: at most ", kMaxRecipients, " recipients, got ", message.to.size()));
  }
  for (size_t i = 0; i < message.to.size(); ++i) {
    CRM_RETURN_IF_ERROR(ParseMailbox(absl::StrCat("to[", i, "]"), message.to[i]).status());
  }
  if (message.subject.size() > kMaxSubjectBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject: at most ", kMaxSubjectBytes, " bytes, got ", message.subject.size()));
  }
  if (HasCrLf(message.subject)) return absl::InvalidArgumentError("subject: must not contain CR or LF");
  if (HasHeaderControl(message.subject)) {
    return absl::InvalidArgumentError("subject: must not contain control characters");
  }
  if (!IsValidUtf8(message.subject)) return absl::InvalidArgumentError("subject: must be UTF-8");
  if (message.text.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("text: at most ", kMaxTextBytes, " bytes, got ", message.text.size()));
  }
  if (!IsValidUtf8(message.text)) return absl::InvalidArgumentError("text: must be UTF-8");
  CRM_RETURN_IF_ERROR(ParseMessageId(message.message_id).status());
  return absl::OkStatus();
}

std::string RenderMime(const MailMessage& message, absl::Time date) {
  std::string out;
  const std::string body = absl::Base64Escape(AsAbsl(CanonicalLineBreaks(message.text)));
  out.reserve(1024 + body.size() + body.size() / kBase64LineChars * 2);
  AppendHeader(out, "From", MailboxAtoms({message.from}));
  AppendHeader(out, "To", MailboxAtoms(message.to));
  AppendHeader(out, "Subject", SubjectAtoms(message.subject));
  AppendHeader(out, "Date", {FormatDate(date)});
  absl::StatusOr<std::string> id = ParseMessageId(message.message_id);
  if (id.ok()) AppendHeader(out, "Message-ID", {absl::StrCat("<", *id, ">")});
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: base64\r\n";
  out += "\r\n";
  for (size_t i = 0; i < body.size(); i += kBase64LineChars) {
    out.append(body, i, kBase64LineChars);
    out += "\r\n";
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SmtpMailer>> SmtpMailer::Create(SmtpOptions options) {
  const std::string_view url = options.url;
  std::string_view rest;
  if (url.substr(0, 7) == "smtp://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "smtps://") {
    rest = url.substr(8);
    if (options.starttls) {
      return absl::InvalidArgumentError("starttls: not with smtps:// (the connection is TLS from the start)");
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("url: must be smtp://host[:port] or smtps://host[:port], got ", QuoteForError(url)));
  }
  const bool url_chars_ok = std::all_of(url.begin(), url.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7F;
  });
  if (rest.empty() || rest.front() == '/' || rest.front() == ':' || !url_chars_ok) {
    return absl::InvalidArgumentError(absl::StrCat("url: needs a host and no spaces or control characters, got ",
                                                   QuoteForError(url)));
  }
  if (HasHeaderControl(options.username) || HasCrLf(options.username)) {
    return absl::InvalidArgumentError("username: must not contain control characters");
  }
  if (HasHeaderControl(options.password) || HasCrLf(options.password)) {
    return absl::InvalidArgumentError("password: must not contain control characters");
  }
  if (!options.password.empty() && options.username.empty()) {
    return absl::InvalidArgumentError("password: given without a username");
  }
  if (options.timeout <= absl::ZeroDuration() || options.timeout > absl::Minutes(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout: must be in (0, 10m], got ", absl::FormatDuration(options.timeout)));
  }
  GlobalInit();
  return std::unique_ptr<SmtpMailer>(new SmtpMailer(std::move(options)));
}

absl::Status SmtpMailer::Send(const MailMessage& message) {
  CRM_RETURN_IF_ERROR(ValidateMessage(message));
  const std::string mime = RenderMime(message, absl::Now());
  const std::string from = absl::StrCat("<", ParseMailbox("from", message.from)->addr, ">");
  std::unique_ptr<curl_slist, CurlSlistDeleter> rcpt;
  for (const std::string& to : message.to) {
    const std::string a = absl::StrCat("<", ParseMailbox("to", to)->addr, ">");
    curl_slist* next = curl_slist_append(rcpt.get(), a.c_str());
    if (next == nullptr) return absl::InternalError("libcurl: out of memory");
    (void)rcpt.release();
    rcpt.reset(next);
  }

  std::unique_ptr<CURL, CurlEasyDeleter> h(curl_easy_init());
  if (h == nullptr) return absl::InternalError("libcurl: curl_easy_init failed");
  Upload upload{.data = mime};
  Replies replies;
  char error[CURL_ERROR_SIZE] = {0};
  const long timeout_ms = static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.timeout)));
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mime.size()));
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &ReadCallback);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &HeaderCallback);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &replies);
  if (options_.starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!options_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  }

  const CURLcode res = curl_easy_perform(c);
  if (res == CURLE_OK) return absl::OkStatus();
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  const std::string what = error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(res));
  const std::string reply =
      replies.last_error.empty() ? std::string() : absl::StrCat(": \"", replies.last_error, "\"");
  if (code >= 500 && code < 600) {
    return absl::FailedPreconditionError(
        absl::StrCat("SMTP server ", options_.url, " refused the message (", what, ")", reply));
  }
  if (code >= 400 && code < 500) {
    return absl::UnavailableError(
        absl::StrCat("SMTP server ", options_.url, " deferred the message (", what, ")", reply));
  }
  switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_AGAIN:
      return absl::UnavailableError(absl::StrCat("SMTP server ", options_.url, " not reachable: ", what, reply));
    case CURLE_LOGIN_DENIED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return absl::FailedPreconditionError(
          absl::StrCat("SMTP server ", options_.url, " cannot be used: ", what, reply));
    default:
      return absl::InternalError(absl::StrCat("SMTP send via ", options_.url, " failed: ", what, reply));
  }
}

}  // namespace crm::mail
