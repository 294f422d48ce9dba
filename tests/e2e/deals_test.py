#!/usr/bin/python3
"""Deals end to end (issue 5, D1–D4, D13): identity, deals and the gateway as processes, the demo
pipelines of seeds 001 and 002 loaded by `crm-deals demo`, driven through the gateway with curl, over gRPC
with python3-grpcio, and read back from Kafka with python3-confluent-kafka.

Usage: deals_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import os
import sys
import time
import urllib.parse
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, StackTest, main  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402

# The demo pipeline of seed 001 and its stages (services/deals/demo.h).
LEADS = "01930000-0001-7000-8000-000000000000"
UNSORTED = "01930000-0001-7000-8000-000000000001"
QUALIFIED = "01930000-0001-7000-8000-000000000003"
LOST = "01930000-0001-7000-8000-000000000007"


class Deals(StackTest):
    services = ["deals"]

    def create(self, role="manager", **fields):
        body = {"name": "Квартира " + uuid.uuid4().hex[:6], "pipelineId": LEADS,
                "amount": {"amountMinor": "950000000", "currency": "RUB"}}
        body.update(fields)
        r = self.curl("POST", "/v1/deals", body, headers=self.as_(role))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def test_demo_pipelines_and_who_may_change_them(self):
        r = self.curl("GET", "/v1/pipelines", headers=self.as_("manager"))
        self.assertEqual(r.status, 200, r.body)
        pipelines = {p["name"]: p for p in r.json()["pipelines"]}
        self.assertIn("Продажа", pipelines)
        leads = [s["name"] for s in pipelines["Первичная обработка"]["stages"]]
        self.assertEqual(leads, ["Неразобранное", "Квалификация", "Квалифицирован", "Назначено", "Срыв визита",
                                 "Успешно", "Отказ"])
        reasons = self.curl("GET", "/v1/lostReasons", headers=self.as_("manager")).json()["lostReasons"]
        self.assertEqual([x["name"] for x in reasons], ["Денег нет", "Ушли к конкурентам", "Нецелевой клиент",
                                                        "Не приняли решение", "Долго", "Другое"])
        new = {"name": "Вторичка", "stages": [{"name": "Новая", "kind": "KIND_OPEN"},
                                               {"name": "Успешно", "kind": "KIND_WON"},
                                               {"name": "Отказ", "kind": "KIND_LOST"}]}
        self.assertEqual(self.curl("POST", "/v1/pipelines", new, headers=self.as_("manager")).status, 403)
        made = self.curl("POST", "/v1/pipelines", new, headers=self.as_("head_of_sales"))
        self.assertEqual(made.status, 200, made.body)
        bad = self.curl("POST", "/v1/pipelines", {"name": "X", "stages": [{"name": "A", "kind": "KIND_OPEN"}]},
                        headers=self.as_("head_of_sales"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertIn("pipeline.stages", [d["field"] for d in bad.error()["details"]])

    def test_create_defaults_and_validation_naming_the_field(self):
        deal = self.create()
        me = self.stack.session("manager")["user"]["id"]
        self.assertEqual(deal["responsibleId"], me)
        self.assertEqual(deal["stageId"], UNSORTED)
        self.assertEqual(deal["status"], "STATUS_OPEN")
        for body, field in (({"pipelineId": LEADS}, "deal.name"),
                            ({"name": "x", "pipelineId": LEADS, "amount": {"amountMinor": "1", "currency": "rub"}},
                             "deal.amount.currency"),
                            ({"name": "x", "pipelineId": str(uuid.uuid4())}, "deal.pipeline_id")):
            r = self.curl("POST", "/v1/deals", body, headers=self.as_("manager"))
            self.assertEqual(r.status, 400, r.body)
            self.assertIn(field, [d["field"] for d in r.error()["details"]], r.body)

    def test_gates_and_lost_reasons(self):
        deal = self.create()
        path = "/v1/deals/%s:move" % deal["id"]
        gated = self.curl("POST", path, {"stageId": QUALIFIED}, headers=self.as_("manager"))
        self.assertEqual(gated.status, 400, gated.body)
        self.assertEqual(gated.error()["status"], "FAILED_PRECONDITION")
        for item in ("client_id", "source", "an open task", "a comment"):
            self.assertIn(item, gated.error()["message"])
        no_reason = self.curl("POST", path, {"stageId": LOST}, headers=self.as_("manager"))
        self.assertEqual(no_reason.status, 400)
        self.assertIn("lost_reason_code", [d["field"] for d in no_reason.error()["details"]])
        other = self.curl("POST", path, {"stageId": LOST, "lostReasonCode": "other"}, headers=self.as_("manager"))
        self.assertEqual(other.status, 400)
        lost = self.curl("POST", path, {"stageId": LOST, "lostReasonCode": "other", "comment": "купили у застройщика"},
                         headers=self.as_("manager"))
        self.assertEqual(lost.status, 200, lost.body)
        self.assertEqual(lost.json()["status"], "STATUS_LOST")
        self.assertEqual(lost.json()["lostReasonCode"], "other")

    def test_access_own_and_all(self):
        deal = self.create()
        path = "/v1/deals/" + deal["id"]
        self.assertEqual(self.curl("GET", path, headers=self.as_("manager")).status, 200)
        self.assertEqual(self.curl("GET", path, headers=self.as_("head_of_sales")).status, 200)
        # A Telegram operator sees only their own deals: this one does not exist for them.
        self.assertEqual(self.curl("GET", path, headers=self.as_("telegram_operator")).status, 404)
        self.assertEqual(self.curl("PATCH", path + "?updateMask=name", {"name": "x"},
                                   headers=self.as_("telegram_operator")).status, 404)

    def test_clients_phones_duplicates_and_deal_contacts(self):
        phone = "+7 916 %03d-%02d-%02d" % (uuid.uuid4().int % 1000, uuid.uuid4().int % 100, uuid.uuid4().int % 100)
        made = self.curl("POST", "/v1/clients", {"kind": "KIND_COMPANY", "name": "ООО Ромашка " + uuid.uuid4().hex[:4],
                                                 "phones": [phone]}, headers=self.as_("manager"))
        self.assertEqual(made.status, 200, made.body)
        client = made.json()
        self.assertTrue(client["phones"][0].startswith("+7916"), client["phones"])
        # The same number written another way is a duplicate.
        again = "8" + phone[2:]
        dup = self.curl("POST", "/v1/clients", {"kind": "KIND_COMPANY", "name": "Другая", "phones": [again]},
                        headers=self.as_("manager"))
        self.assertEqual(dup.status, 409, dup.body)
        bad = self.curl("POST", "/v1/clients", {"kind": "KIND_COMPANY", "name": "Х", "phones": ["12"]},
                        headers=self.as_("manager"))
        self.assertEqual(bad.status, 400)
        self.assertIn("client.phones[0]", [d["field"] for d in bad.error()["details"]])
        contact = self.curl("POST", "/v1/clients/%s/contacts" % client["id"], {"fullName": "Иванов Иван"},
                            headers=self.as_("manager"))
        self.assertEqual(contact.status, 200, contact.body)
        # A new deal of that client takes its contacts; the first is the main one (seed 003).
        deal = self.create(clientId=client["id"])
        listed = self.curl("GET", "/v1/deals/%s/contacts" % deal["id"], headers=self.as_("manager")).json()["contacts"]
        self.assertEqual([(c["contact"]["id"], c["main"]) for c in listed], [(contact.json()["id"], True)])

    def test_tasks_comments_and_the_timeline(self):
        deal = self.create()
        # «Нет задач» until a task exists; the card's reminder is then its due time.
        self.assertNotIn("nextTaskTime", self.curl("GET", "/v1/deals/" + deal["id"], headers=self.as_("manager")).json())
        task = self.curl("POST", "/v1/deals/%s/tasks" % deal["id"],
                         {"kind": "CALL", "title": "Позвонить клиенту", "dueTime": "2030-01-15T09:00:00Z"},
                         headers=self.as_("manager"))
        self.assertEqual(task.status, 200, task.body)
        self.assertEqual(self.curl("GET", "/v1/deals/" + deal["id"], headers=self.as_("manager")).json()["nextTaskTime"],
                         "2030-01-15T09:00:00Z")
        # A call needs a result to be completed.
        no_result = self.curl("POST", "/v1/tasks/%s:complete" % task.json()["id"], {}, headers=self.as_("manager"))
        self.assertEqual(no_result.status, 400, no_result.body)
        # The attachment travels base64 in JSON (proto3 bytes); the comment carries it.
        att = self.curl("POST", "/v1/deals/%s/attachments" % deal["id"],
                        {"fileName": "план.txt", "contentType": "text/plain", "content": "0L/Qu9Cw0L0="},
                        headers=self.as_("manager"))
        self.assertEqual(att.status, 200, att.body)
        comment = self.curl("POST", "/v1/deals/%s/comments" % deal["id"],
                            {"text": "Клиент просил перезвонить", "attachmentIds": [att.json()["id"]]},
                            headers=self.as_("manager"))
        self.assertEqual(comment.status, 200, comment.body)
        renamed = self.curl("PATCH", "/v1/deals/%s?updateMask=name" % deal["id"], {"name": "Квартира 3к"},
                            headers=self.as_("manager") + ['If-Match: "%s"' % deal["version"]])
        self.assertEqual(renamed.status, 200, renamed.body)
        entries = self.curl("GET", "/v1/deals/%s/timeline" % deal["id"], headers=self.as_("manager")).json()["entries"]
        kinds = [e["kind"] for e in entries]
        self.assertEqual(kinds[:3], ["FIELD_CHANGED", "COMMENT", "TASK_CREATED"], kinds)
        self.assertIn("Квартира 3к", entries[0]["newValue"])

    def test_team_access_follows_identity(self):
        # A new manager in «Отдел продаж»: deals learns their team from identity's events on Kafka.
        teams = self.curl("GET", "/v1/teams", headers=self.as_("administrator")).json()["teams"]
        sales = [t["id"] for t in teams if t["name"] == "Отдел продаж"][0]
        made = self.curl("POST", "/v1/users", {"user": {"login": "mgr-" + uuid.uuid4().hex[:6], "fullName": "Новый",
                                                        "roleCodes": ["manager"], "teamIds": [sales]},
                                               "password": "correct horse battery"},
                         headers=self.as_("administrator"))
        self.assertEqual(made.status, 200, made.body)
        deal = self.create(role="head_of_sales", responsibleId=made.json()["id"])
        path = "/v1/deals/" + deal["id"]
        # The demo manager shares that team: they see the deal once deals has heard of the new user.
        for _ in range(240):  # bounded: 240 polls of 0.25 s
            if self.curl("GET", path, headers=self.as_("manager")).status == 200:
                break
            time.sleep(0.25)
        self.assertEqual(self.curl("GET", path, headers=self.as_("manager")).status, 200)
        self.assertEqual(self.curl("GET", path, headers=self.as_("telegram_operator")).status, 404)

    def test_stale_version_is_412_and_the_first_change_stays(self):
        deal = self.create()
        path = "/v1/deals/%s?updateMask=name" % deal["id"]
        etag = '"%s"' % deal["version"]
        first = self.curl("PATCH", path, {"name": "Первый"}, headers=self.as_("manager") + ["If-Match: " + etag])
        self.assertEqual(first.status, 200, first.body)
        second = self.curl("PATCH", path, {"name": "Второй"}, headers=self.as_("manager") + ["If-Match: " + etag])
        self.assertEqual(second.status, 412, second.body)
        self.assertEqual(self.curl("GET", "/v1/deals/" + deal["id"], headers=self.as_("manager")).json()["name"],
                         "Первый")

    def test_concurrent_updates_of_one_version_one_wins_the_other_is_409(self):
        """Eight clients change the same version at once (the version in the body, no If-Match): exactly one
        wins, the others get 409 ABORTED and their names are nowhere; the deal's version moved by one."""
        import concurrent.futures
        deal = self.create()
        path = "/v1/deals/%s?updateMask=name" % deal["id"]
        bearer = self.as_("manager")

        def patch(i):
            return self.curl("PATCH", path, {"name": "Гонка %d" % i, "version": deal["version"]}, headers=bearer)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(patch, range(8)))
        statuses = sorted(r.status for r in replies)
        self.assertEqual(statuses, [200] + [409] * 7, [r.body for r in replies])
        self.assertEqual({r.error()["status"] for r in replies if r.status == 409}, {"ABORTED"})
        winner = next(r.json() for r in replies if r.status == 200)
        now = self.curl("GET", "/v1/deals/" + deal["id"], headers=bearer).json()
        self.assertEqual(now["name"], winner["name"])
        self.assertEqual(int(now["version"]), int(deal["version"]) + 1)
        # And over gRPC (python3-grpcio, signed as the gateway would): a stale version is ABORTED.
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        Principal = api.message("crm.common.v1.Principal")
        me = Principal(kind=Principal.KIND_USER, id=self.stack.session("manager")["user"]["id"],
                       permissions=["deals.read.own", "deals.write.own"])
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["deals"])
        update, UpdateDealRequest = api.method(channel, "crm.deals.v1.DealService/UpdateDeal")
        req = UpdateDealRequest()
        req.deal.id = deal["id"]
        req.deal.name = "Опоздавший"
        req.deal.version = int(deal["version"])
        req.update_mask.paths.append("name")
        with self.assertRaises(grpc.RpcError) as e:
            update(req, metadata=self.stack.signed(me), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.ABORTED)
        req.deal.version = int(now["version"])
        self.assertEqual(update(req, metadata=self.stack.signed(me), timeout=10).name, "Опоздавший")
        channel.close()

    def test_board_counts_and_sums_only_my_deals(self):
        mine = [self.create(amount={"amountMinor": str(100 * (i + 1)), "currency": "RUB"}) for i in range(3)]
        board = self.curl("GET", "/v1/pipelines/%s/board?filter.mine=true&cardsPerStage=2" % LEADS,
                          headers=self.as_("manager"))
        self.assertEqual(board.status, 200, board.body)
        column = board.json()["columns"][0]
        self.assertEqual(column["stage"]["id"], UNSORTED)
        listed = self.curl("GET", "/v1/deals?filter.mine=true&filter.stageIds=%s&pageSize=200" % UNSORTED,
                           headers=self.as_("manager")).json()["deals"]
        self.assertEqual(int(column["count"]), len(listed))
        self.assertEqual(int(column["sum"]["amountMinor"]), sum(int(d["amount"]["amountMinor"]) for d in listed))
        self.assertEqual(len(column["cards"]), 2)
        self.assertTrue(column["nextPageToken"])
        self.assertTrue({d["id"] for d in mine} <= {d["id"] for d in listed})

    def test_a_board_in_one_call_and_the_managers_default_mine(self):
        """Issue 16 (seed 003): a card names its responsible and client, the nearest task (none = «Нет
        задач») and whether it is overdue; clients by id in one call; the manager's list is "mine" by
        default, a filter the screen can lift."""
        teams = self.curl("GET", "/v1/teams", headers=self.as_("administrator")).json()["teams"]
        sales = [t["id"] for t in teams if t["name"] == "Отдел продаж"][0]
        name = "Ольга Новикова " + uuid.uuid4().hex[:4]
        colleague = self.curl("POST", "/v1/users", {"user": {"login": "mgr-" + uuid.uuid4().hex[:6], "fullName": name,
                                                             "roleCodes": ["manager"], "teamIds": [sales]},
                                                    "password": "correct horse battery"},
                              headers=self.as_("administrator"))
        self.assertEqual(colleague.status, 200, colleague.body)
        client = self.curl("POST", "/v1/clients", {"kind": "KIND_COMPANY", "name": "ООО Карточка " + uuid.uuid4().hex[:4]},
                           headers=self.as_("manager"))
        self.assertEqual(client.status, 200, client.body)
        client = client.json()
        theirs = self.create(role="head_of_sales", responsibleId=colleague.json()["id"], clientId=client["id"])
        late = self.curl("POST", "/v1/deals/%s/tasks" % theirs["id"],
                         {"kind": "CALL", "title": "Перезвонить", "dueTime": "2021-03-01T09:00:00Z"},
                         headers=self.as_("head_of_sales"))
        self.assertEqual(late.status, 200, late.body)
        mine = self.create()
        # The colleague's card through the head of sales' board, once deals has heard of the new user.
        card = {}
        for _ in range(240):  # bounded: 240 polls of 0.25 s
            r = self.curl("GET", "/v1/deals?filter.responsibleIds=%s" % colleague.json()["id"],
                          headers=self.as_("head_of_sales"))
            self.assertEqual(r.status, 200, r.body)
            card = r.json()["deals"][0]
            if card.get("responsibleName"):
                break
            time.sleep(0.25)
        self.assertEqual(card["id"], theirs["id"])
        self.assertEqual(card["responsibleName"], name)
        self.assertEqual(card["clientName"], client["name"])
        self.assertEqual((card["nextTaskId"], card["nextTaskTitle"]), (late.json()["id"], "Перезвонить"))
        self.assertTrue(card["overdue"])
        # The manager: only their own by default (mineByDefault), the team's with filter.allResponsibles.
        listed = self.curl("GET", "/v1/deals?pageSize=200", headers=self.as_("manager"))
        self.assertEqual(listed.status, 200, listed.body)
        me = self.stack.session("manager")["user"]["id"]
        self.assertTrue(listed.json()["mineByDefault"])
        self.assertEqual({d["responsibleId"] for d in listed.json()["deals"]}, {me})
        fresh = [d for d in listed.json()["deals"] if d["id"] == mine["id"]][0]
        self.assertEqual((fresh["nextTaskId"], fresh["overdue"]), ("", False))  # «Нет задач»
        everyone = self.curl("GET", "/v1/deals?filter.allResponsibles=true&filter.query=%s" %
                             urllib.parse.quote(theirs["name"]), headers=self.as_("manager"))
        self.assertEqual(everyone.status, 200, everyone.body)
        self.assertFalse(everyone.json().get("mineByDefault", False))
        self.assertEqual([d["id"] for d in everyone.json()["deals"]], [theirs["id"]])
        board = self.curl("GET", "/v1/pipelines/%s/board" % LEADS, headers=self.as_("manager"))
        self.assertEqual(board.status, 200, board.body)
        self.assertTrue(board.json()["mineByDefault"])
        # Clients by id: in the order asked, the unknown reported.
        nobody = str(uuid.uuid4())
        got = self.curl("GET", "/v1/clients:batchGet?ids=%s&ids=%s" % (nobody, client["id"]),
                        headers=self.as_("manager"))
        self.assertEqual(got.status, 200, got.body)
        self.assertEqual([c["name"] for c in got.json()["clients"]], [client["name"]])
        self.assertEqual(got.json()["missingIds"], [nobody])
        bad = self.curl("GET", "/v1/clients:batchGet?ids=x", headers=self.as_("manager"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual([d["field"] for d in bad.error()["details"]], ["ids[0]"])

    def test_deal_types_custom_field_filters_and_comments_in_the_stage(self):
        """Issue 16, the seeds: a deal type (D2), custom fields filtered from a URL (D3, 400 before), and
        the one definition of a comment in the stage (D4) as a screen sees them through the gateway."""
        types = self.curl("GET", "/v1/dealTypes", headers=self.as_("manager"))
        self.assertEqual(types.status, 200, types.body)
        self.assertEqual([t["code"] for t in types.json()["dealTypes"]], ["new_sale", "repeat_sale", "upsell", "renewal"])
        deal = self.create(typeCode="upsell", fields=[{"code": "kp_status", "text": "Согласовано"}])
        self.assertEqual(deal["typeCode"], "upsell")
        self.create(typeCode="renewal", fields=[{"code": "kp_status", "text": "Не согласовано"}])
        query = urllib.parse.urlencode([("filter.customFields", "kp_status:Согласовано"),
                                        ("filter.typeCodes", "upsell"), ("pageSize", "200")])
        listed = self.curl("GET", "/v1/deals?" + query, headers=self.as_("manager"))
        self.assertEqual(listed.status, 200, listed.body)
        self.assertIn(deal["id"], [d["id"] for d in listed.json()["deals"]])
        self.assertEqual({(d["typeCode"]) for d in listed.json()["deals"]}, {"upsell"})
        bad = self.curl("GET", "/v1/deals?" + urllib.parse.urlencode([("filter.customFields", "kp_status"),
                                                                       ("filter.typeCodes", "barter")]),
                        headers=self.as_("manager"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual([d["field"] for d in bad.error()["details"]],
                         ["filter.type_codes[0]", "filter.custom_fields[0]"])
        # A comment written in the stage: the deal says so (what the 19:00 report reads).
        self.assertFalse(self.curl("GET", "/v1/deals/" + deal["id"], headers=self.as_("manager")).json()
                         .get("commentSinceStageEntry", False))
        comment = self.curl("POST", "/v1/deals/%s/comments" % deal["id"], {"text": "Клиент ждёт КП"},
                            headers=self.as_("manager"))
        self.assertEqual(comment.status, 200, comment.body)
        now = self.curl("GET", "/v1/deals/" + deal["id"], headers=self.as_("manager")).json()
        self.assertTrue(now["commentSinceStageEntry"])
        # (stored in microseconds; the comment's reply carries its clock's nanoseconds)
        self.assertTrue(comment.json()["createTime"].startswith(now["lastCommentTime"].rstrip("Z")), now)

    def test_grpc_callers_need_a_signed_principal(self):
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["deals"])
        get = channel.unary_unary("/crm.deals.v1.DealService/GetDeal",
                                  request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as e:
            get(b"\x0a\x01x", timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_events_reach_kafka_in_order(self):
        deal = self.create()
        self.curl("POST", "/v1/deals/%s:move" % deal["id"],
                  {"stageId": LOST, "lostReasonCode": "no_money"}, headers=self.as_("manager"))
        types = self.event_types("crm.deals.deal.v1", deal["id"], "crm.deals.deal.lost.v1")
        self.assertEqual(types, ["crm.deals.deal.created.v1", "crm.deals.deal.stage_changed.v1",
                                 "crm.deals.deal.lost.v1"])

    def test_automation_causation_reaches_the_envelopes(self):
        """X-Skip-Automation through the gateway and x-crm-automation-depth over gRPC (as a robot sends it)
        end up in the events' envelopes on Kafka; a client's X-Automation-Depth is not passed on."""
        body = {"name": "Импорт " + uuid.uuid4().hex[:6], "pipelineId": LEADS}
        r = self.curl("POST", "/v1/deals", body,
                      headers=self.as_("manager") + ["X-Skip-Automation: true", "X-Automation-Depth: 9"])
        self.assertEqual(r.status, 200, r.body)
        deal = r.json()
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        Principal = api.message("crm.common.v1.Principal")
        me = Principal(kind=Principal.KIND_USER, id=self.stack.session("manager")["user"]["id"],
                       permissions=["deals.read.own", "deals.write.own"])
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["deals"])
        move, MoveDealRequest = api.method(channel, "crm.deals.v1.DealService/MoveDeal")
        req = MoveDealRequest(id=deal["id"], stage_id=LOST, lost_reason_code="no_money")
        move(req, metadata=list(self.stack.signed(me)) + [("x-crm-automation-depth", "2")], timeout=10)
        channel.close()
        Envelope = api.message("crm.events.v1.Envelope")
        seen = []
        for t, value in self.events("crm.deals.deal.v1", deal["id"], "crm.deals.deal.lost.v1"):
            env = Envelope.FromString(value)
            seen.append((t, env.automation_depth, env.skip_automation))
        self.assertEqual(seen, [("crm.deals.deal.created.v1", 0, True), ("crm.deals.deal.stage_changed.v1", 2, False),
                                ("crm.deals.deal.lost.v1", 2, False)])

    @staticmethod
    def png(width, height, rgb):
        """An RGB PNG of one colour, written by hand (zlib + CRC-32)."""
        import struct
        import zlib

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

    def test_image_attachment_gets_a_thumbnail_to_download(self):
        import base64
        import struct
        deal = self.create()
        image = self.png(600, 300, (200, 30, 30))
        # Declared as an octet stream: the PNG magic makes it an image.
        up = self.curl("POST", "/v1/deals/%s/attachments" % deal["id"],
                       {"fileName": "фасад", "contentType": "application/octet-stream",
                        "content": base64.b64encode(image).decode()}, headers=self.as_("manager"))
        self.assertEqual(up.status, 200, up.body)
        att = up.json()
        self.assertEqual((att["thumbnailWidth"], att["thumbnailHeight"], att["thumbnailContentType"]),
                         (256, 128, "image/png"), att)
        path = "/v1/deals/%s/attachments/%s" % (deal["id"], att["id"])
        thumb = self.curl("GET", path + "?view=THUMBNAIL", headers=self.as_("manager"))
        self.assertEqual(thumb.status, 200, thumb.body)
        self.assertEqual(thumb.json()["contentType"], "image/png")
        data = base64.b64decode(thumb.json()["content"])
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(struct.unpack(">II", data[16:24]), (256, 128))
        self.assertEqual(len(data), int(att["thumbnailSizeBytes"]))
        full = self.curl("GET", path, headers=self.as_("manager"))
        self.assertEqual(full.status, 200, full.body)
        self.assertEqual(base64.b64decode(full.json()["content"]), image)
        # Who may not see the deal does not see its attachments either.
        self.assertEqual(self.curl("GET", path + "?view=THUMBNAIL", headers=self.as_("telegram_operator")).status, 404)

    def test_corrupt_image_is_stored_without_a_thumbnail(self):
        import base64
        deal = self.create()
        broken = self.png(400, 400, (10, 200, 10))[:60]
        up = self.curl("POST", "/v1/deals/%s/attachments" % deal["id"],
                       {"fileName": "broken.png", "contentType": "image/png",
                        "content": base64.b64encode(broken).decode()}, headers=self.as_("manager"))
        self.assertEqual(up.status, 200, up.body)
        self.assertEqual(up.json()["thumbnailWidth"], 0)
        path = "/v1/deals/%s/attachments/%s" % (deal["id"], up.json()["id"])
        self.assertEqual(self.curl("GET", path + "?view=THUMBNAIL", headers=self.as_("manager")).status, 404)
        got = self.curl("GET", path, headers=self.as_("manager"))
        self.assertEqual(got.status, 200, got.body)
        self.assertEqual(base64.b64decode(got.json()["content"]), broken)


if __name__ == "__main__":
    main()
