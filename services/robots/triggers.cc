#include "services/robots/triggers.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/events.pb.h"
#include "crm/deals/v1/interactions_events.pb.h"
#include "crm/deals/v1/tasks.pb.h"
#include "crm/dialogs/v1/events.pb.h"
#include "crm/telephony/v1/events.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "services/robots/rule_store.h"

namespace crm::robots {
namespace {

namespace dv1 = ::crm::deals::v1;
using v1::Rule;
using v1::Trigger;

template <typename M>
absl::Status Unpack(const events::v1::Envelope& e, M& m) {
  if (!e.payload().UnpackTo(&m)) {
    return absl::InvalidArgumentError(absl::StrCat("event ", e.id(), " of type ", e.type(), ": payload is not ",
                                                   M::descriptor()->full_name()));
  }
  return absl::OkStatus();
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

bool IsTouchTaskKind(dv1::Task::Kind kind) {
  return kind == dv1::Task::CALL || kind == dv1::Task::MEETING || kind == dv1::Task::EMAIL;
}

absl::StatusOr<std::optional<DealEvent>> DecodeEvent(const events::v1::Envelope& e) {
  DealEvent out;
  const std::string& t = e.type();
  if (t == kDealCreatedType) {
    dv1::DealCreated m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal = m.deal();
    out.kinds = {Trigger::DEAL_CREATED, Trigger::STAGE_ENTERED};
    out.entered_stage = true;
  } else if (t == kDealUpdatedType) {
    dv1::DealUpdated m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal = m.deal();
    out.changed_fields.assign(m.changed_fields().begin(), m.changed_fields().end());
    out.kinds = {Trigger::FIELD_CHANGED};
  } else if (t == kDealStageChangedType) {
    dv1::DealStageChanged m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal = m.deal();
    out.from_stage_id = m.from_stage_id();
    out.from_pipeline_id = m.from_pipeline_id().empty() ? m.deal().pipeline_id() : m.from_pipeline_id();
    out.kinds = {Trigger::STAGE_ENTERED, Trigger::STAGE_LEFT};
    out.entered_stage = true;
    if (!m.comment().empty()) {  // a comment sent with the move is a comment in the new stage
      out.comment = true;
      if (m.deal().has_stage_enter_time()) out.comment_time = FromProtoTimestamp(m.deal().stage_enter_time());
    }
  } else if (t == kDealResponsibleChangedType) {
    dv1::DealResponsibleChanged m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal = m.deal();
    out.kinds = {Trigger::RESPONSIBLE_CHANGED};
  } else if (t == kDealWonType) {
    dv1::DealWon m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal = m.deal();
    out.kinds = {Trigger::DEAL_WON};
    out.won = true;
  } else if (t == kDealLostType) {
    dv1::DealLost m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal = m.deal();
    out.kinds = {Trigger::DEAL_LOST};
  } else if (t == kCommentAddedType) {
    dv1::CommentAdded m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal_id = m.entry().deal_id();
    out.comment = true;
    if (m.entry().has_create_time()) out.comment_time = FromProtoTimestamp(m.entry().create_time());
    out.kinds = {Trigger::COMMENT_ADDED};
  } else if (t == kTaskCreatedType || t == kTaskCompletedType || t == kTaskOverdueType) {
    dv1::Task task;
    if (t == kTaskCreatedType) {
      dv1::TaskCreated m;
      CRM_RETURN_IF_ERROR(Unpack(e, m));
      task = m.task();
      out.kinds = {Trigger::TASK_CREATED};
    } else if (t == kTaskCompletedType) {
      dv1::TaskCompleted m;
      CRM_RETURN_IF_ERROR(Unpack(e, m));
      task = m.task();
      out.kinds = {Trigger::TASK_COMPLETED};
      // R4: a completed call, meeting or e-mail is the manager's touch.
      if (IsTouchTaskKind(task.kind()) && !task.id().empty()) {
        out.touch = true;
        out.touch_key = absl::StrCat("task:", task.id());
      }
    } else {
      dv1::TaskOverdue m;
      CRM_RETURN_IF_ERROR(Unpack(e, m));
      task = m.task();
      out.kinds = {Trigger::TASK_OVERDUE};
    }
    out.deal_id = task.deal_id();
    out.task_title = task.title();
  } else if (t == kCallFinishedType) {
    crm::telephony::v1::CallFinished m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal_id = m.deal_id();
    out.touch = true;
    out.touch_key = absl::StrCat("call:", m.call_id().empty() ? e.id() : m.call_id());
    out.kinds = {Trigger::CALL_FINISHED};
  } else if (t == kMessageReceivedType || t == kMessageSentType) {
    crm::dialogs::v1::MessageExchanged m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    out.deal_id = m.deal_id();
    if (t == kMessageSentType) {
      out.touch = true;  // a message to the client is a touch (R4); the client's own is not
      out.touch_key = absl::StrCat("message:", m.message_id().empty() ? e.id() : m.message_id());
    } else {
      out.kinds = {Trigger::MESSAGE_RECEIVED};
    }
  } else {
    return std::optional<DealEvent>();
  }
  if (out.deal.has_value()) out.deal_id = out.deal->id();
  if (out.deal_id.empty()) return std::optional<DealEvent>();  // a call or message with no deal
  return std::optional<DealEvent>(std::move(out));
}

absl::StatusOr<std::vector<DealEvent>> DecodeEvents(const events::v1::Envelope& e) {
  std::vector<DealEvent> out;
  if (e.type() == kInteractionCompletedType) {
    // Issue 17 (D16): a finished interaction is one touch of each deal it touched.
    dv1::InteractionCompleted m;
    CRM_RETURN_IF_ERROR(Unpack(e, m));
    const dv1::Interaction& x = m.interaction();
    const std::string key = x.source() == "telephony" && !x.external_id().empty()
                                ? absl::StrCat("call:", x.external_id())
                                : absl::StrCat("interaction:", x.id().empty() ? e.id() : x.id());
    for (const std::string& deal : m.touched_deal_ids()) {
      if (deal.empty()) continue;
      DealEvent d;
      d.deal_id = deal;
      d.touch = true;
      d.touch_key = key;
      out.push_back(std::move(d));
    }
    return out;
  }
  CRM_ASSIGN_OR_RETURN(std::optional<DealEvent> one, DecodeEvent(e));
  if (one.has_value()) out.push_back(*std::move(one));
  return out;
}

bool TriggerMatches(const Trigger& t, Trigger::Kind kind, const DealEvent& e, const dv1::Deal* deal) {
  if (t.kind() != kind) return false;
  if (kind == Trigger::STAGE_LEFT) {
    if (!t.pipeline_id().empty() && t.pipeline_id() != e.from_pipeline_id) return false;
    if (!t.stage_id().empty() && t.stage_id() != e.from_stage_id) return false;
    if (t.to_stage_ids_size() > 0 && (deal == nullptr || !Contains(t.to_stage_ids(), deal->stage_id()))) return false;
    return true;
  }
  if (!t.pipeline_id().empty() && (deal == nullptr || deal->pipeline_id() != t.pipeline_id())) return false;
  if (!t.stage_id().empty() && (deal == nullptr || deal->stage_id() != t.stage_id())) return false;
  if (kind == Trigger::FIELD_CHANGED) {
    return std::find(e.changed_fields.begin(), e.changed_fields.end(), t.field()) != e.changed_fields.end();
  }
  if (!t.task_title().empty() && t.task_title() != e.task_title) return false;
  return true;
}


std::vector<const Rule*> MatchRules(const RuleIndex& index, const DealEvent& e, const dv1::Deal* deal) {
  std::vector<const Rule*> out;
  std::set<std::string> started;  // a rule runs once per event, even when two of its kinds match
  for (Trigger::Kind kind : e.kinds) {
    // STAGE_LEFT rules are filed under the stage (and pipeline) left.
    const std::string pipeline =
        kind == Trigger::STAGE_LEFT ? e.from_pipeline_id : (deal != nullptr ? deal->pipeline_id() : "");
    const std::string stage = kind == Trigger::STAGE_LEFT ? e.from_stage_id : (deal != nullptr ? deal->stage_id() : "");
    for (const Rule* rule : index.Candidates(kind, pipeline, stage)) {
      if (started.count(rule->id()) > 0 || !TriggerMatches(rule->trigger(), kind, e, deal)) continue;
      started.insert(rule->id());
      out.push_back(rule);
    }
  }
  return out;
}

}  // namespace crm::robots
