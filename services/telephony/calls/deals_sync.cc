// File: services/telephony/calls/deals_sync.cc
#include "services/telephony/calls/deals_sync.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "crm/deals/v1/interactions.grpc.pb.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"
#include "proto/crm/telephony/v1/event_types.h"
#include "services/telephony/calls/sql.h"
#include "services/telephony/calls/store.h"

namespace crm::telephony::calls {
namespace {

namespace dv1 = crm::deals::v1;
using crm::common::v1::Principal;

constexpr const char* kDealsPermissions[] = {"clients.read", "interactions.read.all", "interactions.write.all"};

const Principal& TelephonyPrincipal() {
  static const Principal* p = [] {
    auto* out = new Principal(crm::rpc::ServicePrincipal("telephony"));
    for (const char* perm : kDealsPermissions) out->add_permissions(perm);
    return out;
  }();
  return *p;
}

absl::Duration Backoff(int attempts) {
  return std::min(absl::Seconds(1) * (int64_t{1} << std::min(attempts, 12)), absl::Hours(1));
}

// «Входящий звонок +79161234567, 2 мин 5 с», «Пропущенный входящий звонок +7…», «Исходящий звонок …, без ответа».
std::string Subject(const v1::Call& c) {
  const bool in = c.direction() == v1::CALL_DIRECTION_INBOUND;
  const std::string number = c.outside_number().empty() ? c.from_number() : c.outside_number();
  if (!c.answered()) {
    return in ? absl::StrCat("Пропущенный входящий звонок ", number)
              : absl::StrCat("Исходящий звонок ", number, ", без ответа");
  }
  return absl::StrCat(in ? "Входящий звонок " : "Исходящий звонок ", number, ", ", c.duration_seconds() / 60,
                      " мин ", c.duration_seconds() % 60, " с");
}

// Locks the call's row if no one holds it (sql.h kTryLockCall); else the queue row `id` is due again in a
// second and false is returned.
bool LockCallOrLater(pqxx::transaction_base& tx, int64_t id, const std::string& call_id, absl::Time now) {
  if (!crm::pg::ExecPrepared(tx, sql::kTryLockCall, call_id).empty()) return true;
  crm::pg::ExecPrepared(tx, sql::kSyncLater, id, FormatRfc3339Utc(now + absl::Seconds(1)));
  return false;
}

}  // namespace

struct DealsSync::Stubs {
  explicit Stubs(const std::shared_ptr<grpc::Channel>& channel)
      : clients(dv1::ClientService::NewStub(channel)), interactions(dv1::InteractionService::NewStub(channel)) {}
  std::unique_ptr<dv1::ClientService::Stub> clients;
  std::unique_ptr<dv1::InteractionService::Stub> interactions;
};

DealsSync::DealsSync(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
                     std::shared_ptr<grpc::Channel> deals, const crm::auth::SigningKey* key,
                     absl::Duration call_timeout)
    : pool_(pool), clock_(clock), outbox_(outbox), stubs_(std::make_unique<Stubs>(deals)), key_(key),
      timeout_(call_timeout) {}

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
    pqxx::result rows = crm::pg::ExecPrepared(tx, sql::kClaimSync, FormatRfc3339Utc(now));
    any = !rows.empty();
    if (!any) return absl::OkStatus();
    const int64_t id = rows[0][0].as<int64_t>();
    const std::string kind = rows[0][1].c_str();
    const std::string call_id = rows[0][2].c_str();
    const int attempts = rows[0][3].as<int>();
    std::optional<v1::Call> call = LoadCall(tx, call_id, false);
    if (!call) {
      crm::pg::ExecPrepared(tx, sql::kSyncDone, id);
      return absl::OkStatus();
    }
    if (kind == "interaction" && (call->client_id().empty() || call->user_id().empty())) {
      crm::pg::ExecPrepared(tx, sql::kSyncPark, id,
                            call->client_id().empty() ? "waits for the call's client" : "no employee on the call");
      return absl::OkStatus();
    }

    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    const std::string bytes = TelephonyPrincipal().SerializeAsString();
    if (key_ == nullptr) {
      crm::rpc::SetCaller(ctx, TelephonyPrincipal());
    } else {
      CRM_ASSIGN_OR_RETURN(std::string sig, crm::auth::SignPrincipalBytes(bytes, *key_, now));
      ctx.AddMetadata(crm::rpc::kPrincipalHeader, bytes);
      ctx.AddMetadata(std::string(crm::auth::kPrincipalSigHeader), sig);
    }

    grpc::Status answer;
    if (kind == "identify") {
      dv1::FindDuplicatesRequest req;
      req.set_phone(call->outside_number());
      dv1::FindDuplicatesResponse resp;
      answer = stubs_->clients->FindDuplicates(&ctx, req, &resp);
      if (answer.ok() && !LockCallOrLater(tx, id, call_id, now)) return absl::OkStatus();
      if (answer.ok()) {
        nlohmann::json candidates = nlohmann::json::array();
        v1::CallIdentified event;
        for (const dv1::Client& c : resp.clients()) {
          candidates.push_back({{"id", c.id()}, {"name", c.name()}});
          v1::IdentifiedClient* x = event.add_candidates();
          x->set_id(c.id());
          x->set_name(c.name());
        }
        const int n = resp.clients_size();
        const std::string state = n == 0 ? "none" : n == 1 ? "identified" : "candidates";
        crm::pg::ExecPrepared(tx, sql::kIdentified, call_id, candidates.dump(), state,
                              n == 1 ? resp.clients(0).id() : std::string(),
                              n == 1 ? resp.clients(0).name() : std::string(), FormatRfc3339Utc(now));
        std::optional<v1::Call> fresh = LoadCall(tx, call_id, false);
        *event.mutable_call() = SummaryOf(*fresh);
        CRM_RETURN_IF_ERROR(EmitCallEvent(tx, outbox_, *fresh, v1::kCallIdentifiedType, event));
        // A parked interaction of an ended call goes once the call has its client.
        if (!fresh->client_id().empty() && fresh->state() == v1::CALL_STATE_ENDED) {
          crm::pg::ExecPrepared(tx, sql::kEnqueueInteraction, call_id, FormatRfc3339Utc(now));
        }
      }
    } else {
      dv1::UpsertInteractionRequest req;
      dv1::Interaction& x = *req.mutable_interaction();
      x.set_kind(dv1::Interaction::CALL);
      x.set_status(dv1::Interaction::DONE);
      x.set_direction(call->direction() == v1::CALL_DIRECTION_OUTBOUND ? dv1::Interaction::OUTBOUND
                                                                       : dv1::Interaction::INBOUND);
      x.set_client_id(call->client_id());
      x.set_responsible_id(call->user_id());
      x.set_deal_id(call->deal_id());
      x.set_project_id(call->project_id());
      x.set_subject(Subject(*call));
      if (!call->recording_url().empty()) x.set_result(absl::StrCat("Запись: ", call->recording_url()));
      *x.mutable_start_time() = call->start_time();
      *x.mutable_end_time() = call->has_end_time() ? call->end_time() : call->start_time();
      x.set_source(kInteractionSource);
      x.set_external_id(call->id());
      dv1::Interaction resp;
      answer = stubs_->interactions->UpsertInteraction(&ctx, req, &resp);
      if (answer.ok() && !LockCallOrLater(tx, id, call_id, now)) return absl::OkStatus();
      if (answer.ok()) {
        const std::string primacy = resp.primacy() == dv1::Interaction::PRIMARY     ? "primary"
                                    : resp.primacy() == dv1::Interaction::SECONDARY ? "secondary"
                                                                                     : "";
        crm::pg::ExecPrepared(tx, sql::kInteractionRecorded, call_id, resp.id(), primacy, FormatRfc3339Utc(now));
      }
    }
    if (answer.ok()) {
      crm::pg::ExecPrepared(tx, sql::kSyncDone, id);
    } else {
      const absl::Status s = FromGrpcStatus(answer);
      crm::log::Warn(absl::StrCat("calls: deals did not take ", kind, " of call ", call_id, ": ", s.ToString()));
      crm::pg::ExecPrepared(tx, sql::kSyncRetry, id, std::string(s.ToString()),
                            FormatRfc3339Utc(now + Backoff(attempts)));
    }
    return absl::OkStatus();
  }));
  return any;
}

}  // namespace crm::telephony::calls
