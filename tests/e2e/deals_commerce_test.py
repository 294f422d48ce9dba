#!/usr/bin/python3
"""Deals products, payments and orders end to end (issue 5, D6–D8): identity, deals and the gateway as
processes, driven through the gateway with curl (REST), over gRPC with python3-grpcio, and the events read
back from Kafka with python3-confluent-kafka.

A manager adds catalogue and free-text products to a deal, applies a 50/50 schedule (seed 002) with due
dates in the past, marks one part received and sees the payments panel (seed 003) with the other overdue;
the budget follows the payments; an order is created from the products and listed; the catalogue is
upserted by external id with catalog.manage (identity migration 0002).

Usage: deals_commerce_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import os
import sys
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import StackTest, main  # noqa: E402

# The demo pipeline of seed 001 (services/deals/demo.h).
LEADS = "01930000-0001-7000-8000-000000000000"


class DealsCommerce(StackTest):
    services = ["deals"]

    def ok(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        return reply.json()

    def create_deal(self, role="manager", amount=100000):
        return self.ok(self.curl("POST", "/v1/deals", {
            "name": "Окна " + uuid.uuid4().hex[:6], "pipelineId": LEADS,
            "amount": {"amountMinor": str(amount), "currency": "RUB"}}, headers=self.as_(role)))

    def upsert(self, external_id, price, role="head_of_sales", name="Окно ПВХ 1200×1400"):
        return self.curl("PUT", "/v1/catalog/products/" + external_id,
                         {"name": name, "sku": "OK-1214", "unit": "шт",
                          "price": {"amountMinor": str(price), "currency": "RUB"}, "vatBasisPoints": 2000,
                          "active": True}, headers=self.as_(role))

    def test_catalogue_upsert_is_idempotent_and_needs_catalog_manage(self):
        ext = "1C-" + uuid.uuid4().hex[:8]
        first = self.upsert(ext, 1500000)
        self.assertEqual(first.status, 200, first.body)
        self.assertTrue(first.json().get("created"))
        again = self.ok(self.upsert(ext, 1500000))
        self.assertFalse(again.get("changed", False))
        self.assertEqual(again["product"]["id"], first.json()["product"]["id"])
        self.assertEqual(again["product"]["version"], "1")
        changed = self.ok(self.upsert(ext, 1600000, role="integrator"))
        self.assertEqual(changed["product"]["id"], first.json()["product"]["id"])
        self.assertEqual(changed["product"]["version"], "2")
        # A manager reads the catalogue but may not upsert into it.
        self.assertEqual(self.upsert(ext, 1, role="manager").status, 403)
        listed = self.ok(self.curl("GET", "/v1/catalog/products?query=" + ext, headers=self.as_("manager")))
        self.assertEqual([p["externalId"] for p in listed["products"]], [ext])
        bad = self.curl("PUT", "/v1/catalog/products/" + ext, {"name": ""}, headers=self.as_("head_of_sales"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertIn("product.name", [d["field"] for d in bad.error()["details"]])

    def test_products_schedule_received_overdue_and_orders(self):
        product = self.ok(self.upsert("1C-" + uuid.uuid4().hex[:8], 1250000))["product"]
        deal = self.create_deal()
        base = "/v1/deals/%s" % deal["id"]
        line = self.ok(self.curl("POST", base + "/products", {"productId": product["id"], "quantity": "2"},
                                 headers=self.as_("manager")))
        self.assertEqual(line["name"], product["name"])
        self.assertEqual(line["total"]["amountMinor"], "2500000")
        self.ok(self.curl("POST", base + "/products",
                          {"name": "Монтаж", "quantity": "1.5", "unitPrice": {"amountMinor": "300001"},
                           "discountBasisPoints": 1000}, headers=self.as_("manager")))
        products = self.ok(self.curl("GET", base + "/products", headers=self.as_("manager")))
        # 1.5 × 3 000,01 = 4 500,015 → 4 500,02; less 10 % (450,00) → 4 050,02.
        self.assertEqual(products["total"]["amountMinor"], str(2500000 + 405002))
        bad_line = self.curl("POST", base + "/products", {"name": "X", "quantity": "1.0001"},
                             headers=self.as_("manager"))
        self.assertEqual(bad_line.status, 400, bad_line.body)
        self.assertIn("product.quantity", [d["field"] for d in bad_line.error()["details"]])

        # Parts not summing to 100: the field is named and nothing is written.
        bad = self.curl("POST", base + "/payments:applySchedule",
                        {"parts": [{"percent": 50, "dueDate": "2020-01-10"}, {"percent": 30, "dueDate": "2020-02-10"}]},
                        headers=self.as_("manager"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertIn("parts", [d["field"] for d in bad.error()["details"]])
        self.assertEqual(self.ok(self.curl("GET", base + "/payments", headers=self.as_("manager"))).get("payments", []), [])

        # 50/50 of the products total, both due in the past (no sleeping for time to pass).
        panel = self.ok(self.curl("POST", base + "/payments:applySchedule",
                                  {"parts": [{"percent": 50, "dueDate": "2020-01-10"},
                                             {"percent": 50, "dueDate": "2020-02-10"}]},
                                  headers=self.as_("manager")))
        total = 2500000 + 405002
        self.assertEqual([p["amountMinor"] for p in (x["amount"] for x in panel["payments"])],
                         [str(total // 2), str(total - total // 2)])
        self.assertEqual(panel["budget"]["amountMinor"], str(total))
        self.assertEqual(panel["overdueCount"], 2)
        got = self.ok(self.curl("GET", base, headers=self.as_("manager")))
        self.assertEqual(got["amount"]["amountMinor"], str(total))
        self.assertEqual(got["version"], panel["dealVersion"])

        first = panel["payments"][0]["id"]
        panel = self.ok(self.curl("POST", base + "/payments/%s:markReceived" % first, {}, headers=self.as_("manager")))
        me = self.stack.session("manager")["user"]["id"]
        self.assertTrue(panel["payments"][0]["received"])
        self.assertEqual(panel["payments"][0]["receivedById"], me)
        panel = self.ok(self.curl("GET", base + "/payments", headers=self.as_("manager")))
        self.assertEqual(panel["overdueCount"], 1)
        self.assertTrue(panel["payments"][1]["overdue"])
        self.assertFalse(panel["payments"][0].get("overdue", False))
        self.assertEqual(panel["receivedTotal"]["amountMinor"], str(total // 2))
        self.assertEqual(panel["overdueTotal"]["amountMinor"], str(total - total // 2))
        self.assertEqual(panel["outstanding"]["amountMinor"], str(total - total // 2))

        # Another user who may not see the deal: 404 for its panel, products and orders.
        for path in ("/payments", "/products", "/orders"):
            self.assertEqual(self.curl("GET", base + path, headers=self.as_("telegram_operator")).status, 404)

        order = self.ok(self.curl("POST", base + "/orders", {"fromDealProducts": True, "order": {"comment": "1C"}},
                                  headers=self.as_("manager")))
        self.assertEqual(order["status"], "NEW")
        self.assertEqual(order["amount"]["amountMinor"], str(total))
        self.assertEqual(len(order["lines"]), 2)
        orders = self.ok(self.curl("GET", base + "/orders", headers=self.as_("manager")))["orders"]
        self.assertEqual([o["id"] for o in orders], [order["id"]])
        shipped = self.ok(self.curl("POST", base + "/orders/%s:setStatus" % order["id"], {"status": "SHIPPED"},
                                    headers=self.as_("manager")))
        self.assertEqual(shipped["status"], "SHIPPED")

        types = self.event_types("crm.deals.deal.v1", deal["id"], "crm.deals.deal.order_status_changed.v1")
        self.assertEqual(types, ["crm.deals.deal.created.v1",
                                 "crm.deals.deal.products_changed.v1", "crm.deals.deal.products_changed.v1",
                                 "crm.deals.deal.updated.v1", "crm.deals.deal.payment_schedule_applied.v1",
                                 "crm.deals.deal.payment_received.v1", "crm.deals.deal.order_created.v1",
                                 "crm.deals.deal.order_status_changed.v1"])

    def test_grpc_callers_need_a_signed_principal(self):
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["deals"])
        for method in ("/crm.deals.v1.PaymentService/GetPaymentPanel", "/crm.deals.v1.CatalogService/ListProducts"):
            call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            with self.assertRaises(grpc.RpcError) as e:
                call(b"", timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


if __name__ == "__main__":
    main()
