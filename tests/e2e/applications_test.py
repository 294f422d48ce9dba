#!/usr/bin/python3
"""Deal applications (D15 second half, seed 004 §6.3) end to end (issue 17): identity, deals, mortgage and
the gateway as processes with the demo data, driven through the gateway with curl, over gRPC with
python3-grpcio (deals' DealApplicationService called directly, signed as the gateway would), and read back
from Kafka with python3-confluent-kafka:

  - an application made from a client request: the request's client pre-filled (Р, П, the owner of 1/1),
    names beside ids (project, building, section, floor, unit number), the unit's price; every bad field at
    once; a unit booked by another client refused naming application.unit_id;
  - participants edited (a second owner with 1/3 and 2/3: exact amounts), «Пересчитать доли» (equal split),
    a stale version refused; the payment terms (mortgage, bank, own funds, a schedule summing to the price);
  - a mortgage application started from it through the gateway by the mortgage specialist: mortgage reads
    the deal application from deals as the caller, fills client, bank, loan and the object, and lists it
    under deal_application_id; a deal application paid in full is refused naming the field;
  - the events on crm.deals.application.v1; the demo applications; every POST route's idempotency case
    (idempotency_cases/applications.py).

Usage: applications_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import importlib.util
import json
import os
import sys
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, StackTest, main  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402

# The demo lead pipeline and its first stage (services/deals/demo.h).
LEAD = "01930000-0001-7000-8000-000000000000"
UNSORTED = "01930000-0001-7000-8000-000000000001"


def load_idempotency_cases():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idempotency_cases", "applications.py")
    spec = importlib.util.spec_from_file_location("idempotency_cases_applications", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fill(value, names):
    if isinstance(value, str):
        for k, v in names.items():
            value = value.replace("{%s}" % k, v)
        return value
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


class Applications(StackTest):
    services = ["deals", "mortgage"]

    def ok(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        return reply.json()

    def fields(self, reply):
        self.assertEqual(reply.status, 400, reply.body)
        return [d["field"] for d in reply.error()["details"]]

    def client(self, name, role="manager", **extra):
        body = {"kind": "KIND_PERSON", "name": name, "phones": ["+7916%07d" % (uuid.uuid4().int % 10000000)]}
        body.update(extra)
        return self.ok(self.curl("POST", "/v1/clients", body, headers=self.as_(role)))

    def inventory(self):
        """A project, its building and two units (the head of sales keeps the inventory)."""
        project = self.ok(self.curl("POST", "/v1/realty/projects", {"name": "ЖК " + uuid.uuid4().hex[:6]},
                                    headers=self.as_("head_of_sales")))
        building = self.ok(self.curl("POST", "/v1/realty/projects/%s/buildings" % project["id"],
                                     {"name": "Корпус 1", "phase": "Очередь 1",
                                      "sections": [{"number": 1, "lastFloor": 9}]},
                                     headers=self.as_("head_of_sales")))
        units = []
        for position, price in [(1, "2698456884"), (2, "1200000000")]:
            units.append(self.ok(self.curl("POST", "/v1/realty/buildings/%s/units" % building["id"],
                                           {"sectionNumber": 1, "floor": 5, "position": position,
                                            "number": "5%d" % position, "kind": "APARTMENT", "rooms": 2,
                                            "areaCentiM2": "5000", "price": {"amountMinor": price, "currency": "RUB"},
                                            "status": "AVAILABLE"}, headers=self.as_("head_of_sales"))))
        return project, units

    def request(self, client, project):
        return self.ok(self.curl("POST", "/v1/requests", {"clientId": client["id"], "projectId": project["id"],
                                                          "unitKind": "APARTMENT", "source": "Сайт"},
                                 headers=self.as_("manager")))

    def test_from_a_request_to_a_mortgage_application(self):
        project, (unit, other_unit) = self.inventory()
        buyer = self.client("Тестов Тест Тестович", birthDate="1990-05-17")
        request = self.request(buyer, project)
        # Every bad field at once.
        bad = self.curl("POST", "/v1/dealApplications",
                        {"requestId": request["id"], "unitId": "x", "participants": [{"clientId": "y"}]},
                        headers=self.as_("manager"))
        self.assertEqual(self.fields(bad), ["application.unit_id"])
        bad = self.curl("POST", "/v1/dealApplications",
                        {"requestId": request["id"], "ownFunds": {"amountMinor": "-1"},
                         "participants": [{"clientId": buyer["id"]}, {"clientId": str(uuid.uuid4()), "owner": True}]},
                        headers=self.as_("manager"))
        self.assertEqual(self.fields(bad), ["application.participants[0].real", "application.participants[1].client_id",
                                            "application.own_funds.amount_minor"])
        # A unit booked by another client.
        stranger = self.client("Другой Клиент")
        self.ok(self.curl("POST", "/v1/realty/units/%s/bookings" % other_unit["id"],
                          {"clientId": stranger["id"], "fee": {"amountMinor": "5000000"}}, headers=self.as_("manager")))
        taken = self.curl("POST", "/v1/dealApplications", {"requestId": request["id"], "unitId": other_unit["id"]},
                          headers=self.as_("manager"))
        self.assertEqual(taken.status, 400, taken.body)
        self.assertEqual(taken.error()["status"], "FAILED_PRECONDITION")
        self.assertEqual([d["field"] for d in taken.error()["details"]], ["application.unit_id"])
        # Made from the request: the client pre-filled, names beside ids, the unit's price.
        app = self.ok(self.curl("POST", "/v1/dealApplications", {"requestId": request["id"], "unitId": unit["id"]},
                                headers=self.as_("manager")))
        self.assertEqual((app["status"], app["clientName"], app["projectName"], app["buildingName"], app["phase"],
                          app["sectionNumber"], app["floor"], app["unitNumber"]),
                         ("DRAFT", "Тестов Тест Тестович", project["name"], "Корпус 1", "Очередь 1", 1, 5, "51"))
        self.assertEqual(app["price"]["amountMinor"], "2698456884")
        [p] = app["participants"]
        self.assertEqual((p["clientId"], p["real"], p["signer"], p["owner"], p["shareNumerator"], p["shareDenominator"],
                          p["shareAmount"]["amountMinor"]),
                         (buyer["id"], True, True, True, "1", "1", "2698456884"))
        self.assertFalse(p["minor"])  # 36 years old
        self.assertFalse(p["identityDocument"])
        # The passport on the card: ДУЛ follows; the card shows it to a manager (clients.passport.read) only.
        card = self.ok(self.curl("PATCH", "/v1/clients/" + buyer["id"],
                                 {"passport": {"series": "4510", "number": "123456", "departmentCode": "770-001",
                                               "issueDate": "2010-06-01", "issuedBy": "ОВД Тверской"}},
                                 headers=self.as_("manager")))
        self.assertEqual(card["passport"]["number"], "123456")
        self.assertTrue(self.ok(self.curl("GET", "/v1/dealApplications/" + app["id"],
                                          headers=self.as_("manager")))["participants"][0]["identityDocument"])
        # Participants edited: a second owner, fractions 1/3 and 2/3 — exact amounts summing to the price.
        spouse = self.client("Тестова Мария")
        edited = self.ok(self.curl("PATCH", "/v1/dealApplications/" + app["id"], {
            "version": app["version"], "ownershipKind": "SHARED",
            "participants": [
                {"clientId": buyer["id"], "real": True, "signer": True, "owner": True,
                 "shareNumerator": "1", "shareDenominator": "3"},
                {"clientId": spouse["id"], "real": True, "owner": True, "escrow": True,
                 "shareNumerator": "2", "shareDenominator": "3", "signatureExpiryDate": "2027-12-31"}]},
            headers=self.as_("manager")))
        amounts = [int(x["shareAmount"]["amountMinor"]) for x in edited["participants"]]
        self.assertEqual(amounts, [899485628, 1798971256])
        self.assertEqual(sum(amounts), 2698456884)
        self.assertEqual(edited["participants"][1]["clientName"], "Тестова Мария")
        # «Пересчитать доли»: equal split; a stale version is refused.
        stale = self.curl("POST", "/v1/dealApplications/%s:recalculateShares" % app["id"],
                          {"version": app["version"], "equalSplit": True}, headers=self.as_("manager"))
        self.assertEqual(stale.status, 409, stale.body)
        equal = self.ok(self.curl("POST", "/v1/dealApplications/%s:recalculateShares" % app["id"],
                                  {"version": edited["version"], "equalSplit": True}, headers=self.as_("manager")))
        self.assertEqual([(x["shareNumerator"], x["shareDenominator"], x["shareAmount"]["amountMinor"])
                          for x in equal["participants"]], [("1", "2", "1349228442"), ("1", "2", "1349228442")])
        # The payment terms: a mortgage with the first demo bank, own funds and a schedule summing to the price.
        bank = self.ok(self.curl("GET", "/v1/mortgage/banks?pageSize=1", headers=self.as_("mortgage_specialist")))
        bank = bank["banks"][0]["id"]
        campaigns = self.ok(self.curl("GET", "/v1/marketingCampaigns", headers=self.as_("manager")))["campaigns"]
        self.assertTrue(campaigns)
        not_summing = self.curl("PATCH", "/v1/dealApplications/" + app["id"], {
            "paymentSchedule": [{"date": "2027-01-10", "amount": {"amountMinor": "100"}, "kind": "OWN_FUNDS"}]},
            headers=self.as_("manager"))
        self.assertEqual(self.fields(not_summing), ["application.payment_schedule"])
        # The sale's deal, held by the mortgage specialist (so they see it), set by the head of sales.
        deal = self.ok(self.curl("POST", "/v1/deals", {"name": "Квартира 51", "pipelineId": LEAD, "stageId": UNSORTED,
                                                      "clientId": buyer["id"],
                                                      "responsibleId": self.user_id("mortgage_specialist")},
                                 headers=self.as_("head_of_sales")))
        strangers_deal = self.ok(self.curl("POST", "/v1/deals", {"name": "Чужая", "pipelineId": LEAD,
                                                                "stageId": UNSORTED, "clientId": stranger["id"]},
                                           headers=self.as_("manager")))
        self.assertEqual(self.fields(self.curl("PATCH", "/v1/dealApplications/" + app["id"],
                                               {"dealId": strangers_deal["id"]}, headers=self.as_("manager"))),
                         ["application.deal_id"])
        self.ok(self.curl("PATCH", "/v1/dealApplications/" + app["id"], {"dealId": deal["id"]},
                          headers=self.as_("head_of_sales")))
        terms = self.ok(self.curl("PATCH", "/v1/dealApplications/" + app["id"], {
            "paymentKind": "MORTGAGE", "bankId": bank, "campaignId": campaigns[0]["id"],
            "ownFunds": {"amountMinor": "698456884"},
            "paymentSchedule": [
                {"date": "2027-01-10", "amount": {"amountMinor": "698456884"}, "kind": "OWN_FUNDS"},
                {"date": "2027-02-01", "amount": {"amountMinor": "2000000000"}, "kind": "MORTGAGE_LOAN"}]},
            headers=self.as_("manager")))
        self.assertEqual(terms["campaignName"], campaigns[0]["name"])
        # Listed by request, by client (a participant), by status.
        for query in ["requestId=" + request["id"], "clientId=" + spouse["id"], "status=DRAFT&responsible=me"]:
            listed = self.ok(self.curl("GET", "/v1/dealApplications?" + query, headers=self.as_("manager")))
            self.assertIn(app["id"], [a["id"] for a in listed["applications"]], query)
        self.assertEqual(self.fields(self.curl("GET", "/v1/dealApplications?pageSize=-1",
                                               headers=self.as_("manager"))), ["page_size"])
        # The mortgage specialist starts a mortgage application from it, through the gateway.
        mortgage = self.ok(self.curl("POST", "/v1/mortgage/applications",
                                     {"dealApplicationId": app["id"], "rate": "0.06"},
                                     headers=self.as_("mortgage_specialist")))
        self.assertEqual((mortgage["clientId"], mortgage["dealId"], mortgage["bankId"], mortgage["loan"],
                          mortgage["dealApplicationId"]), (buyer["id"], deal["id"], bank, "2000000000", app["id"]))
        self.assertIn("Корпус 1 (Очередь 1), секция 1, этаж 5, кв. 51", mortgage["objectDescription"])
        listed = self.ok(self.curl("GET", "/v1/mortgage/applications?dealApplicationId=" + app["id"],
                                   headers=self.as_("mortgage_specialist")))
        self.assertEqual([a["id"] for a in listed["applications"]], [mortgage["id"]])
        # A deal application paid in full is refused naming the field; nothing is made.
        other_request = self.request(self.client("Покупатель Наличными"), project)
        cash = self.ok(self.curl("POST", "/v1/dealApplications",
                                 {"requestId": other_request["id"], "paymentKind": "FULL_PAYMENT"},
                                 headers=self.as_("manager")))
        refused = self.curl("POST", "/v1/mortgage/applications", {"dealApplicationId": cash["id"], "rate": "0.06"},
                            headers=self.as_("mortgage_specialist"))
        self.assertEqual(refused.status, 400, refused.body)
        self.assertEqual(refused.error()["status"], "FAILED_PRECONDITION")
        self.assertEqual([d["field"] for d in refused.error()["details"]], ["application.deal_application_id"])
        self.assertEqual(self.ok(self.curl("GET", "/v1/mortgage/applications?dealApplicationId=" + cash["id"],
                                           headers=self.as_("mortgage_specialist"))).get("applications", []), [])
        # Submitted, then no more edits.
        submitted = self.ok(self.curl("POST", "/v1/dealApplications/%s:changeStatus" % app["id"],
                                      {"status": "SUBMITTED"}, headers=self.as_("manager")))
        self.assertEqual(submitted["status"], "SUBMITTED")
        self.assertEqual(self.curl("PATCH", "/v1/dealApplications/" + app["id"], {"comment": "ещё"},
                                   headers=self.as_("manager")).error()["status"], "FAILED_PRECONDITION")
        # The events, read from Kafka.
        types = self.event_types("crm.deals.application.v1", app["id"], "crm.deals.application.status_changed.v1")
        self.assertEqual(types[0], "crm.deals.application.created.v1")
        self.assertIn("crm.deals.application.shares_recalculated.v1", types)
        self.assertEqual(types[-1], "crm.deals.application.status_changed.v1")
        # A Telegram operator has no business here.
        self.assertEqual(self.curl("GET", "/v1/dealApplications/" + app["id"],
                                   headers=self.as_("telegram_operator")).status, 404)

    def test_over_grpc_directly(self):
        """python3-grpcio calling deals' DealApplicationService as a head of sales would be (signed)."""
        project, (unit, _) = self.inventory()
        buyer = self.client("Клиент gRPC")
        request = self.request(buyer, project)
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["deals"])
        self.addCleanup(channel.close)
        Principal = api.message("crm.common.v1.Principal")
        head = Principal(kind=Principal.KIND_USER, id=self.user_id("head_of_sales"),
                         permissions=["applications.read.all", "applications.write.all", "interactions.read.all"])
        meta = self.stack.signed(head)
        create, Create = api.method(channel, "crm.deals.v1.DealApplicationService/CreateDealApplication")
        DealApplication = api.message("crm.deals.v1.DealApplication")
        made = create(Create(application=DealApplication(request_id=request["id"], unit_id=unit["id"])),
                      metadata=meta, timeout=10)
        self.assertEqual(made.price.amount_minor, 2698456884)
        self.assertEqual(made.participants[0].client_name, "Клиент gRPC")
        listing, List = api.method(channel, "crm.deals.v1.DealApplicationService/ListDealApplications")
        got = listing(List(request_id=request["id"]), metadata=meta, timeout=10)
        self.assertEqual([a.id for a in got.applications], [made.id])
        recalc, Recalc = api.method(channel, "crm.deals.v1.DealApplicationService/RecalculateShares")
        with self.assertRaises(grpc.RpcError) as e:
            recalc(Recalc(id=made.id, version=made.version + 5), metadata=meta, timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.ABORTED)

    def test_demo_applications(self):
        listed = self.ok(self.curl("GET", "/v1/dealApplications?pageSize=200", headers=self.as_("head_of_sales")))
        kinds = {a.get("paymentKind") for a in listed.get("applications", [])}
        self.assertIn("MORTGAGE", kinds)
        self.assertIn("FULL_PAYMENT", kinds)

    def test_idempotency_cases(self):
        cases = load_idempotency_cases()
        names = cases.fixtures(self.curl, self.as_)
        for case in cases.CASES:
            if "exempt" in case:
                continue
            with self.subTest(case["rpc"]):
                key = ["Idempotency-Key: " + uuid.uuid4().hex]
                body = fill(case["body"], names)
                first = self.curl("POST", fill(case["path"], names), body, headers=self.as_(case["role"], *key))
                again = self.curl("POST", fill(case["path"], names), body, headers=self.as_(case["role"], *key))
                self.assertEqual((first.status, again.status), (200, 200), first.body + again.body)
                self.assertEqual(first.json(), again.json())
                other = json.loads(json.dumps(body))
                other["comment"] = other.get("comment", "") + " другой"
                reused = self.curl("POST", fill(case["path"], names), other, headers=self.as_(case["role"], *key))
                self.assertEqual(reused.status, 400, reused.body)
                self.assertIn("idempotency-key", self.fields(reused))


if __name__ == "__main__":
    main()
