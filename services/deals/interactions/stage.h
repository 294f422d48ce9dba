// File: services/deals/interactions/stage.h
// -----------------------------------------------------------------------------
// The pure rules of D15/D16 (no database): how a client request's stage follows from its finished
// interactions (seed 004 §6.2.1: «Стадия запроса определяется системой автоматически, исходя из
// завершенных взаимодействий»), and what a finishing decode plans next (§6.5.3).
//
// The stage is the furthest the client has come — NEW < PRIMARY_CONTACT < MEETING_SCHEDULED <
// MEETING_HELD — unless the latest decode was «Отказ» (REFUSED). Each DONE interaction, in the order
// they finished, counts as:
//   a MEETING whose decode is not «Отказ»              → MEETING_HELD (the client came);
//   any other with decode «Назначена встреча»          → MEETING_SCHEDULED;
//   any other (a call, letter, dialog; «Принятие
//   решения», «Анализ рынка», or no decode)            → PRIMARY_CONTACT;
//   decode «Отказ» (whatever the kind)                 → REFUSED, keeping how far the client had come:
//                                                        a later interaction that is not a refusal
//                                                        reopens the request at that point (or further).
// Cancelled and planned interactions do not count. A meeting's decode «Назначена встреча» (the next
// meeting booked at the end of one) keeps MEETING_HELD: the client has come once.
//
// Example:
//   ClientRequest::Stage s = StageOf({{Interaction::CALL, Interaction::MEETING_SCHEDULED},
//                                     {Interaction::MEETING, Interaction::DECISION_MAKING}});
//   // s == ClientRequest::MEETING_HELD
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_STAGE_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_STAGE_H_

#include <optional>
#include <string>
#include <vector>

#include "crm/deals/v1/interactions.pb.h"
#include "crm/deals/v1/requests.pb.h"

namespace crm::deals::interactions {

// One finished (DONE) interaction of a request, as the stage sees it.
struct Finished {
  crm::deals::v1::Interaction::Kind kind = crm::deals::v1::Interaction::KIND_UNSPECIFIED;
  crm::deals::v1::Interaction::Outcome outcome = crm::deals::v1::Interaction::OUTCOME_UNSPECIFIED;
};

// The request's stage after `finished` (in the order they finished); NEW for none.
crm::deals::v1::ClientRequest::Stage StageOf(const std::vector<Finished>& finished);

// The stage as staff read it: «Новый», «Первичный контакт», «Назначена встреча», «Встреча проведена»,
// «Отказ»; "" for STAGE_UNSPECIFIED.
std::string StageName(crm::deals::v1::ClientRequest::Stage stage);

// The decode as staff read it: «Принятие решения», «Анализ рынка», «Назначена встреча», «Отказ».
std::string OutcomeName(crm::deals::v1::Interaction::Outcome outcome);

// What finishing with `outcome` plans next (§6.5.3): a CALL for «Принятие решения» and «Анализ рынка», a
// MEETING for «Назначена встреча», nothing (nullopt) for «Отказ» and for no decode.
std::optional<crm::deals::v1::Interaction::Kind> NextKindFor(crm::deals::v1::Interaction::Outcome outcome);

// Whether finishing an interaction of `kind` linked to a request needs a decode: calls and meetings do
// (§6.5.3: «необходимо указать актуальный статус запроса, расшифровку»), letters and dialogs do not.
bool OutcomeRequired(crm::deals::v1::Interaction::Kind kind);

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_STAGE_H_
