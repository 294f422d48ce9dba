// File: services/telephony/calls/intake.cc
#include "services/telephony/calls/intake.h"

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "proto/crm/telephony/v1/event_types.h"
#include "services/telephony/calls/model.h"
#include "services/telephony/calls/sql.h"
#include "services/telephony/calls/store.h"

namespace crm::telephony::calls {
namespace {

constexpr size_t kMaxKey = 500;

std::string Ts(const std::optional<absl::Time>& t) { return t ? FormatRfc3339Utc(*t) : std::string(); }

std::optional<absl::Time> TimeOf(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return std::nullopt;
  return FromProtoTimestamp(ts);
}

Leg ModelLeg(const v1::CallLeg& l) {
  Leg out;
  out.leg_key = l.leg_key();
  out.channel = l.channel();
  out.extension = l.extension();
  out.user_id = l.user_id();
  out.state = l.state() == v1::CALL_STATE_ENDED      ? State::kEnded
              : l.state() == v1::CALL_STATE_ANSWERED ? State::kAnswered
                                                     : State::kRinging;
  out.answered = l.answered();
  out.started_at = TimeOf(l.start_time()).value_or(absl::InfinitePast());
  out.answered_at = TimeOf(l.answer_time());
  out.ended_at = TimeOf(l.end_time());
  out.end_reason = l.end_reason();
  return out;
}

CallState ModelCall(const v1::Call& c) {
  CallState s;
  s.state = c.state() == v1::CALL_STATE_ENDED      ? State::kEnded
            : c.state() == v1::CALL_STATE_ANSWERED ? State::kAnswered
                                                   : State::kRinging;
  s.answered = c.answered();
  s.answered_at = TimeOf(c.answer_time());
  s.ended_at = TimeOf(c.end_time());
  s.duration_seconds = c.duration_seconds();
  s.user_id = c.user_id();
  return s;
}

absl::Status Check(const CallEvent& e) {
  std::vector<FieldViolation> bad;
  if (e.provider.empty() || e.provider.size() > 50) bad.push_back({"provider", "required, at most 50 bytes"});
  if (e.event_key.empty() || e.event_key.size() > kMaxKey) bad.push_back({"event_key", "required, at most 500 bytes"});
  if (e.call_key.empty() || e.call_key.size() > kMaxKey) bad.push_back({"call_key", "required, at most 500 bytes"});
  if (e.leg_key.size() > kMaxKey) bad.push_back({"leg_key", "at most 500 bytes"});
  if (e.kind == CallEvent::Kind::kRecording && e.recording_url.empty()) {
    bad.push_back({"recording_url", "required for a recording"});
  }
  return bad.empty() ? absl::OkStatus() : InvalidFieldsError(bad);
}

}  // namespace

Intake::Intake(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox)
    : pool_(pool), clock_(clock), outbox_(outbox) {}

absl::StatusOr<bool> Intake::Record(const CallEvent& in) {
  CRM_RETURN_IF_ERROR(Check(in));
  CallEvent e = in;
  const absl::Time now = clock_.Now();
  if (e.time == absl::UnixEpoch() || e.time == absl::InfinitePast() || e.time == absl::InfiniteFuture()) e.time = now;
  const std::string from = NormalizeNumber(e.from);
  const std::string to = NormalizeNumber(e.to);
  bool fresh = false;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    fresh = !crm::pg::ExecPrepared(tx, sql::kInsertFact, e.provider, e.event_key, e.call_key, KindName(e.kind),
                                   FormatRfc3339Utc(now))
                 .empty();
    if (!fresh) return absl::OkStatus();
    const pqxx::row up = crm::pg::ExecPrepared1(tx, sql::kUpsertCall, NewUuidV7(), e.provider, e.call_key,
                                                DirectionName(e.direction), from, to, e.line,
                                                FormatRfc3339Utc(e.time), FormatRfc3339Utc(now));
    const std::string call_id = up[0].c_str();
    const bool created = up[1].as<bool>();
    pqxx::row stored = crm::pg::ExecPrepared1(tx, sql::kCallById, call_id);
    v1::Call call = CallOf(stored);
    const bool finished_sent = FinishedSentOf(stored);
    const CallState before = ModelCall(call);

    if (e.kind == CallEvent::Kind::kRecording) {
      if (!crm::pg::ExecPrepared(tx, sql::kSetRecording, call_id, e.recording_url, FormatRfc3339Utc(now)).empty()) {
        v1::CallRecording r;
        r.set_call_id(call_id);
        r.set_recording_url(e.recording_url);
        CRM_RETURN_IF_ERROR(EmitCallEvent(tx, outbox_, call, v1::kCallRecordingType, r));
      }
      if (!created) return absl::OkStatus();
    } else {
      const std::string leg_key = e.leg_key.empty() ? absl::StrCat("call:", e.call_key) : e.leg_key;
      pqxx::result lr = crm::pg::ExecPrepared(tx, sql::kLegByKey, e.provider, leg_key);
      std::string leg_id = lr.empty() ? NewUuidV7() : lr[0][0].c_str();
      Leg leg = lr.empty() ? Leg{} : ModelLeg(LegOf(lr[0]));
      leg = ApplyFact(std::move(leg), e);
      leg.leg_key = leg_key;
      if (leg.user_id.empty() && !leg.extension.empty()) {
        pqxx::result u = crm::pg::ExecPrepared(tx, sql::kExtensionUser, e.provider, leg.extension);
        if (!u.empty()) leg.user_id = u[0][0].c_str();
      }
      crm::pg::ExecPrepared(tx, sql::kUpsertLeg, leg_id, call_id, e.provider, leg.leg_key, leg.channel, leg.extension,
                            leg.user_id, StateName(leg.state), leg.answered, FormatRfc3339Utc(leg.started_at),
                            Ts(leg.answered_at), Ts(leg.ended_at), leg.end_reason);
    }
    std::vector<Leg> legs;
    for (const v1::CallLeg& l : LoadLegs(tx, call_id)) legs.push_back(ModelLeg(l));
    const CallEvent::Direction direction_now =
        call.direction() == v1::CALL_DIRECTION_INTERNAL ? CallEvent::Direction::kInternal
        : call.direction() == v1::CALL_DIRECTION_INBOUND ? CallEvent::Direction::kInbound
        : call.direction() == v1::CALL_DIRECTION_OUTBOUND ? CallEvent::Direction::kOutbound
                                                           : CallEvent::Direction::kUnknown;
    const CallState after = DeriveCall(legs, before, direction_now);
    Emits emits = EmitsOf(created, before, after);
    emits.finished = emits.finished && !finished_sent;
    emits.started = emits.started && e.kind != CallEvent::Kind::kRecording;  // a recording alone rings nobody
    const std::string direction = DirectionName(call.direction());
    const std::string outside = OutsideNumber(direction, call.from_number(), call.to_number());
    crm::pg::ExecPrepared(tx, sql::kUpdateCallState, call_id, StateName(after.state), after.answered,
                          Ts(after.answered_at), Ts(after.ended_at), after.duration_seconds, after.user_id, outside,
                          emits.finished, FormatRfc3339Utc(now));
    call = CallOf(crm::pg::ExecPrepared1(tx, sql::kCallById, call_id));
    if (!outside.empty() && call.identification() == v1::IDENTIFICATION_PENDING) {
      crm::pg::ExecPrepared(tx, sql::kEnqueueIdentify, call_id, FormatRfc3339Utc(now));
    }
    const bool changed_after_end = before.state == State::kEnded &&
                                   (before.answered != after.answered ||
                                    before.duration_seconds != after.duration_seconds ||
                                    before.user_id != after.user_id);
    if (emits.finished || changed_after_end) {
      crm::pg::ExecPrepared(tx, sql::kEnqueueInteraction, call_id, FormatRfc3339Utc(now));
    }
    if (emits.started) {
      v1::CallStarted s;
      *s.mutable_call() = SummaryOf(call);
      std::vector<std::string> rung;  // the employees whose phones ring see it live
      for (const Leg& l : legs) {
        if (l.extension.empty()) continue;
        s.add_extensions(l.extension);
        s.add_user_ids(l.user_id);
        if (!l.user_id.empty()) rung.push_back(l.user_id);
      }
      CRM_RETURN_IF_ERROR(EmitCallEvent(tx, outbox_, call, v1::kCallStartedType, s, rung));
    }
    if (emits.answered) {
      v1::CallAnswered a;
      *a.mutable_call() = SummaryOf(call);
      *a.mutable_answer_time() = call.answer_time();
      CRM_RETURN_IF_ERROR(EmitCallEvent(tx, outbox_, call, v1::kCallAnsweredType, a));
    }
    if (emits.finished) {
      const v1::CallFinished f = FinishedOf(call);
      CRM_RETURN_IF_ERROR(EmitCallEvent(tx, outbox_, call, v1::kCallFinishedType, f));
    }
    return absl::OkStatus();
  }));
  return fresh;
}

absl::StatusOr<std::vector<LegRef>> Intake::OpenLegs(std::string_view provider) {
  std::vector<LegRef> out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.clear();
    for (const auto& r : crm::pg::ExecPrepared(tx, sql::kOpenLegs, std::string(provider))) {
      out.push_back(LegRef{.call_key = r[0].c_str(), .leg_key = r[1].c_str(), .channel = r[2].c_str()});
    }
    return absl::OkStatus();
  }));
  return out;
}

CallIntakeApi Intake::Api() {
  return CallIntakeApi{.record = [this](const CallEvent& e) { return Record(e); },
                       .open_legs = [this](std::string_view provider) { return OpenLegs(provider); }};
}

}  // namespace crm::telephony::calls
