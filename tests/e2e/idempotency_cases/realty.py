"""Idempotency cases of real estate's creating POST routes (issue 17, D14; services/deals/realty): read
by the suite's test that walks every POST route of the API descriptor set (tests/e2e/api_conventions_test.py).

Each case is sent twice with one Idempotency-Key (200 both times, identical bodies: one object), then
with the same key and another body (400 naming idempotency-key).
"""
import uuid


def fixtures(curl, as_):
    """A project with a building of one section (floors 1–5), a priced unit on sale in it, and a client."""
    suffix = uuid.uuid4().hex[:10]

    def ok(r):
        if r.status != 200:
            raise AssertionError("fixture failed: %s %s" % (r.status, r.body))
        return r.json()
    project = ok(curl("POST", "/v1/realty/projects", {"name": "ЖК Идемпотентный " + suffix},
                      headers=as_("head_of_sales")))
    building = ok(curl("POST", "/v1/realty/projects/%s/buildings" % project["id"],
                       {"name": "Корпус И", "sections": [{"number": 1, "lastFloor": 5}]},
                       headers=as_("head_of_sales")))
    unit = ok(curl("POST", "/v1/realty/buildings/%s/units" % building["id"],
                   {"sectionNumber": 1, "floor": 2, "position": 1, "number": "21", "kind": "APARTMENT",
                    "rooms": 2, "areaCentiM2": "5000", "price": {"amountMinor": "1000000000", "currency": "RUB"},
                    "status": "AVAILABLE"}, headers=as_("head_of_sales")))
    client = ok(curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": "Клиент " + suffix},
                     headers=as_("manager")))
    return {"project": project["id"], "building": building["id"], "unit": unit["id"], "client": client["id"],
            "suffix": suffix}


CASES = [
    {"rpc": "crm.deals.v1.RealtyService.CreateProject",
     "role": "head_of_sales",  # realty.manage
     "path": "/v1/realty/projects",
     "body": {"name": "ЖК Повтор"}},
    {"rpc": "crm.deals.v1.RealtyService.CreateBuilding",
     "role": "head_of_sales",
     "path": "/v1/realty/projects/{project}/buildings",
     "body": {"name": "Корпус повтора", "sections": [{"number": 1, "lastFloor": 9}]}},
    {"rpc": "crm.deals.v1.RealtyService.CreateUnit",
     "role": "head_of_sales",
     "path": "/v1/realty/buildings/{building}/units",
     "body": {"sectionNumber": 1, "floor": 3, "position": 1, "number": "31", "kind": "APARTMENT",
              "areaCentiM2": "4200"},
     # No free-text field for the walk to change: another unit number is the other request.
     "other_body": {"sectionNumber": 1, "floor": 3, "position": 1, "number": "32", "kind": "APARTMENT",
                    "areaCentiM2": "4200"}},
    {"rpc": "crm.deals.v1.RealtyService.ImportInventory",
     "role": "integrator",  # the external system's key: realty.manage
     "path": "/v1/realty/inventory:import",
     "body": {"projects": [{"externalId": "idem-p-{suffix}", "name": "ЖК Импорт"}],
              "buildings": [{"externalId": "idem-b-{suffix}", "projectExternalId": "idem-p-{suffix}",
                             "name": "Корпус 1", "sections": [{"number": 1, "lastFloor": 3}]}],
              "units": [{"externalId": "idem-u-{suffix}", "buildingExternalId": "idem-b-{suffix}",
                         "sectionNumber": 1, "floor": 1, "position": 1, "number": "1", "kind": "APARTMENT",
                         "areaCentiM2": "3500", "pricePerM2": {"amountMinor": "25000000"}}]}},
    {"rpc": "crm.deals.v1.RealtyService.ChangeUnitStatus",
     "exempt": "a move of the state machine: a repeat finds the unit in the asked status and changes nothing"},
    {"rpc": "crm.deals.v1.BookingService.CreateBooking",
     "role": "manager",  # bookings.write.own
     "path": "/v1/realty/units/{unit}/bookings",
     "body": {"clientId": "{client}", "fee": {"amountMinor": "5000000"}, "receiptNumber": "ПКО-1"},
     "other_body": {"clientId": "{client}", "fee": {"amountMinor": "5000000"}, "receiptNumber": "ПКО-2"}},
    {"rpc": "crm.deals.v1.BookingService.ReleaseBooking",
     "exempt": "ends a booking, guarded by its state: a repeat is refused (it is no longer active) and "
               "changes nothing"},
]
