#!/usr/bin/python3
"""Deal copy end to end (issue 5, D11–D12, seed 000 §5.1–5.3, §5.6, §6.3): identity, deals and the
gateway as processes with the demo pipelines; copies made through the gateway with curl and over gRPC
with python3-grpcio as a robot would (a signed service principal acting for a user), and DealCopied
read back from Kafka with python3-confluent-kafka.

Usage: deals_copy_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import os
import sys
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, StackTest, main  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402

# Demo pipelines (services/deals/demo.h): seed 001 «Первичная обработка» and seed 002 «Продажа».
LEADS = "01930000-0001-7000-8000-000000000000"
UNSORTED = "01930000-0001-7000-8000-000000000001"
QUALIFIED = "01930000-0001-7000-8000-000000000003"
SALES = "01930000-0002-7000-8000-000000000000"
SALES_NEW = "01930000-0002-7000-8000-000000000001"


class DealCopy(StackTest):
    services = ["deals"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.stack.grpc_ports["deals"])

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        super().tearDownClass()

    def source_deal(self):
        """A manager's deal with a client (and so its contact), tags, fields and a comment."""
        client = self.curl("POST", "/v1/clients", {
            "kind": "KIND_PERSON", "name": "Петров Пётр " + uuid.uuid4().hex[:4],
            "phones": ["+7 916 %03d-%02d-%02d" % (uuid.uuid4().int % 1000, uuid.uuid4().int % 100,
                                                 uuid.uuid4().int % 100)]},
            headers=self.as_("manager"))
        self.assertEqual(client.status, 200, client.body)
        contact = self.curl("POST", "/v1/clients/%s/contacts" % client.json()["id"],
                            {"fullName": "Петров Пётр", "passport": "4510 654321"}, headers=self.as_("manager"))
        self.assertEqual(contact.status, 200, contact.body)
        body = {"name": "Квартира 3к — Петров", "pipelineId": LEADS, "clientId": client.json()["id"],
                "amount": {"amountMinor": "1500000000", "currency": "RUB"}, "tags": ["ипотека"], "source": "site",
                "fields": [{"code": "delivery_date", "text": "2026-12-20"},
                           {"code": "confirmation_comment", "text": "Петров просил перезвонить жене"}]}
        deal = self.curl("POST", "/v1/deals", body, headers=self.as_("manager"))
        self.assertEqual(deal.status, 200, deal.body)
        comment = self.curl("POST", "/v1/deals/%s/comments" % deal.json()["id"],
                            {"text": "Паспорт 4510 654321 получен"}, headers=self.as_("manager"))
        self.assertEqual(comment.status, 200, comment.body)
        return deal.json()

    def test_copy_in_the_pipeline_keeps_the_source_and_is_idempotent(self):
        src = self.source_deal()
        key = "Idempotency-Key: copy-" + uuid.uuid4().hex
        r = self.curl("POST", "/v1/deals/%s:copy" % src["id"], {}, headers=self.as_("manager", key))
        self.assertEqual(r.status, 200, r.body)
        copy = r.json()
        self.assertEqual(copy["copiedFromId"], src["id"])
        self.assertEqual(copy["stageId"], UNSORTED)  # §5.3: by default the source's pipeline and stage
        self.assertEqual(copy["name"], src["name"])
        self.assertEqual(copy["clientId"], src["clientId"])
        self.assertEqual(copy["tags"], ["ипотека"])
        again = self.curl("POST", "/v1/deals/%s:copy" % src["id"], {}, headers=self.as_("manager", key))
        self.assertEqual(again.status, 200, again.body)
        self.assertEqual(again.json()["id"], copy["id"])
        # The source is untouched; its copies are listed by copiedFromId.
        now = self.curl("GET", "/v1/deals/" + src["id"], headers=self.as_("manager")).json()
        self.assertEqual(now["version"], src["version"])
        listed = self.curl("GET", "/v1/deals?filter.copiedFromId=" + src["id"], headers=self.as_("manager"))
        self.assertEqual([d["id"] for d in listed.json()["deals"]], [copy["id"]])
        # The comment came along as a note.
        timeline = self.curl("GET", "/v1/deals/%s/timeline" % copy["id"], headers=self.as_("manager")).json()
        self.assertIn("Паспорт 4510 654321 получен", [e.get("text") for e in timeline.get("entries", [])])

    def test_another_pipeline_and_responsible_with_chosen_data(self):
        src = self.source_deal()
        manager = self.user_id("manager")
        body = {"pipelineId": SALES, "stageId": SALES_NEW, "responsibleId": manager,
                "options": {"name": True, "client": True, "customFields": ["delivery_date"]}}
        # The head of sales hands a copy in «Продажа» to the manager (§5.2, §5.3).
        r = self.curl("POST", "/v1/deals/%s:copy" % src["id"], body, headers=self.as_("head_of_sales"))
        self.assertEqual(r.status, 200, r.body)
        copy = r.json()
        self.assertEqual((copy["pipelineId"], copy["stageId"], copy["responsibleId"]), (SALES, SALES_NEW, manager))
        self.assertEqual([f["code"] for f in copy.get("fields", [])], ["delivery_date"])
        self.assertEqual(copy.get("tags", []), [])
        self.assertIn(copy.get("amount", {}).get("amountMinor", "0"), ("0", 0))
        # A manager with own rights cannot give a copy to someone else; an operator has no copy right.
        head = self.user_id("head_of_sales")
        denied = self.curl("POST", "/v1/deals/%s:copy" % src["id"], {"responsibleId": head},
                           headers=self.as_("manager"))
        self.assertEqual(denied.status, 403, denied.body)
        self.assertEqual(self.curl("POST", "/v1/deals/%s:copy" % src["id"], {},
                                   headers=self.as_("call_center_operator")).status, 403)

    def test_gates_and_bad_targets_name_what_is_wrong(self):
        src = self.source_deal()
        gated = self.curl("POST", "/v1/deals/%s:copy" % src["id"], {"stageId": QUALIFIED},
                          headers=self.as_("manager"))
        self.assertEqual(gated.status, 400, gated.body)
        self.assertEqual(gated.error()["status"], "FAILED_PRECONDITION")
        self.assertIn("an open task", gated.error()["message"])
        for body, field in (({"stageId": SALES_NEW}, "stage_id"),
                            ({"pipelineId": str(uuid.uuid4())}, "pipeline_id"),
                            ({"options": {"customFields": ["nope"]}}, "options.custom_fields")):
            r = self.curl("POST", "/v1/deals/%s:copy" % src["id"], body, headers=self.as_("manager"))
            self.assertEqual(r.status, 400, r.body)
            self.assertIn(field, [d["field"] for d in r.error()["details"]], r.body)
        listed = self.curl("GET", "/v1/deals?filter.copiedFromId=" + src["id"], headers=self.as_("manager"))
        self.assertEqual(listed.json().get("deals", []), [])

    def test_batch_copy_reports_each_source(self):
        mine = self.source_deal()
        r = self.curl("POST", "/v1/deals:batchCopy", {"ids": [mine["id"], str(uuid.uuid4())], "pipelineId": SALES},
                      headers=self.as_("manager"))
        self.assertEqual(r.status, 200, r.body)
        results = r.json()["results"]
        self.assertEqual(results[0]["copy"]["copiedFromId"], mine["id"])
        self.assertEqual(results[0]["copy"]["stageId"], SALES_NEW)
        self.assertEqual(results[1]["errorCode"], 5)  # NOT_FOUND, kept for old clients
        self.assertEqual(results[1]["errorStatus"], "NOT_FOUND")  # issue 16: the status by name
        self.assertEqual(results[0].get("errorStatus", ""), "")  # a success names no status

    def test_robot_makes_a_redacted_partner_copy_over_grpc(self):
        src = self.source_deal()
        Principal = self.api.message("crm.common.v1.Principal")
        robot = Principal(kind=Principal.KIND_SERVICE, service="robots",
                          on_behalf_of_user_id=self.user_id("head_of_sales"),
                          permissions=["deals.read.all", "deals.write.all", "deals.copy"])
        copy_deal, CopyDealRequest = self.api.method(self.channel, "crm.deals.v1.DealService/CopyDeal")
        copy = copy_deal(CopyDealRequest(id=src["id"], pipeline_id=SALES, redacted=True,
                                         responsible_id=self.user_id("manager")),
                         metadata=self.stack.signed(robot) + [("idempotency-key", "partner-" + src["id"])],
                         timeout=10)
        self.assertTrue(copy.name.startswith("Копия для партнёра №"), copy.name)
        self.assertEqual(copy.copied_from_id, src["id"])
        self.assertEqual(copy.client_id, "")
        self.assertEqual([f.code for f in copy.fields], ["delivery_date"])
        self.assertEqual(list(copy.tags), [])
        self.assertEqual(copy.amount.amount_minor, 0)
        # Unsigned or unprivileged callers get nothing.
        with self.assertRaises(grpc.RpcError) as e:
            copy_deal(CopyDealRequest(id=src["id"]), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        weak = Principal(kind=Principal.KIND_SERVICE, service="robots", permissions=["deals.read.all"])
        with self.assertRaises(grpc.RpcError) as e:
            copy_deal(CopyDealRequest(id=src["id"]), metadata=self.stack.signed(weak), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("deals.copy", e.exception.details())

        # DealCopied on the source's key, readable by any Kafka client; nothing personal in it.
        events = self.events("crm.deals.deal.v1", src["id"], "crm.deals.deal.copied.v1")
        found = events[-1][1] if events and events[-1][0] == "crm.deals.deal.copied.v1" else None
        self.assertIsNotNone(found, "no crm.deals.deal.copied.v1 for the source")
        for secret in ("Петров", "4510", src["clientId"], "ипотека"):
            self.assertNotIn(secret.encode(), found)


if __name__ == "__main__":
    main()
