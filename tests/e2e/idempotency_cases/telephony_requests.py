"""Idempotency cases of the POST routes of crm.telephony.v1.CallRequestService (the call-request queue: issue
19, P4; issue 16's contract): read by the suite's walk of every POST route (tests/e2e/api_conventions_test.py)
and by tests/e2e/telephony_requests_test.py, which runs them itself.

CreateCallRequest honours Idempotency-Key (the record in the transaction of the insert): twice with one key it
answers 200 with the same request; the same key with another comment is 400 naming idempotency-key. Phones
carry a fresh number so the cases run in any order on any stack. SetReadiness, Accept, Decline and Finish are
state transitions of the caller's own queue: exempt.
"""
import random


def fixtures(curl, as_):
    return {"phone": "+7916%07d" % random.randint(0, 9999999)}


CASES = [
    {"rpc": "crm.telephony.v1.CallRequestService.CreateCallRequest", "role": "call_center_operator",
     "path": "/v1/telephony/requests",
     "body": {"source": "REQUEST_SOURCE_MANUAL", "type": "REQUEST_TYPE_CALLBACK", "phone": "{phone}",
              "comment": "Идемпотентность"},
     "other_body": {"source": "REQUEST_SOURCE_MANUAL", "type": "REQUEST_TYPE_CALLBACK", "phone": "{phone}",
                    "comment": "Другая заявка"}},
    {"rpc": "crm.telephony.v1.CallRequestService.SetReadiness",
     "exempt": "sets the caller's own readiness: a repeat sets the same state again and creates nothing"},
    {"rpc": "crm.telephony.v1.CallRequestService.AcceptCallRequest",
     "exempt": "a state transition guarded by the state: an accepted offer is IN_WORK, a repeat is refused"},
    {"rpc": "crm.telephony.v1.CallRequestService.DeclineCallRequest",
     "exempt": "a state transition guarded by the state: a declined offer is no longer the caller's, a repeat is "
               "refused"},
    {"rpc": "crm.telephony.v1.CallRequestService.FinishCallRequest",
     "exempt": "a state transition guarded by the state: a finished request is no longer in work, a repeat is "
               "refused"},
]
