"""Idempotency cases of the POST routes of crm.telephony.v1.CallService (the calls part of telephony: issue 19,
P1, P2; issue 16's contract): read by the suite's walk of every POST route (tests/e2e/api_conventions_test.py).

Every one of them drives a PBX, and the walk's stack has no telephony nor a PBX. Originate honours
Idempotency-Key (the record in the transaction that asks the adapter): twice with one key the PBX is asked
once and the same answer comes back — proven against a recording adapter by services/telephony/calls/
calls_test.cc (CommandsReachTheAdapterOfTheCallsProvider); without a PBX it answers FAILED_PRECONDITION
naming the provider (tests/e2e/telephony_calls_test.py). The leg commands and SetCallClient change the state
of an existing call and create nothing.
"""


def fixtures(curl, as_):
    return {}


CASES = [
    {"rpc": "crm.telephony.v1.CallService.Originate",
     "exempt": "needs a PBX, which the walk's stack has not: Idempotency-Key is proven by "
               "services/telephony/calls/calls_test.cc against a recording adapter (one originate for two calls)"},
    {"rpc": "crm.telephony.v1.CallService.Transfer",
     "exempt": "a command about an existing leg: a repeat asks the PBX to send the same leg to the same target; "
               "nothing is created"},
    {"rpc": "crm.telephony.v1.CallService.Hold",
     "exempt": "sets a leg's hold to the given state: a repeat sets the same state"},
    {"rpc": "crm.telephony.v1.CallService.Merge",
     "exempt": "joins two existing legs: a repeat asks for the same bridge; nothing is created"},
    {"rpc": "crm.telephony.v1.CallService.Hangup",
     "exempt": "ends an existing leg: a repeat finds it ended and is refused"},
    {"rpc": "crm.telephony.v1.CallService.SetCallClient",
     "exempt": "sets the call's client, deal and project to the given values: a repeat sets the same"},
]
