// File: services/dialogs/context.h
// -----------------------------------------------------------------------------
// What the dialogs service's parts share once wired (libs/parts/parts.h: wiring.cc builds it; each part's
// Wire<Part>(ctx) adds its gRPC services, workers and timer kinds): the database, the clock, the company's
// calendar, the outbox writer, the durable timers by kind and deals (the client search by phone and D16's
// interactions). A part reads its own settings from `env` (CRM_DIALOGS_<NAME>) and returns OK with
// env.status() bad when one is bad.
//
// Parts (issue 18; README.md): telegram/ (T1: the Bot API, intake, the sender), inbox/ (T2, T5–T9:
// dialogs, messages, routing, the operator API), scenarios/ (T3, T4: the chat-bot engine), routing/ (T6,
// T8), outreach/ (T7's templates and QR codes, T9).
#ifndef CRM_SERVICES_DIALOGS_CONTEXT_H_
#define CRM_SERVICES_DIALOGS_CONTEXT_H_

#include "libs/parts/parts.h"
#include "libs/timers/kinds.h"

namespace crm::dialogs {

using Context = crm::parts::Context;
using TimerKinds = crm::timers::TimerKinds;

}  // namespace crm::dialogs

#endif  // CRM_SERVICES_DIALOGS_CONTEXT_H_
