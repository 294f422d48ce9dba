#!/usr/bin/python3
"""Real estate end to end (issue 17, D14): identity, deals and the gateway as processes, with the demo
project «ЖК Северный парк» loaded by `crm-deals demo`, driven through the gateway with curl, over gRPC
with python3-grpcio (signed as the gateway would), and the events read back from Kafka.

The inventory API and its validation; the bulk import by external id (all or nothing, every bad row
named); the chessboard of a demo building; «Подбор ОН»; the unit list; a paid booking, a second client
in the queue and the pass on release (the promotion's event on Kafka); 16 concurrent bookings of one
unit through the gateway and 16 over gRPC, each giving exactly one booking; the active-bookings report by
scope (the idempotency cases of tests/e2e/idempotency_cases/realty.py are walked by api_conventions_test.py).

Usage: realty_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import concurrent.futures
import json
import os
import sys
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, StackTest, main  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402


class Realty(StackTest):
    services = ["deals"]

    def ok(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        return reply.json()

    def fields(self, reply):
        return [d["field"] for d in reply.error()["details"]]

    def client(self, role="manager"):
        return self.ok(self.curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": "Клиент " + uuid.uuid4().hex[:6]},
                                 headers=self.as_(role)))["id"]

    def building(self, sections=1, floors=5):
        project = self.ok(self.curl("POST", "/v1/realty/projects", {"name": "ЖК " + uuid.uuid4().hex[:6]},
                                    headers=self.as_("head_of_sales")))
        return self.ok(self.curl("POST", "/v1/realty/projects/%s/buildings" % project["id"],
                                 {"name": "Корпус 1", "sections": [{"number": s + 1, "lastFloor": floors}
                                                                    for s in range(sections)]},
                                 headers=self.as_("head_of_sales")))

    def unit(self, building, floor=2, position=1, price="1000000000"):
        return self.ok(self.curl("POST", "/v1/realty/buildings/%s/units" % building["id"],
                                 {"sectionNumber": 1, "floor": floor, "position": position,
                                  "number": "%d%d" % (floor, position), "kind": "APARTMENT", "rooms": 2,
                                  "areaCentiM2": "5000", "price": {"amountMinor": price, "currency": "RUB"},
                                  "status": "AVAILABLE"}, headers=self.as_("head_of_sales")))

    def book(self, unit, role="manager", client=None, queue=False):
        return self.curl("POST", "/v1/realty/units/%s/bookings" % unit["id"],
                         {"clientId": client or self.client(role), "fee": {"amountMinor": "5000000"},
                          "joinQueue": queue}, headers=self.as_(role))

    def grpc_api(self):
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["deals"])
        self.addCleanup(channel.close)
        return api, channel

    def principal(self, api, role, permissions):
        Principal = api.message("crm.common.v1.Principal")
        return Principal(kind=Principal.KIND_USER, id=self.user_id(role), permissions=permissions)

    def test_the_demo_project_has_a_live_chessboard(self):
        projects = self.ok(self.curl("GET", "/v1/realty/projects?pageSize=200", headers=self.as_("manager")))
        demo = [p for p in projects["projects"] if p["name"] == "ЖК Северный парк"]
        self.assertEqual(len(demo), 1, projects)
        buildings = self.ok(self.curl("GET", "/v1/realty/projects/%s/buildings" % demo[0]["id"],
                                      headers=self.as_("manager")))["buildings"]
        self.assertEqual([b["name"] for b in buildings], ["Корпус 1", "Корпус 2"])
        total = 0
        booked = []
        for b in buildings:
            board = self.ok(self.curl("GET", "/v1/realty/buildings/%s/chessboard" % b["id"],
                                      headers=self.as_("manager")))
            for section in board["sections"]:
                for floor in section["floors"]:
                    for cell in floor["cells"]:
                        total += 1
                        if cell["status"] == "BOOKED":
                            booked.append(cell)
        self.assertEqual(total, 312)
        self.assertGreaterEqual(len(booked), 6)
        for cell in booked:  # who booked it and until when, for everyone who reads the inventory
            self.assertIn("expireTime", cell["booking"])
            self.assertTrue(cell["booking"]["responsibleId"])
        self.assertTrue(any(c.get("queueLength", 0) == 2 for c in booked), booked)
        # Корпус 1 is drawn 4 sections × 12 floors, the top floor first.
        k1 = self.ok(self.curl("GET", "/v1/realty/buildings/%s/chessboard" % buildings[0]["id"],
                               headers=self.as_("call_center_operator")))
        self.assertEqual([len(s["floors"]) for s in k1["sections"]], [12, 12, 12, 12])
        self.assertEqual(k1["sections"][0]["floors"][0]["floor"], 12)
        # Who has no realty.read sees nothing.
        self.assertEqual(self.curl("GET", "/v1/realty/buildings/%s/chessboard" % buildings[0]["id"],
                                   headers=self.as_("telegram_operator")).status, 403)

    def test_inventory_api_validation_and_price_history(self):
        building = self.building()
        unit = self.unit(building)
        self.assertEqual(unit["pricePerM2"]["amountMinor"], "20000000")
        bad = self.curl("POST", "/v1/realty/buildings/%s/units" % building["id"],
                        {"sectionNumber": 3, "floor": 1, "position": 1, "kind": "APARTMENT", "areaCentiM2": "0",
                         "planImage": "ftp://x"}, headers=self.as_("head_of_sales"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual(sorted(self.fields(bad)), ["unit.area_centi_m2", "unit.number", "unit.plan_image"])
        # A manager reads the inventory but may not change it.
        self.assertEqual(self.curl("POST", "/v1/realty/buildings/%s/units" % building["id"],
                                   {"number": "1"}, headers=self.as_("manager")).status, 403)
        # PATCH with a nested body: the price moves, the history keeps both.
        patched = self.ok(self.curl("PATCH", "/v1/realty/units/" + unit["id"],
                                    {"price": {"amountMinor": "1100000000"}}, headers=self.as_("head_of_sales")))
        self.assertEqual(patched["price"]["amountMinor"], "1100000000")
        prices = self.ok(self.curl("GET", "/v1/realty/units/%s/prices" % unit["id"], headers=self.as_("manager")))
        self.assertEqual([p["price"]["amountMinor"] for p in prices["unitPrices"]], ["1100000000", "1000000000"])
        # Status only through the state machine.
        no = self.curl("POST", "/v1/realty/units/%s:changeStatus" % unit["id"], {"status": "BOOKED"},
                       headers=self.as_("head_of_sales"))
        self.assertEqual(no.status, 400, no.body)
        self.assertEqual(no.error()["status"], "FAILED_PRECONDITION")

    def test_bulk_import_by_external_id_all_or_nothing(self):
        x = uuid.uuid4().hex[:8]
        units = [{"externalId": "u-%s-%d" % (x, i), "buildingExternalId": "b-" + x, "sectionNumber": 1 + i // 100,
                  "floor": 1 + (i % 100) // 4, "position": 1 + i % 4, "number": str(i + 1), "kind": "APARTMENT",
                  "rooms": i % 4, "areaCentiM2": str(3000 + 100 * (i % 40)),
                  "pricePerM2": {"amountMinor": "25000000", "currency": "RUB"}, "status": "AVAILABLE"}
                 for i in range(500)]
        body = {"projects": [{"externalId": "p-" + x, "name": "ЖК Импорт " + x}],
                "buildings": [{"externalId": "b-" + x, "projectExternalId": "p-" + x, "name": "Корпус 1",
                               "sections": [{"number": s, "lastFloor": 25} for s in range(1, 6)]}],
                "units": units}
        first = self.ok(self.curl("POST", "/v1/realty/inventory:import", body, headers=self.as_("integrator")))
        self.assertEqual((first["unitsCreated"], first["pricesRecorded"]), (500, 500))
        again = self.ok(self.curl("POST", "/v1/realty/inventory:import", body, headers=self.as_("integrator")))
        self.assertEqual(again.get("unitsUnchanged"), 500)
        units[17]["areaCentiM2"] = "0"
        units[18]["floor"] = 26
        units[3]["pricePerM2"]["amountMinor"] = "26000000"
        bad = self.curl("POST", "/v1/realty/inventory:import", body, headers=self.as_("integrator"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual(self.fields(bad), ["units[17].area_centi_m2"])
        units[17]["areaCentiM2"] = "3000"
        bad = self.curl("POST", "/v1/realty/inventory:import", body, headers=self.as_("integrator"))
        self.assertEqual(self.fields(bad), ["units[18].floor"])
        del units[18]  # the import never deletes: that unit stays as it was
        changed = self.ok(self.curl("POST", "/v1/realty/inventory:import", body, headers=self.as_("integrator")))
        self.assertEqual((changed.get("unitsUpdated"), changed.get("pricesRecorded")), (2, 2))
        # The manager may not load inventory.
        self.assertEqual(self.curl("POST", "/v1/realty/inventory:import", body, headers=self.as_("manager")).status,
                         403)
        # Over gRPC (python3-grpcio) as the external system's service would call: the same rows, unchanged.
        api, channel = self.grpc_api()
        imp, Request = api.method(channel, "crm.deals.v1.RealtyService/ImportInventory")
        from google.protobuf import json_format
        req = json_format.Parse(json.dumps(body), Request())
        reply = imp(req, metadata=self.stack.signed(self.principal(api, "integrator", ["realty.manage"])), timeout=30)
        self.assertEqual(reply.units_unchanged, 499)

    def test_matching_and_the_unit_list(self):
        projects = self.ok(self.curl("GET", "/v1/realty/projects?pageSize=200", headers=self.as_("manager")))
        demo = [p for p in projects["projects"] if p["name"] == "ЖК Северный парк"][0]
        q = ("/v1/realty/units:match?projectId=%s&kinds=APARTMENT&rooms=1&rooms=2&budgetMax.amountMinor=1500000000"
             "&areaMinCentiM2=3000&areaMaxCentiM2=6000&pageSize=10" % demo["id"])
        seen, prices = set(), []
        page = self.ok(self.curl("GET", q, headers=self.as_("call_center_operator")))
        while True:
            for u in page["units"]:
                self.assertIn(u["rooms"], (1, 2))
                self.assertLessEqual(int(u["finalPrice"]["amountMinor"]), 1500000000)
                self.assertIn(u["status"], ("AVAILABLE", "BOOKED"))
                seen.add(u["id"])
                prices.append(int(u["finalPrice"]["amountMinor"]))
            if not page.get("nextPageToken"):
                break
            page = self.ok(self.curl("GET", q + "&pageToken=" + page["nextPageToken"],
                                     headers=self.as_("call_center_operator")))
        self.assertGreater(len(seen), 20)
        self.assertEqual(prices, sorted(prices))
        offers = self.ok(self.curl("GET", "/v1/realty/units:match?projectId=%s&specialOfferOnly=true&pageSize=200"
                                   % demo["id"], headers=self.as_("manager")))["units"]
        self.assertTrue(offers and all(u["specialOffer"] for u in offers))
        bad = self.curl("GET", "/v1/realty/units:match?kinds=APARTMENT&pageSize=-1", headers=self.as_("manager"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual(self.fields(bad), ["project_id", "page_size"])
        buildings = self.ok(self.curl("GET", "/v1/realty/projects/%s/buildings" % demo["id"],
                                      headers=self.as_("manager")))["buildings"]
        listed = self.ok(self.curl("GET", "/v1/realty/buildings/%s/units?statuses=SOLD&rooms=2&pageSize=200"
                                   % buildings[0]["id"], headers=self.as_("manager")))["units"]
        self.assertTrue(listed)
        self.assertTrue(all(u["status"] == "SOLD" and u["rooms"] == 2 for u in listed))

    def test_a_booking_its_queue_and_the_pass_on_release(self):
        building = self.building()
        unit = self.unit(building)
        first = self.ok(self.book(unit))
        self.assertEqual(first["status"], "ACTIVE")
        self.assertEqual(first["price"]["amountMinor"], "1000000000")
        busy = self.book(unit, role="head_of_sales")
        self.assertEqual(busy.status, 400, busy.body)
        self.assertEqual(busy.error()["status"], "FAILED_PRECONDITION")
        second = self.ok(self.book(unit, role="head_of_sales", queue=True))
        self.assertEqual((second["status"], second["queuePosition"]), ("QUEUED", 1))
        released = self.ok(self.curl("POST", "/v1/realty/bookings/%s:release" % first["id"],
                                     {"reason": "клиент передумал"}, headers=self.as_("manager")))
        self.assertEqual(released["status"], "RELEASED")
        now = self.ok(self.curl("GET", "/v1/realty/bookings/" + second["id"], headers=self.as_("head_of_sales")))
        self.assertEqual(now["status"], "ACTIVE")
        self.assertIn("expireTime", now)
        types = self.event_types("crm.deals.booking.v1", second["id"], "crm.deals.booking.promoted.v1")
        self.assertEqual(types, ["crm.deals.booking.queued.v1", "crm.deals.booking.promoted.v1"])
        unit_events = self.event_types("crm.deals.unit.v1", unit["id"], "crm.deals.unit.status_changed.v1")
        self.assertEqual(unit_events, ["crm.deals.unit.created.v1", "crm.deals.unit.status_changed.v1"])
        # The manager shares «Отдел продаж» with the head of sales (bookings.read.team); a call-centre operator
        # has no bookings permission: for them the booking does not exist.
        self.assertEqual(self.curl("GET", "/v1/realty/bookings/" + second["id"], headers=self.as_("manager")).status,
                         200)
        self.assertEqual(self.curl("GET", "/v1/realty/bookings/" + second["id"],
                                   headers=self.as_("call_center_operator")).status, 404)

    def test_sixteen_concurrent_bookings_give_exactly_one(self):
        building = self.building()
        unit = self.unit(building, floor=3)
        clients = [self.client("head_of_sales") for _ in range(16)]  # the manager's rate is for the bookings
        bearer = self.as_("manager")

        def book(i):
            return self.curl("POST", "/v1/realty/units/%s/bookings" % unit["id"],
                             {"clientId": clients[i], "fee": {"amountMinor": "5000000"}}, headers=bearer)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(book, range(16)))
        self.assertEqual(sorted(r.status for r in replies), [200] + [400] * 15, [r.body for r in replies])
        self.assertEqual({r.error()["status"] for r in replies if r.status != 200}, {"FAILED_PRECONDITION"})
        # And 16 over gRPC at once (python3-grpcio, signed as the gateway would).
        other = self.unit(building, floor=4)
        api, channel = self.grpc_api()
        create, Request = api.method(channel, "crm.deals.v1.BookingService/CreateBooking")
        me = self.principal(api, "manager", ["bookings.write.own", "realty.read"])

        def grpc_book(i):
            req = Request(unit_id=other["id"], client_id=clients[i])
            req.fee.amount_minor = 5000000
            try:
                create(req, metadata=self.stack.signed(me), timeout=20)
                return "OK"
            except grpc.RpcError as e:
                return e.code().name
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            codes = sorted(pool.map(grpc_book, range(16)))
        self.assertEqual(codes, ["FAILED_PRECONDITION"] * 15 + ["OK"])
        listed = self.ok(self.curl("GET", "/v1/realty/units/%s/bookings" % other["id"], headers=self.as_("manager")))
        self.assertEqual(len(listed["bookings"]), 1)

    def test_the_active_bookings_report_by_project_and_scope(self):
        building = self.building()
        mine = self.ok(self.book(self.unit(building, floor=1)))
        hers = self.ok(self.book(self.unit(building, floor=2), role="head_of_sales"))
        path = "/v1/realty/bookings?projectId=%s" % building["projectId"]
        by_rop = [b["id"] for b in self.ok(self.curl("GET", path, headers=self.as_("head_of_sales")))["bookings"]]
        self.assertEqual(by_rop, [hers["id"], mine["id"]])
        # The manager sees by team (bookings.read.team): theirs, and the head of sales' once deals knows
        # from identity's events that they share «Отдел продаж».
        by_manager = [b["id"] for b in self.ok(self.curl("GET", path, headers=self.as_("manager")))["bookings"]]
        self.assertIn(mine["id"], by_manager)
        mine_only = self.ok(self.curl("GET", path + "&responsible=me", headers=self.as_("manager")))["bookings"]
        self.assertEqual([b["id"] for b in mine_only], [mine["id"]])
        own = self.ok(self.curl("GET", path + "&responsible=me", headers=self.as_("head_of_sales")))["bookings"]
        self.assertEqual([b["id"] for b in own], [hers["id"]])
        self.assertEqual(own[0]["unitNumber"], "21")
        self.assertTrue(own[0]["clientName"].startswith("Клиент"))
        self.assertEqual(own[0]["projectName"], building["projectName"])
        self.assertEqual(self.curl("GET", path, headers=self.as_("call_center_operator")).json().get("bookings", []),
                         [])
        self.assertEqual(self.curl("GET", path + "&pageSize=-1", headers=self.as_("manager")).status, 400)


if __name__ == "__main__":
    main()
