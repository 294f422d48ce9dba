#!/usr/bin/python3
"""Interactions (D16) and client requests (D15) end to end (issue 17): identity, deals, robots and the
gateway as processes with the demo data (`crm-deals demo`: the demo clients' requests and interactions,
the «Офис продаж» slot calendar), driven through the gateway with curl, over gRPC with python3-grpcio
(a telephony service), and read back from Kafka with python3-confluent-kafka:

  - a request and its stage derived from finished interactions; a call finished with «Назначена
    встреча» plans a meeting booked into the slot calendar ("10:00 - (1/2)(ПЗ:…)"); «Задачи на сегодня»
    of that day; every bad field named at once; visibility; the events on crm.deals.interaction.v1 and
    crm.deals.request.v1;
  - a telephony service (python3-grpcio, its own principal) upserts the same PBX call twice — recorded
    once — and completes it: robots count a touch of the client's open deal (the first-contact SLA step
    is cancelled, the dry run counts it);
  - a CreateInteraction repeated with its Idempotency-Key makes one interaction, and the key reused with
    an invalid request is named alone (every POST route's case is walked by api_conventions_test.py).

Usage: interactions_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import datetime
import os
import sys
import time
import uuid
import zoneinfo

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import StackTest, main, wait_until  # noqa: E402
from idempotency import fill, load_cases  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402

LEAD = "01930000-0001-7000-8000-000000000000"
UNSORTED = "01930000-0001-7000-8000-000000000001"
YELLOW_RULE = "01930000-0100-7000-8000-000000000001"
TOUCHES_RULE = "01930000-0100-7000-8000-000000000003"
# A project id for the requests this test makes (services/deals/interactions/demo.h; the demo's own
# requests are in realty's demo project).
PROJECT = "01930000-0014-7000-8000-000000000001"
OFFICE = "01930000-0016-7000-8000-000000000001"
MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Telephony:
    """A telephony service as it will call deals: python3-grpcio, its own principal (KIND_SERVICE with
    interactions.read.all and interactions.write.all), the API from the descriptor set."""

    def __init__(self, stack):
        self.api = GrpcApi(os.path.join(stack.build, "proto/crm_api.pb"))
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % stack.grpc_ports["deals"])
        Principal = self.api.message("crm.common.v1.Principal")
        self.principal = Principal(kind=Principal.KIND_SERVICE, service="telephony",
                                   permissions=["interactions.read.all", "interactions.write.all"])
        self.stack = stack
        self.Interaction = self.api.message("crm.deals.v1.Interaction")

    def call(self, method, **fields):
        fn, Request = self.api.method(self.channel, "crm.deals.v1.InteractionService/" + method)
        return fn(Request(**fields), metadata=self.stack.signed(self.principal), timeout=10)

    def record(self, call_id, client_id, responsible_id, rang_at):
        """What the PBX reports when a call comes in (the same at every retry): the call, keyed by its id at
        the PBX, planned for the moment it rang (Unix seconds)."""
        x = self.Interaction(kind=self.Interaction.CALL, direction=self.Interaction.INBOUND,
                             status=self.Interaction.PLANNED, client_id=client_id, responsible_id=responsible_id,
                             source="telephony", external_id=call_id, subject="Входящий звонок")
        x.planned_time.seconds = rang_at
        return self.call("UpsertInteraction", interaction=x)


class Interactions(StackTest):
    services = ["deals", "robots"]

    def client(self, name):
        phone = "+7916%07d" % (uuid.uuid4().int % 10000000)
        r = self.curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": name, "phones": [phone]},
                      headers=self.as_("manager"))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def fields(self, r):
        self.assertEqual(r.status, 400, r.body)
        return [d["field"] for d in r.error()["details"]]

    def test_a_request_moves_with_its_interactions_and_books_the_calendar(self):
        client = self.client("Юлия Смирнова")
        bad = self.curl("POST", "/v1/requests", {"clientId": client["id"], "choiceFactors": ["Цена", "Цена"],
                                                 "areaFromCentiM2": "6000", "areaToCentiM2": "4000",
                                                 "budgetMax": {"amountMinor": "100", "currency": "rub"}},
                        headers=self.as_("manager"))
        self.assertEqual(self.fields(bad), ["request.project_id", "request.choice_factors[1]",
                                            "request.budget_max.currency", "request.area_to_centi_m2"])
        r = self.curl("POST", "/v1/requests", {"clientId": client["id"], "projectId": PROJECT, "unitKind": "APARTMENT",
                                               "source": "Сайт", "choiceFactors": ["Цена", "Расположение"],
                                               "budgetMax": {"amountMinor": "1200000000", "currency": "RUB"},
                                               "areaFromCentiM2": "4550", "areaToCentiM2": "7000"},
                      headers=self.as_("manager"))
        self.assertEqual(r.status, 200, r.body)
        request = r.json()
        self.assertEqual((request["stage"], request["stageName"]), ("NEW", "Новый"))
        self.assertEqual(request["clientName"], "Юлия Смирнова")
        # The call from the seed's §6.5: primary (the client's first in the project), then its decode.
        call = self.curl("POST", "/v1/interactions", {"kind": "CALL", "clientId": client["id"],
                                                      "requestId": request["id"],
                                                      "plannedTime": rfc3339(datetime.datetime.now(MSK)),
                                                      "subject": "Первичный звонок"},
                         headers=self.as_("manager"))
        self.assertEqual(call.status, 200, call.body)
        call = call.json()
        self.assertEqual((call["primacy"], call["projectId"]), ("PRIMARY", PROJECT))
        no_decode = self.curl("POST", "/v1/interactions/%s:complete" % call["id"], {"result": "Поговорили"},
                              headers=self.as_("manager"))
        self.assertEqual(self.fields(no_decode), ["outcome"])
        tomorrow = (datetime.datetime.now(MSK) + datetime.timedelta(days=1)).date()
        meeting_at = datetime.datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=MSK)
        off_grid = self.curl("POST", "/v1/interactions/%s:complete" % call["id"],
                             {"outcome": "MEETING_SCHEDULED", "result": "Записан на встречу",
                              "next": {"plannedTime": rfc3339(meeting_at + datetime.timedelta(minutes=30)),
                                       "calendarId": OFFICE}},
                             headers=self.as_("manager"))
        self.assertEqual(self.fields(off_grid), ["next.planned_time"])
        done = self.curl("POST", "/v1/interactions/%s:complete" % call["id"],
                         {"outcome": "MEETING_SCHEDULED", "result": "Записан на встречу",
                          "next": {"plannedTime": rfc3339(meeting_at), "calendarId": OFFICE}},
                         headers=self.as_("manager"))
        self.assertEqual(done.status, 200, done.body)
        meeting = done.json()["next"]
        self.assertEqual((meeting["kind"], meeting["status"], meeting["primacy"]), ("MEETING", "PLANNED", "SECONDARY"))
        self.assertTrue(meeting["preRegistered"])
        got = self.curl("GET", "/v1/requests/" + request["id"], headers=self.as_("manager")).json()
        self.assertEqual((got["stage"], got["stageName"], got["lastOutcome"]),
                         ("MEETING_SCHEDULED", "Назначена встреча", "MEETING_SCHEDULED"))
        # The calendar of that day, as the seed shows it.
        slots = self.curl("GET", "/v1/slotCalendars/%s/slots?fromDay=%s&days=1" % (OFFICE, tomorrow.isoformat()),
                          headers=self.as_("manager"))
        self.assertEqual(slots.status, 200, slots.body)
        texts = [s["text"] for s in slots.json()["days"][0]["slots"]]
        self.assertEqual(texts[0], "09:00 - (0/2)")
        self.assertEqual(texts[1], "10:00 - (1/2)(ПЗ:Юлия Смирнова)")
        # «Задачи на сегодня» of that day: the manager's own meeting.
        today = self.curl("GET", "/v1/interactions:today?day=%s&responsible=me&projectIds=%s" %
                          (tomorrow.isoformat(), PROJECT), headers=self.as_("manager"))
        self.assertEqual(today.status, 200, today.body)
        self.assertIn(meeting["id"], [x["id"] for x in today.json().get("planned", [])])
        # Lists by client and by stage; other people's requests are not there for a Telegram operator.
        listed = self.curl("GET", "/v1/interactions?clientId=%s" % client["id"], headers=self.as_("manager")).json()
        self.assertEqual([x["id"] for x in listed["interactions"]], [meeting["id"], call["id"]])
        by_stage = self.curl("GET", "/v1/requests?stage=MEETING_SCHEDULED&responsible=me&pageSize=200",
                             headers=self.as_("manager")).json()
        self.assertIn(request["id"], [x["id"] for x in by_stage["requests"]])
        self.assertEqual(self.curl("GET", "/v1/interactions/" + call["id"], headers=self.as_("telegram_operator")).status,
                         404)
        self.assertEqual(self.fields(self.curl("GET", "/v1/interactions?pageSize=-1&clientId=x",
                                               headers=self.as_("manager"))),
                         ["client_id", "page_size"])
        # The events, read from Kafka by a client nobody here wrote.
        self.assertEqual(self.event_types("crm.deals.interaction.v1", call["id"], "crm.deals.interaction.completed.v1"),
                         ["crm.deals.interaction.created.v1", "crm.deals.interaction.completed.v1"])
        self.assertIn("crm.deals.request.stage_changed.v1",
                      self.event_types("crm.deals.request.v1", request["id"], "crm.deals.request.stage_changed.v1"))

    def test_a_telephony_service_records_a_call_once_and_its_completion_is_a_touch(self):
        client = self.client("Зита Каримова")
        deal = self.curl("POST", "/v1/deals", {"name": "Квартира в ЖК", "pipelineId": LEAD, "stageId": UNSORTED,
                                               "clientId": client["id"]}, headers=self.as_("manager"))
        self.assertEqual(deal.status, 200, deal.body)
        deal = deal.json()
        log = lambda: self.curl("GET", "/v1/robots/executions?dealId=%s&ruleId=%s" % (deal["id"], YELLOW_RULE),
                                headers=self.as_("head_of_sales")).json().get("executions", [])
        wait_until(lambda: log() and log()[0]["state"] == "WAITING", "the first-contact step to wait")
        pbx = Telephony(self.stack)
        manager = self.user_id("manager")
        call_id = "pbx-%d.%d" % (time.time(), uuid.uuid4().int % 10000)
        rang_at = int(time.time())
        first = pbx.record(call_id, client["id"], manager, rang_at)
        again = pbx.record(call_id, client["id"], manager, rang_at)  # the PBX retries: the same call
        self.assertEqual(first.id, again.id)
        self.assertEqual(again.version, 1)
        listed = pbx.call("ListInteractions", client_id=client["id"])
        self.assertEqual([x.id for x in listed.interactions], [first.id])
        done = pbx.call("CompleteInteraction", id=first.id, result="Клиент ждёт предложение")
        self.assertEqual(done.interaction.status, pbx.Interaction.DONE)
        # The manager sees it through the gateway, recorded for them.
        seen = self.curl("GET", "/v1/interactions/" + first.id, headers=self.as_("manager"))
        self.assertEqual(seen.status, 200, seen.body)
        self.assertEqual((seen.json()["source"], seen.json()["externalId"]), ("telephony", call_id))
        # robots count it: the first-contact step is cancelled, the dry run counts one touch.
        wait_until(lambda: log()[0]["state"] == "CANCELLED", "the touch to cancel the first-contact step")

        def touches():
            r = self.curl("POST", "/v1/robots/rules:dryRun", {"ruleId": TOUCHES_RULE, "dealId": deal["id"]},
                          headers=self.as_("head_of_sales"))
            return r.status == 200 and r.json().get("counters", {}).get("touches") == "1"
        wait_until(touches, "robots to count one touch")
        completed = self.events("crm.deals.interaction.v1", first.id, "crm.deals.interaction.completed.v1")
        self.assertEqual([t for t, _ in completed],
                         ["crm.deals.interaction.created.v1", "crm.deals.interaction.completed.v1"])

    def test_demo_data_fills_the_calendar(self):
        today = datetime.datetime.now(MSK).date().isoformat()
        slots = self.curl("GET", "/v1/slotCalendars/%s/slots?fromDay=%s&days=1" % (OFFICE, today),
                          headers=self.as_("head_of_sales"))
        self.assertEqual(slots.status, 200, slots.body)
        texts = [s["text"] for s in slots.json()["days"][0]["slots"]]
        self.assertIn("14:00 - (2/2)(Онлайн ПЗ:Юлия)(ПЗ:Зита)", texts)
        agenda = self.curl("GET", "/v1/interactions:today", headers=self.as_("head_of_sales")).json()
        self.assertGreaterEqual(int(agenda.get("overdueCount", "0")), 1)  # yesterday's forgotten call
        # The demo's requests are in realty's demo project.
        projects = self.curl("GET", "/v1/realty/projects?pageSize=200", headers=self.as_("head_of_sales")).json()
        demo = [p["id"] for p in projects["projects"] if p["name"] == "ЖК Северный парк"]
        self.assertEqual(len(demo), 1, projects)
        requests = self.curl("GET", "/v1/requests?projectId=%s&pageSize=200" % demo[0],
                             headers=self.as_("head_of_sales")).json()["requests"]
        self.assertGreaterEqual(len({r["stage"] for r in requests}), 3)

    def test_a_repeated_create_makes_one_interaction_and_a_reused_key_is_named_alone(self):
        # The suite's walk (api_conventions_test.py) sends every case twice and once with another body;
        # what it does not check is kept here: the repeat's effect (one interaction), and a reused key
        # named alone even when the other request is itself invalid.
        cases = load_cases("interactions")
        names = cases.fixtures(self.curl, self.as_)
        case = next(c for c in cases.CASES if c["rpc"].endswith(".CreateInteraction"))
        path, body = fill(case["path"], names), fill(case["body"], names)
        key = "Idempotency-Key: e2e-" + uuid.uuid4().hex
        first = self.curl("POST", path, body, headers=self.as_(case["role"], key))
        again = self.curl("POST", path, body, headers=self.as_(case["role"], key))
        self.assertEqual((first.status, again.status), (200, 200), first.body + again.body)
        self.assertEqual(first.json(), again.json())
        reused = self.curl("POST", path, {}, headers=self.as_(case["role"], key))
        self.assertEqual(reused.status, 400, reused.body)
        self.assertEqual(["idempotency-key"], [d["field"] for d in reused.error()["details"]])
        listed = self.curl("GET", "/v1/interactions?clientId=%s" % names["client"], headers=self.as_("manager"))
        self.assertEqual([x["id"] for x in listed.json()["interactions"]], [first.json()["id"]])


if __name__ == "__main__":
    main()
