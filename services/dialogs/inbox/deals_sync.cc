// File: services/dialogs/inbox/deals_sync.cc
#include "services/dialogs/inbox/deals_sync.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "crm/deals/v1/interactions.grpc.pb.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"
#include "services/dialogs/inbox/sql.h"
#include "services/dialogs/inbox/store.h"

namespace crm::dialogs::inbox {
namespace {

namespace dv1 = crm::deals::v1;
using crm::common::v1::Principal;

constexpr const char* kDealsPermissions[] = {"clients.read", "interactions.read.all", "interactions.write.all"};
constexpr size_t kMaxSubject = 500;
constexpr size_t kMaxResult = 5000;

const Principal& DialogsPrincipal() {
  static const Principal* p = [] {
    auto* out = new Principal(crm::rpc::ServicePrincipal("dialogs"));
    for (const char* perm : kDealsPermissions) out->add_permissions(perm);
    return out;
  }();
  return *p;
}

// The first `max` code points of `s` (UTF-8).
std::string Cut(const std::string& s, size_t max) {
  size_t points = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && points++ == max) return s.substr(0, i);
  }
  return s;
}

absl::Duration Backoff(int attempts) {
  return std::min(absl::Seconds(1) * (int64_t{1} << std::min(attempts, 12)), absl::Hours(1));
}

}  // namespace

struct DealsSync::Stubs {
  explicit Stubs(const std::shared_ptr<grpc::Channel>& channel)
      : clients(dv1::ClientService::NewStub(channel)), interactions(dv1::InteractionService::NewStub(channel)) {}
  std::unique_ptr<dv1::ClientService::Stub> clients;
  std::unique_ptr<dv1::InteractionService::Stub> interactions;
};

DealsSync::DealsSync(crm::pg::Pool& pool, const Clock& clock, std::shared_ptr<grpc::Channel> deals,
                     const crm::auth::SigningKey* key, absl::Duration call_timeout)
    : pool_(pool), clock_(clock), stubs_(std::make_unique<Stubs>(deals)), key_(key), timeout_(call_timeout) {}

DealsSync::~DealsSync() = default;

absl::StatusOr<int> DealsSync::DrainOnce(int max) {
  int handled = 0;
  while (handled < max) {
    CRM_ASSIGN_OR_RETURN(bool any, HandleOne());
    if (!any) break;
    ++handled;
  }
  return handled;
}

absl::StatusOr<bool> DealsSync::HandleOne() {
  bool any = false;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    pqxx::result rows = crm::pg::ExecPrepared(tx, sql::kClaimSync, FormatRfc3339Utc(now), 1);
    any = !rows.empty();
    if (!any) return absl::OkStatus();
    const int64_t id = rows[0][0].as<int64_t>();
    const std::string kind = rows[0][1].c_str();
    const std::string dialog_id = rows[0][2].c_str();
    const std::string message_id = rows[0][3].c_str();
    const std::string phone = rows[0][4].c_str();
    const int attempts = rows[0][5].as<int>();

    grpc::ClientContext call;
    call.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    const std::string bytes = DialogsPrincipal().SerializeAsString();
    if (key_ == nullptr) {
      crm::rpc::SetCaller(call, DialogsPrincipal());
    } else {
      CRM_ASSIGN_OR_RETURN(std::string sig, crm::auth::SignPrincipalBytes(bytes, *key_, now));
      call.AddMetadata(crm::rpc::kPrincipalHeader, bytes);
      call.AddMetadata(std::string(crm::auth::kPrincipalSigHeader), sig);
    }

    grpc::Status answer;
    if (kind == "link") {
      dv1::FindDuplicatesRequest req;
      req.set_phone(phone);
      dv1::FindDuplicatesResponse resp;
      answer = stubs_->clients->FindDuplicates(&call, req, &resp);
      if (answer.ok()) {
        std::vector<std::string> ids;
        for (const dv1::Client& c : resp.clients()) ids.push_back(c.id());
        const std::string state = ids.empty() ? "none" : ids.size() == 1 ? "linked" : "candidates";
        crm::pg::ExecPrepared(tx, sql::kLinkResult, dialog_id, phone, ids.size() == 1 ? ids[0] : std::string(),
                              crm::pg::ArrayLiteral(ids.size() > 1 ? ids : std::vector<std::string>{}), state,
                              FormatRfc3339Utc(now));
        CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> d, LoadDialog(tx, dialog_id, false));
        if (d) CRM_RETURN_IF_ERROR(UnparkIfReady(tx, d->dialog, now));
      }
    } else {
      CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> d, LoadDialog(tx, dialog_id, false));
      pqxx::result mr = crm::pg::ExecPrepared(tx, sql::kMessageById, message_id);
      if (!d || mr.empty()) {
        crm::pg::ExecPrepared(tx, sql::kSyncDone, id);
        return absl::OkStatus();
      }
      if (d->dialog.client_id().empty() || d->dialog.responsible_id().empty()) {
        crm::pg::ExecPrepared(tx, sql::kSyncPark, id);  // unparked when it has both
        return absl::OkStatus();
      }
      const v1::Message m = MessageOf(mr[0]);
      dv1::UpsertInteractionRequest req;
      dv1::Interaction& x = *req.mutable_interaction();
      x.set_kind(dv1::Interaction::DIALOG);
      x.set_status(dv1::Interaction::DONE);
      x.set_direction(m.direction() == v1::MESSAGE_DIRECTION_OUT ? dv1::Interaction::OUTBOUND
                                                                  : dv1::Interaction::INBOUND);
      x.set_client_id(d->dialog.client_id());
      x.set_responsible_id(d->dialog.responsible_id());
      x.set_subject(Cut(absl::StrCat(m.direction() == v1::MESSAGE_DIRECTION_OUT ? "Ответ в Telegram, диалог "
                                                                                 : "Сообщение в Telegram, диалог ",
                                     d->dialog.number()),
                        kMaxSubject));
      std::string text = m.text();
      for (const v1::MessageFile& f : m.files()) {
        absl::StrAppend(&text, text.empty() ? "" : "\n", "[", f.name().empty() ? f.kind() : f.name(), "]");
      }
      if (!text.empty()) x.set_result(Cut(text, kMaxResult));
      *x.mutable_start_time() = m.create_time();
      *x.mutable_end_time() = m.create_time();
      x.set_source(kInteractionSource);
      x.set_external_id(m.id());
      dv1::Interaction resp;
      answer = stubs_->interactions->UpsertInteraction(&call, req, &resp);
    }
    if (answer.ok()) {
      crm::pg::ExecPrepared(tx, sql::kSyncDone, id);
    } else {
      const absl::Status s = FromGrpcStatus(answer);
      crm::log::Warn(absl::StrCat("inbox: deals did not take ", kind, " of dialog ", dialog_id, ": ", s.ToString()));
      crm::pg::ExecPrepared(tx, sql::kSyncRetry, id, std::string(s.ToString()),
                            FormatRfc3339Utc(now + Backoff(attempts)));
    }
    return absl::OkStatus();
  }));
  return any;
}

}  // namespace crm::dialogs::inbox
