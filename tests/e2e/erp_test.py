#!/usr/bin/python3
"""The 1C side of deals (D17, seed 002) end to end (issue 17): identity, deals and the gateway as processes
with the demo data (`crm-deals demo`: «Продажа» is a direction 1C manages, the accountant is
buh@crm.local) and a fake SMTP server speaking real SMTP (tests/fakes/smtp_sink.py). The test plays 1C as
1C would talk to the CRM: an integrator's API key over HTTP (curl through the gateway), and a Kafka consumer
of its own group reading crm.deals.erp_task.v1 and crm.deals.document.v1 (python3-confluent-kafka, the
envelopes decoded with the API's descriptor set):

  - 1C upserts its nomenclature in bulk (all or nothing, every bad row named), and proposals (КП) of a deal
    of «Продажа» — refused for a deal of «Первичная обработка», whose direction does not take them; the
    manager reads the proposal with its lines and total;
  - 1C upserts a signed УПД and the manager signs an invoice: the accountant receives each exactly once
    (the sink), and crm.deals.document.v1 says so;
  - the manager's task on the deal is published for 1C on crm.deals.erp_task.v1; 1C reports it done by its
    own GUID and the task is DONE in the CRM; a late report of an older change is logged as a conflict;
  - (every POST route's idempotency case, idempotency_cases/erp.py, is walked by api_conventions_test.py).

Usage: erp_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, SOURCE, StackTest, main, wait_until  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from stack import BROKERS  # noqa: E402

SALES = "01930000-0002-7000-8000-000000000000"  # «Продажа» (seed 002), managed by 1C in the demo
LEAD = "01930000-0001-7000-8000-000000000000"   # «Первичная обработка» (seed 001): not


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class OneC:
    """1C as it talks to the CRM: an API key of the integrator's (scopes erp.sync, catalog.manage,
    deals.read.all) over HTTP, and a Kafka consumer group of its own on the topics 1C consumes."""

    def __init__(self, test, key):
        self.test = test
        self.headers = ["X-Api-Key: " + key]
        self.api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        self.consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": "1c-" + uuid.uuid4().hex,
                                  "auto.offset.reset": "earliest", "enable.auto.commit": True})
        self.consumer.subscribe(["crm.deals.erp_task.v1", "crm.deals.document.v1"])
        self.seen = []  # (topic, key, type, payload message)

    def call(self, method, path, body=None, key=None):
        headers = list(self.headers) + (["Idempotency-Key: " + key] if key else [])
        return self.test.curl(method, path, body, headers=headers)

    def poll_for(self, topic, key, type_, timeout=60):
        """The payload of the first event of `type_` for `key` on `topic` (consuming as 1C does)."""
        payloads = {"crm.deals.erp_task.published.v1": "crm.deals.v1.ErpTaskPublished",
                    "crm.deals.erp_task.status_reported.v1": "crm.deals.v1.ErpTaskStatusReported",
                    "crm.deals.document.signed.v1": "crm.deals.v1.DocumentSigned",
                    "crm.deals.document.accountant_notified.v1": "crm.deals.v1.DocumentAccountantNotified"}
        Envelope = self.api.message("crm.events.v1.Envelope")
        deadline = time.monotonic() + timeout
        while True:
            for t, k, ty, m in self.seen:
                if (t, k, ty) == (topic, key, type_):
                    return m
            if time.monotonic() > deadline:
                raise AssertionError("1C never got %s of %s on %s" % (type_, key, topic))
            msg = self.consumer.poll(0.5)
            if msg is None or msg.error() or msg.key() is None:
                continue
            env = Envelope.FromString(msg.value())
            payload = None
            if env.type in payloads:
                payload = self.api.message(payloads[env.type]).FromString(env.payload.value)
            self.seen.append((msg.topic(), msg.key().decode(), env.type, payload))

    def close(self):
        self.consumer.close()


class Erp(StackTest):
    services = ["deals"]

    @classmethod
    def setUpStack(cls):
        cls.tmp = tempfile.mkdtemp(prefix="crm-erp-e2e-")
        cls.mail_dir = os.path.join(cls.tmp, "mail")
        os.makedirs(cls.mail_dir)
        cls.sink = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/smtp_sink.py"),
                                     "--dir", cls.mail_dir, "--port", "0"], stdout=subprocess.PIPE)
        port = int(cls.sink.stdout.readline().decode().strip().rsplit(":", 1)[1])
        cls.service_env = {"deals": {"CRM_DEALS_SMTP_URL": "smtp://127.0.0.1:%d" % port,
                                     "CRM_DEALS_NOTICE_INTERVAL": "200ms",
                                     "CRM_DEALS_MAIL_FROM": "CRM <crm@crm.local>"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.stack.session("integrator")
        r = cls.stack.curl("POST", "/v1/apiKeys", {"name": "1С обмен",
                                                    "scopes": ["erp.sync", "catalog.manage", "deals.read.all"]},
                           headers=["Authorization: Bearer " + s["accessToken"]])
        if r.status != 200:
            raise AssertionError("the integrator's API key: " + r.body)
        cls.one_c = OneC(cls.stack, r.json()["secret"])

    @classmethod
    def tearDownClass(cls):
        cls.one_c.close()
        super().tearDownClass()
        cls.sink.terminate()
        cls.sink.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def fields(self, r):
        self.assertEqual(r.status, 400, r.body)
        return [d["field"] for d in r.error()["details"]]

    def deal(self, pipeline, name, amount_minor="62000000"):
        r = self.curl("POST", "/v1/deals", {"name": name, "pipelineId": pipeline,
                                            "amount": {"amountMinor": amount_minor, "currency": "RUB"}},
                      headers=self.as_("manager"))
        self.assertEqual(r.status, 200, r.body)
        return r.json()["id"]

    def mails(self, document_id):
        """The messages the sink stored for a document (by its Message-ID)."""
        out = []
        index = os.path.join(self.mail_dir, "index.jsonl")
        if not os.path.exists(index):
            return out
        with open(index) as f:
            for line in f:
                entry = json.loads(line)
                with open(entry["file"], "rb") as m:
                    if ("<document.%s@deals.crm>" % document_id).encode() in m.read():
                        out.append(entry)
        return out

    def test_1c_upserts_the_catalogue_and_proposals_of_its_directions(self):
        settings = self.curl("GET", "/v1/erp/settings", headers=self.as_("head_of_sales"))
        self.assertEqual(settings.status, 200, settings.body)
        self.assertIn({"pipelineId": SALES, "pipelineName": "Продажа", "proposalsFromErp": True,
                       "tasksMirrored": True}, settings.json()["directions"])
        run = uuid.uuid4().hex[:8]
        items = [{"externalId": "1c-%s-%d" % (run, i), "name": "Насос НС-%d" % i, "unit": "шт",
                  "price": {"amountMinor": str(100000 * (i + 1)), "currency": "RUB"}, "vatBasisPoints": 2000,
                  "active": True} for i in range(3)]
        bad = self.one_c.call("POST", "/v1/erp/catalog:batchUpsert",
                              {"items": items + [{"externalId": "1c-%s-0" % run, "name": "Дубль"},
                                                 {"externalId": "1c-%s-x" % run, "name": ""}]})
        self.assertEqual(self.fields(bad), ["items[3].external_id", "items[4].name"])
        r = self.one_c.call("POST", "/v1/erp/catalog:batchUpsert", {"items": items})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json().get("created"), 3)
        r = self.one_c.call("POST", "/v1/erp/catalog:batchUpsert", {"items": items})
        self.assertEqual(r.json().get("unchanged"), 3, r.body)

        sale = self.deal(SALES, "Поставка насосов (1С)")
        lead = self.deal(LEAD, "Лид без 1С")
        kp = {"externalId": "1c-kp-%s" % run, "dealId": sale, "number": "КП-000777", "date": "2026-03-02",
              "revision": "1", "status": "SENT",
              "lines": [{"productExternalId": "1c-%s-0" % run, "quantity": "2"},
                        {"productExternalId": "1c-%s-2" % run, "quantity": "1", "discountBasisPoints": 1000}]}
        refused = self.one_c.call("POST", "/v1/erp/proposals:batchUpsert",
                                  {"proposals": [dict(kp, externalId="1c-kp-%s-lead" % run, dealId=lead), kp]})
        self.assertEqual(self.fields(refused), ["proposals[0].deal_id"])
        self.assertIn("«Первичная обработка» does not take proposals from 1C", refused.body)
        r = self.one_c.call("POST", "/v1/erp/proposals:batchUpsert", {"proposals": [kp]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json().get("created"), 1)
        listed = self.curl("GET", "/v1/deals/%s/proposals" % sale, headers=self.as_("manager"))
        self.assertEqual(listed.status, 200, listed.body)
        got = listed.json()["proposals"][0]
        self.assertEqual([l["name"] for l in got["lines"]], ["Насос НС-0", "Насос НС-2"])
        self.assertEqual(got["total"], {"amountMinor": "470000", "currency": "RUB"})  # 2 × 1000 + 3000 − 10 %
        self.assertEqual(got["dealName"], "Поставка насосов (1С)")
        # A higher revision from 1C replaces it; the old one sent late is ignored.
        agreed = dict(kp, revision="2", status="AGREED")
        self.assertEqual(self.one_c.call("POST", "/v1/erp/proposals:batchUpsert",
                                         {"proposals": [agreed]}).json().get("revised"), 1)
        self.assertEqual(self.one_c.call("POST", "/v1/erp/proposals:batchUpsert",
                                         {"proposals": [kp]}).json().get("stale"), 1)
        one = self.curl("GET", "/v1/proposals/%s" % got["id"], headers=self.as_("manager")).json()
        self.assertEqual((one["status"], one["revision"], len(one["revisions"])), ("AGREED", "2", 2))

    def test_signed_documents_reach_the_accountant_exactly_once(self):
        sale = self.deal(SALES, "Поставка шкафов (1С)")
        run = uuid.uuid4().hex[:8]
        upd = {"externalId": "1c-upd-%s" % run, "dealId": sale, "kind": "UPD", "number": "У-%s" % run,
               "date": "2026-03-05", "amount": {"amountMinor": "62000000"}, "status": "SIGNED"}
        r = self.one_c.call("POST", "/v1/erp/documents:batchUpsert", {"documents": [upd]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json().get("created"), r.json().get("newlySigned")), (1, 1))
        upd_id = r.json()["ids"][0]
        # The same batch again: nothing new, no second e-mail.
        self.assertEqual(self.one_c.call("POST", "/v1/erp/documents:batchUpsert",
                                         {"documents": [upd]}).json().get("unchanged"), 1)
        # The manager makes an invoice and signs it.
        bad = self.curl("POST", "/v1/deals/%s/documents" % sale,
                        {"kind": "INVOICE", "date": "2026-13-01", "amount": {"amountMinor": "-1"}},
                        headers=self.as_("manager"))
        self.assertEqual(self.fields(bad), ["document.number", "document.date", "document.amount.amount_minor"])
        inv = self.curl("POST", "/v1/deals/%s/documents" % sale,
                        {"kind": "INVOICE", "number": "С-%s" % run, "date": "2026-03-05",
                         "amount": {"amountMinor": "62000000"}}, headers=self.as_("manager"))
        self.assertEqual(inv.status, 200, inv.body)
        signed = self.curl("POST", "/v1/documents/%s:sign" % inv.json()["id"], {}, headers=self.as_("manager"))
        self.assertEqual(signed.status, 200, signed.body)
        self.assertEqual(signed.json()["accountantNotice"]["state"], "PENDING")
        again = self.curl("POST", "/v1/documents/%s:sign" % inv.json()["id"], {}, headers=self.as_("manager"))
        self.assertEqual(again.status, 400, again.body)  # already signed
        for doc_id in (upd_id, inv.json()["id"]):
            wait_until(lambda: self.mails(doc_id), "the accountant's e-mail of " + doc_id)
            notified = self.one_c.poll_for("crm.deals.document.v1", doc_id, "crm.deals.document.accountant_notified.v1")
            self.assertEqual(list(notified.recipients), ["Бухгалтерия <buh@crm.local>"])
        # Exactly once each: a notice the mail server took is SENT after one attempt, and a SENT notice is
        # never claimed again (notice_test kills the worker mid-send to show the rest).
        for doc_id in (upd_id, inv.json()["id"]):
            doc = wait_until(lambda: (lambda d: d if d["accountantNotice"]["state"] == "SENT" else None)(
                self.curl("GET", "/v1/documents/%s" % doc_id, headers=self.as_("manager")).json()), "SENT")
            self.assertEqual(doc["accountantNotice"]["attempts"], 1)
            mails = self.mails(doc_id)
            self.assertEqual(len(mails), 1, mails)
            self.assertEqual(mails[0]["rcpt_to"], ["buh@crm.local"])
        listed = self.curl("GET", "/v1/documents?dealId=%s" % sale, headers=self.as_("manager")).json()
        self.assertEqual(listed["requiredKinds"], ["CONTRACT", "INVOICE"])  # 620 000 ₽ (seed 002)
        self.assertEqual(listed["missingKinds"], ["CONTRACT"])
        self.assertEqual(sorted(d["kind"] for d in listed["documents"]), ["INVOICE", "UPD"])

    def test_tasks_are_mirrored_to_1c_and_take_its_status(self):
        sale = self.deal(SALES, "Отгрузка (1С)")
        due = rfc3339(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1))
        task = self.curl("POST", "/v1/deals/%s/tasks" % sale, {"kind": "CUSTOM", "title": "Отгрузить товар клиенту",
                                               "dueTime": due}, headers=self.as_("manager"))
        self.assertEqual(task.status, 200, task.body)
        task_id = task.json()["id"]
        published = self.one_c.poll_for("crm.deals.erp_task.v1", task_id, "crm.deals.erp_task.published.v1")
        self.assertEqual(published.erp_task.task.title, "Отгрузить товар клиенту")
        self.assertEqual(published.erp_task.deal_name, "Отгрузка (1С)")
        guid = "1c-task-" + uuid.uuid4().hex[:8]
        done_at = rfc3339(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30))
        r = self.one_c.call("POST", "/v1/erp/tasks/%s:reportStatus" % guid,
                            {"taskId": task_id, "status": "DONE", "changeTime": done_at, "comment": "Отгружено со склада"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["outcome"], "APPLIED")
        seen = self.curl("GET", "/v1/tasks/%s" % task_id, headers=self.as_("manager")).json()
        self.assertEqual((seen["status"], seen["result"]), ("DONE", "Отгружено со склада"))
        reported = self.one_c.poll_for("crm.deals.erp_task.v1", task_id, "crm.deals.erp_task.status_reported.v1")
        self.assertEqual(reported.erp_task.external_id, guid)
        # A late report of an older change: discarded and logged.
        late = rfc3339(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5))
        r = self.one_c.call("POST", "/v1/erp/tasks/%s:reportStatus" % guid, {"status": "IN_PROGRESS", "changeTime": late})
        self.assertEqual(r.json()["outcome"], "STALE", r.body)
        conflicts = self.one_c.call("GET", "/v1/erp/taskConflicts?taskId=%s" % task_id).json()["conflicts"]
        self.assertEqual([c["resolution"] for c in conflicts], ["ERP_STALE"])
        # A task of a direction 1C does not manage is not mirrored.
        lead = self.deal(LEAD, "Лид (без 1С)")
        other = self.curl("POST", "/v1/deals/%s/tasks" % lead, {"kind": "CALL", "title": "Позвонить", "dueTime": due},
                          headers=self.as_("manager")).json()["id"]
        r = self.one_c.call("POST", "/v1/erp/tasks/%s-x:reportStatus" % guid,
                            {"taskId": other, "status": "DONE", "changeTime": done_at})
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(r.error()["status"], "FAILED_PRECONDITION", r.body)


if __name__ == "__main__":
    main()
