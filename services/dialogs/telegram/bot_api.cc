#include "services/dialogs/telegram/bot_api.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"

namespace crm::dialogs::telegram {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t WriteCallback(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  // A Bot API reply is small; a runaway one (more than 8 MiB) is cut off (curl then fails the call).
  if (out->size() + size * n > (8u << 20)) return 0;
  out->append(data, size * n);
  return size * n;
}

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

BotApi::BotApi(BotApiOptions options) : options_(std::move(options)) { GlobalInit(); }

absl::StatusOr<ApiReply> ParseApiReply(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) {
    return absl::InvalidArgumentError("not a Bot API reply");
  }
  ApiReply r;
  r.ok = j["ok"].get<bool>();
  if (r.ok) {
    r.result = j.contains("result") ? j["result"] : nlohmann::json();
    return r;
  }
  if (j.contains("error_code") && j["error_code"].is_number_integer()) r.error_code = j["error_code"].get<int>();
  if (j.contains("description") && j["description"].is_string()) r.description = j["description"].get<std::string>();
  if (j.contains("parameters") && j["parameters"].is_object()) {
    const auto& p = j["parameters"];
    if (p.contains("retry_after") && p["retry_after"].is_number_integer()) {
      r.retry_after = p["retry_after"].get<int64_t>();
    }
    if (p.contains("migrate_to_chat_id") && p["migrate_to_chat_id"].is_number_integer()) {
      r.migrate_to_chat_id = p["migrate_to_chat_id"].get<int64_t>();
    }
  }
  return r;
}

absl::StatusOr<ApiReply> BotApi::Call(std::string_view token, std::string_view method,
                                      const nlohmann::json& params, absl::Duration extra_timeout) const {
  std::unique_ptr<CURL, CurlEasyDeleter> h(curl_easy_init());
  if (h == nullptr) return absl::InternalError("libcurl: curl_easy_init failed");
  const std::string url = absl::StrCat(options_.base_url, "/bot", crm::AsAbsl(token), "/", crm::AsAbsl(method));
  const std::string body = params.dump();
  std::unique_ptr<curl_slist, CurlSlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  std::string reply;
  char error[CURL_ERROR_SIZE] = {0};
  const long timeout_ms = static_cast<long>(absl::ToInt64Milliseconds(options_.timeout + extra_timeout));
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteCallback);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    // libcurl's message names the host, never the path (the token).
    return absl::UnavailableError(absl::StrCat("Bot API ", crm::AsAbsl(method), ": ", error[0] != 0 ? error : curl_easy_strerror(rc)));
  }
  absl::StatusOr<ApiReply> parsed = ParseApiReply(reply);
  if (!parsed.ok()) {
    long http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    return absl::UnavailableError(absl::StrCat("Bot API ", crm::AsAbsl(method), ": HTTP ", http, " without a Bot API reply"));
  }
  return parsed;
}

}  // namespace crm::dialogs::telegram
