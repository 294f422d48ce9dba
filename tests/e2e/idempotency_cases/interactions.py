"""Idempotency cases of the deals service's interactions (D16) and client requests (D15) POST routes
(issue 17): read by the suite's test that walks every POST route of the API descriptor set
(tests/e2e/api_conventions_test.py), and by tests/e2e/interactions_test.py for the create's effect.

Each case is sent twice with one Idempotency-Key (200 both times, identical bodies: one interaction, one
request), then with the same key and another body (400 naming idempotency-key).
"""
import uuid

# The demo project (services/deals/interactions/demo.h: kDemoProjectId).
PROJECT = "01930000-0014-7000-8000-000000000001"


def fixtures(curl, as_):
    """A client of the manager's: what a request and an interaction belong to."""
    phone = "+7916%07d" % (uuid.uuid4().int % 10000000)
    r = curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": "Идемпотентный клиент", "phones": [phone]},
             headers=as_("manager"))
    if r.status != 200:
        raise AssertionError("fixture client: %s" % r.body)
    return {"client": r.json()["id"], "project": PROJECT}


CASES = [
    {"rpc": "crm.deals.v1.ClientRequestService.CreateClientRequest",
     "role": "manager",  # interactions.write.own
     "path": "/v1/requests",
     "body": {"clientId": "{client}", "projectId": "{project}", "unitKind": "APARTMENT", "source": "Сайт",
              "choiceFactors": ["Цена"], "comment": "Проверка идемпотентности"}},
    {"rpc": "crm.deals.v1.InteractionService.CreateInteraction",
     "role": "manager",
     "path": "/v1/interactions",
     "body": {"kind": "CALL", "clientId": "{client}", "plannedTime": "2030-01-15T09:00:00Z",
              "subject": "Проверка идемпотентности"}},
    {"rpc": "crm.deals.v1.InteractionService.CompleteInteraction",
     "exempt": "a state transition PLANNED → DONE: a repeat finds it DONE (400 FAILED_PRECONDITION) and plans no "
               "second next interaction; a version may guard it too"},
    {"rpc": "crm.deals.v1.InteractionService.CancelInteraction",
     "exempt": "a state transition PLANNED → CANCELLED: a repeat finds it cancelled and changes nothing"},
]
