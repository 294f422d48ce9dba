// File: services/telephony/context.h
// -----------------------------------------------------------------------------
// What the telephony service's parts share once wired (libs/parts/parts.h: wiring.cc builds it; each part's
// Wire<Part>(ctx) adds its gRPC services, workers and timer kinds): the database, the clock, the company's
// calendar, the outbox writer, the durable timers by kind and deals (the client search by phone and D16's
// interactions). A part reads its own settings from `env` (CRM_TELEPHONY_<NAME>) and returns OK with
// env.status() bad when one is bad.
//
// Parts (issue 19; README.md): calls/ (P1, P2: the call model, the intake every PBX adapter feeds, the call
// log, caller identification, interactions, commands), ami/ (P1: Asterisk over AMI), requests/ (P4: the
// call-request queue).
#ifndef CRM_SERVICES_TELEPHONY_CONTEXT_H_
#define CRM_SERVICES_TELEPHONY_CONTEXT_H_

#include "libs/parts/parts.h"
#include "libs/timers/kinds.h"

namespace crm::telephony {

using Context = crm::parts::Context;
using TimerKinds = crm::timers::TimerKinds;

}  // namespace crm::telephony

#endif  // CRM_SERVICES_TELEPHONY_CONTEXT_H_
