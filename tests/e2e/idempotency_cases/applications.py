"""Idempotency cases of the deals service's deal application POST routes (issue 17, D15 second half):
read by the suite's test that walks every POST route of the API descriptor set, and by
tests/e2e/applications_test.py, which runs them itself.

Each case is sent twice with one Idempotency-Key (200 both times, identical bodies: one application), then
with the same key and another body (400 naming idempotency-key).
"""
import uuid


def fixtures(curl, as_):
    """A project with a unit (the head of sales keeps the inventory), and a manager's client and request
    in it: what an application is made from."""
    def ok(r, what):
        if r.status != 200:
            raise AssertionError("fixture %s: %s" % (what, r.body))
        return r.json()
    project = ok(curl("POST", "/v1/realty/projects", {"name": "ЖК " + uuid.uuid4().hex[:6]},
                      headers=as_("head_of_sales")), "project")
    building = ok(curl("POST", "/v1/realty/projects/%s/buildings" % project["id"],
                       {"name": "Корпус 1", "sections": [{"number": 1, "lastFloor": 5}]},
                       headers=as_("head_of_sales")), "building")
    unit = ok(curl("POST", "/v1/realty/buildings/%s/units" % building["id"],
                   {"sectionNumber": 1, "floor": 2, "position": 1, "number": "21", "kind": "APARTMENT", "rooms": 2,
                    "areaCentiM2": "5000", "price": {"amountMinor": "1000000000", "currency": "RUB"},
                    "status": "AVAILABLE"}, headers=as_("head_of_sales")), "unit")
    phone = "+7916%07d" % (uuid.uuid4().int % 10000000)
    client = ok(curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": "Идемпотентный покупатель",
                                             "phones": [phone]}, headers=as_("manager")), "client")
    request = ok(curl("POST", "/v1/requests", {"clientId": client["id"], "projectId": project["id"],
                                               "unitKind": "APARTMENT"}, headers=as_("manager")), "request")
    return {"request": request["id"], "unit": unit["id"]}


CASES = [
    {"rpc": "crm.deals.v1.DealApplicationService.CreateDealApplication",
     "role": "manager",  # applications.write.own, the request's responsible
     "path": "/v1/dealApplications",
     "body": {"requestId": "{request}", "unitId": "{unit}", "paymentKind": "FULL_PAYMENT",
              "comment": "Проверка идемпотентности"}},
    {"rpc": "crm.deals.v1.DealApplicationService.RecalculateShares",
     "exempt": "a function of the application: a repeat recomputes the same shares and changes nothing (no new "
               "version, no event); a version may guard it too"},
    {"rpc": "crm.deals.v1.DealApplicationService.ChangeDealApplicationStatus",
     "exempt": "a state transition guarded by the status itself: a repeat finds the status reached and changes "
               "nothing; a version may guard it too"},
]
