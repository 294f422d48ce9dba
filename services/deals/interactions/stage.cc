// File: services/deals/interactions/stage.cc
#include "services/deals/interactions/stage.h"

#include <algorithm>

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;

v1::ClientRequest::Stage StageOf(const std::vector<Finished>& finished) {
  // The furthest point reached (NEW .. MEETING_HELD, ordered by their numbers) and whether the latest
  // decode refused.
  v1::ClientRequest::Stage reached = v1::ClientRequest::NEW;
  bool refused = false;
  for (const Finished& f : finished) {
    if (f.outcome == v1::Interaction::REFUSAL) {
      refused = true;
      continue;
    }
    refused = false;
    v1::ClientRequest::Stage now = v1::ClientRequest::PRIMARY_CONTACT;
    if (f.kind == v1::Interaction::MEETING) {
      now = v1::ClientRequest::MEETING_HELD;
    } else if (f.outcome == v1::Interaction::MEETING_SCHEDULED) {
      now = v1::ClientRequest::MEETING_SCHEDULED;
    }
    reached = std::max(reached, now);
  }
  return refused ? v1::ClientRequest::REFUSED : reached;
}

std::string StageName(v1::ClientRequest::Stage stage) {
  switch (stage) {
    case v1::ClientRequest::NEW:
      return "Новый";
    case v1::ClientRequest::PRIMARY_CONTACT:
      return "Первичный контакт";
    case v1::ClientRequest::MEETING_SCHEDULED:
      return "Назначена встреча";
    case v1::ClientRequest::MEETING_HELD:
      return "Встреча проведена";
    case v1::ClientRequest::REFUSED:
      return "Отказ";
    default:
      return "";
  }
}

std::string OutcomeName(v1::Interaction::Outcome outcome) {
  switch (outcome) {
    case v1::Interaction::DECISION_MAKING:
      return "Принятие решения";
    case v1::Interaction::MARKET_ANALYSIS:
      return "Анализ рынка";
    case v1::Interaction::MEETING_SCHEDULED:
      return "Назначена встреча";
    case v1::Interaction::REFUSAL:
      return "Отказ";
    default:
      return "";
  }
}

std::optional<v1::Interaction::Kind> NextKindFor(v1::Interaction::Outcome outcome) {
  switch (outcome) {
    case v1::Interaction::DECISION_MAKING:
    case v1::Interaction::MARKET_ANALYSIS:
      return v1::Interaction::CALL;
    case v1::Interaction::MEETING_SCHEDULED:
      return v1::Interaction::MEETING;
    default:
      return std::nullopt;
  }
}

bool OutcomeRequired(v1::Interaction::Kind kind) {
  return kind == v1::Interaction::CALL || kind == v1::Interaction::MEETING;
}

}  // namespace crm::deals::interactions
