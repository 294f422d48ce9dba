#!/usr/bin/python3
"""Idempotency-Key by its effect on deals (issue 16, G1), end to end: identity, deals and the gateway as
processes. A repeated payment does not double the budget, a repeated line item is added once. (That every
POST of the suite honours the key — twice with one key, once with another request — is the suite's walk,
api_conventions_test.py, over tests/e2e/idempotency_cases.)

Usage: deals_idempotency_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from e2e import StackTest, main  # noqa: E402
from idempotency_cases import deals as cases  # noqa: E402


class DealsIdempotency(StackTest):
    services = ["deals"]

    def deal(self):
        r = self.curl("POST", "/v1/deals", {"name": "Окна " + uuid.uuid4().hex[:6], "pipelineId": cases.LEADS},
                      headers=self.as_("manager"))
        self.assertEqual(r.status, 200, r.body)
        return r.json()["id"]

    def test_a_repeated_payment_does_not_double_the_budget(self):
        deal = self.deal()
        key = "Idempotency-Key: pay-" + uuid.uuid4().hex
        body = {"dueDate": "2030-03-01", "amount": {"amountMinor": "70000"}}
        for _ in range(2):
            r = self.curl("POST", "/v1/deals/%s/payments" % deal, body, headers=self.as_("manager", key))
            self.assertEqual(r.status, 200, r.body)
        panel = self.curl("GET", "/v1/deals/%s/payments" % deal, headers=self.as_("manager")).json()
        self.assertEqual(len(panel["payments"]), 1)
        self.assertEqual(panel["budget"]["amountMinor"], "70000")
        got = self.curl("GET", "/v1/deals/%s" % deal, headers=self.as_("manager")).json()
        self.assertEqual(got["amount"]["amountMinor"], "70000")

    def test_a_repeated_line_item_is_added_once(self):
        deal = self.deal()
        key = "Idempotency-Key: line-" + uuid.uuid4().hex
        body = {"name": "Монтаж", "quantity": "2", "unitPrice": {"amountMinor": "300000"}}
        for _ in range(2):
            r = self.curl("POST", "/v1/deals/%s/products" % deal, body, headers=self.as_("manager", key))
            self.assertEqual(r.status, 200, r.body)
        products = self.curl("GET", "/v1/deals/%s/products" % deal, headers=self.as_("manager")).json()
        self.assertEqual(len(products["products"]), 1)
        self.assertEqual(products["total"]["amountMinor"], "600000")
        # Without a key each POST is a new line.
        for _ in range(2):
            self.assertEqual(self.curl("POST", "/v1/deals/%s/products" % deal, body,
                                       headers=self.as_("manager")).status, 200)
        self.assertEqual(len(self.curl("GET", "/v1/deals/%s/products" % deal,
                                       headers=self.as_("manager")).json()["products"]), 3)


if __name__ == "__main__":
    main()
