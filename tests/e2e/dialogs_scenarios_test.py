#!/usr/bin/python3
"""The chat-bot scenarios of dialogs end to end (issue 18, T3, T4): identity, deals, dialogs and the gateway
as processes (`crm-dialogs demo` installs the seed's flow for the demo bot), driven with curl through the
gateway and with python3-grpcio (a client built from the descriptor set, not our code).

  - the demo scenario is listed for its bot and read by who may read dialogs; only dialogs.admin edits;
  - a bad scenario: ValidateScenario lists every problem with its path (errors and warnings), and
    CreateScenario refuses it naming every field at once;
  - a dry run of the seed's flow: /start → phone → topic menu → routed and handed over; an unrecognised
    key and a silent client end in «Обращения к ГПП»;
  - export → import → export round-trips exactly; versions are optimistic (a stale one is 409);
  - the page rule; every POST's idempotency case (tests/e2e/idempotency_cases/dialogs.py).

Usage: dialogs_scenarios_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import copy
import json
import os
import sys
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, StackTest, main  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from idempotency import check_cases, load_cases  # noqa: E402

# services/dialogs/scenarios/demo.h
DEMO_BOT = "00000000-0000-7000-8000-00000000b075"
DEMO_SCENARIO = "00000000-0000-7000-8000-0000000005c0"
GPP = "Обращения к ГПП"


class DialogsScenarios(StackTest):
    services = ["deals", "dialogs"]

    def call(self, method, path, body=None, role="administrator", status=200, headers=()):
        r = self.curl(method, path, body, headers=self.as_(role, *headers))
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def fields(self, r):
        return [d.get("field") for d in r.error().get("details", [])]

    def test_the_demo_scenario_is_installed_and_read_by_who_may_read_dialogs(self):
        listed = self.call("GET", "/v1/dialogs/scenarios?botId=" + DEMO_BOT, role="telegram_operator")
        self.assertEqual([s["id"] for s in listed["scenarios"]], [DEMO_SCENARIO])
        self.assertTrue(listed["scenarios"][0]["active"])
        self.assertEqual(listed["scenarios"][0].get("stages", []), [])  # list items are heads
        demo = self.call("GET", "/v1/dialogs/scenarios/" + DEMO_SCENARIO, role="telegram_supervisor")
        self.assertEqual([s["name"] for s in demo["stages"]],
                         ["Приветствие и запрос телефона", "Выбор темы обращения", "Сообщение ожидания ответа"])
        menu = demo["stages"][1]["entryActions"][0]["menu"]
        self.assertEqual([r["buttons"][0]["text"] for r in menu["rows"]],
                         ["Покупка квартиры", "Ипотека", "Обращение в сервисную службу", "Другой вопрос"])
        # Reading takes a dialogs.read.*; editing dialogs.admin.
        self.call("GET", "/v1/dialogs/scenarios/" + DEMO_SCENARIO, role="manager", status=403)
        bad = self.curl("POST", "/v1/dialogs/scenarios", {"botId": "x", "name": "y"},
                        headers=self.as_("telegram_supervisor"))
        self.assertEqual(bad.status, 403, bad.body)

    def test_a_bad_scenario_lists_every_problem(self):
        scenario = {
            "botId": "e2e-bad", "name": "Плохой сценарий",
            "stages": [
                {"code": "A", "name": "Меню", "waitForReply": True,
                 "entryActions": [{"kind": "ACTION_KIND_SEND_MENU", "menu": {
                     "text": "Выберите", "keyboard": "KEYBOARD_KIND_INLINE",
                     "rows": [{"buttons": [{"text": "Длинный", "callbackData": "x" * 65}]},
                              {"buttons": [{"text": "Телефон", "callbackData": "p", "requestContact": True}]}]}}],
                 "keys": [{"kind": "KEY_KIND_TEXT", "values": ["да"],
                           "actions": [{"kind": "ACTION_KIND_GO_TO_STAGE", "stage": "НЕТ"}]}]},
                {"code": "B", "name": "Б", "entryActions": [{"kind": "ACTION_KIND_GO_TO_STAGE", "stage": "C"}]},
                {"code": "C", "name": "В", "entryActions": [{"kind": "ACTION_KIND_GO_TO_STAGE", "stage": "B"}]},
            ]}
        errors = ["scenario.stages",  # no first stage
                  "scenario.stages[0].entry_actions[0].menu.rows[0].buttons[0].callback_data",
                  "scenario.stages[0].entry_actions[0].menu.rows[1].buttons[0].request_contact",
                  "scenario.stages[0].keys[0].actions[0].stage",
                  "scenario.stages[2].entry_actions[0].stage"]  # B → C → B without input
        v = self.call("POST", "/v1/dialogs/scenarios:validate", {"scenario": scenario}, role="telegram_operator")
        self.assertFalse(v.get("valid", False))
        got = {(p["field"], p["severity"]) for p in v["problems"]}
        self.assertEqual(got, {(f, "SEVERITY_ERROR") for f in errors}, v)
        r = self.curl("POST", "/v1/dialogs/scenarios", scenario, headers=self.as_("administrator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(sorted(self.fields(r)), sorted(errors))
        # A valid one with an unreachable stage: a warning, and it is written.
        good = copy.deepcopy(scenario)
        good["stages"] = [{"code": "A", "name": "Старт", "first": True,
                           "entryActions": [{"kind": "ACTION_KIND_SEND_TEXT", "text": "Здравствуйте"}]},
                          {"code": "Z", "name": "Сирота"}]
        v = self.call("POST", "/v1/dialogs/scenarios:validate", {"scenario": good})
        self.assertTrue(v["valid"])
        self.assertEqual([(p["field"], p["severity"]) for p in v["problems"]],
                         [("scenario.stages[1]", "SEVERITY_WARNING")])
        made = self.call("POST", "/v1/dialogs/scenarios", good)
        self.assertEqual(made["version"], "1")

    def test_a_dry_run_of_the_seeds_flow(self):
        start = {"kind": "INPUT_KIND_START"}
        contact = {"kind": "INPUT_KIND_CONTACT", "phone": "+79990001122"}
        run = self.call("POST", "/v1/dialogs/scenarios:dryRun", {
            "scenarioId": DEMO_SCENARIO, "inputs": [start, contact, {"kind": "INPUT_KIND_TEXT", "text": " ипотека "}]},
            role="telegram_operator")
        steps = run["steps"]
        self.assertEqual([(s.get("stageBefore", ""), s["stageAfter"]) for s in steps],
                         [("", "000000001"), ("000000001", "000000008"), ("000000008", "000000009")])
        self.assertEqual([a["kind"] for a in steps[0]["actions"]], ["ACTION_KIND_SEND_TEXT", "ACTION_KIND_REQUEST_PHONE"])
        self.assertEqual(steps[1]["actions"][1]["kind"], "ACTION_KIND_SEND_MENU")
        self.assertEqual([a["kind"] for a in steps[2]["actions"]],
                         ["ACTION_KIND_SET_TOPIC", "ACTION_KIND_DISTRIBUTE", "ACTION_KIND_GO_TO_STAGE",
                          "ACTION_KIND_SEND_TEXT", "ACTION_KIND_FINISH"])
        self.assertEqual(steps[2]["actions"][0]["topic"], "Ипотека")
        self.assertTrue(steps[2]["finished"])
        # One unrecognised key, or 30 minutes of silence: «Обращения к ГПП».
        for last in ({"kind": "INPUT_KIND_TEXT", "text": "машиноместо"}, {"kind": "INPUT_KIND_TIMEOUT"}):
            run = self.call("POST", "/v1/dialogs/scenarios:dryRun",
                            {"scenarioId": DEMO_SCENARIO, "inputs": [start, contact, last]})
            topics = [a.get("topic") for a in run["steps"][2]["actions"] if a["kind"] == "ACTION_KIND_SET_TOPIC"]
            self.assertEqual(topics, [GPP], run)
            self.assertEqual(run["steps"][2]["stageAfter"], "000000009")
        # Out of hours: the notice first, the distribution waits for the next working period.
        run = self.call("POST", "/v1/dialogs/scenarios:dryRun", {
            "scenarioId": DEMO_SCENARIO, "outOfHours": True,
            "inputs": [start, contact, {"kind": "INPUT_KIND_TEXT", "text": "Ипотека"}]})
        self.assertTrue(run["steps"][0]["actions"][0]["text"].startswith("Сейчас нерабочее время"))
        self.assertIn("notBefore", run["steps"][2]["actions"][1])
        # Nothing was written by the dry runs.
        self.assertEqual(self.call("GET", "/v1/dialogs/scenarios/" + DEMO_SCENARIO)["version"], "1")

    def test_export_import_round_trips_and_versions_are_optimistic(self):
        exported = self.call("GET", "/v1/dialogs/scenarios/%s:export" % DEMO_SCENARIO, role="telegram_operator")["json"]
        doc = json.loads(exported)
        self.assertEqual(doc["bot_id"], DEMO_BOT)
        self.assertNotIn("id", doc)
        bot = "e2e-import-" + uuid.uuid4().hex[:6]
        imported = self.call("POST", "/v1/dialogs/scenarios:import", {"json": exported, "botId": bot, "active": True},
                             headers=("Idempotency-Key: " + str(uuid.uuid4()),))
        self.assertEqual(imported["botId"], bot)
        again = self.call("GET", "/v1/dialogs/scenarios/%s:export" % imported["id"])["json"]
        doc2 = json.loads(again)
        doc2["bot_id"] = DEMO_BOT
        self.assertEqual(doc2, doc)
        self.assertEqual(json.dumps(doc2, ensure_ascii=False, indent=1), json.dumps(doc, ensure_ascii=False, indent=1))
        # A second active scenario for the bot is refused.
        r = self.curl("POST", "/v1/dialogs/scenarios:import", {"json": exported, "botId": bot, "active": True},
                      headers=self.as_("administrator"))
        self.assertEqual(r.status, 400, r.body)  # FAILED_PRECONDITION
        # Optimistic versions: the next version, then a stale write is 409.
        current = self.call("GET", "/v1/dialogs/scenarios/" + imported["id"])
        edited = copy.deepcopy(current)
        edited["stages"][0]["entryActions"][0]["text"] = "Добрый день!"
        v2 = self.call("PATCH", "/v1/dialogs/scenarios/" + imported["id"], edited)
        self.assertEqual(v2["version"], "2")
        self.call("PATCH", "/v1/dialogs/scenarios/" + imported["id"], edited, status=409)
        first = self.call("GET", "/v1/dialogs/scenarios/%s?version=1" % imported["id"])
        self.assertEqual(first["stages"][0]["entryActions"][0]["text"], current["stages"][0]["entryActions"][0]["text"])

    def test_lists_follow_the_page_rule(self):
        bot = "e2e-page-" + uuid.uuid4().hex[:6]
        for name in ["в", "а", "б"]:
            self.call("POST", "/v1/dialogs/scenarios", {
                "botId": bot, "name": name,
                "stages": [{"code": "1", "name": "1", "first": True,
                            "entryActions": [{"kind": "ACTION_KIND_SEND_TEXT", "text": "т"}]}]})
        names, token = [], ""
        while True:
            page = self.call("GET", "/v1/dialogs/scenarios?botId=%s&pageSize=2%s" % (bot, "&pageToken=" + token if token else ""))
            names += [s["name"] for s in page["scenarios"]]
            token = page.get("nextPageToken", "")
            if not token:
                break
        self.assertEqual(names, ["а", "б", "в"])
        r = self.curl("GET", "/v1/dialogs/scenarios?pageSize=-1", headers=self.as_("administrator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(self.fields(r), ["page_size"])

    def test_grpc_client_from_the_descriptor_set(self):
        """python3-grpcio straight to dialogs with a signed principal: validate and dry-run."""
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["dialogs"])
        Principal = api.message("crm.common.v1.Principal")
        md = self.stack.signed(Principal(kind=1, id=str(uuid.uuid4()), permissions=["dialogs.read.all"]))
        get, GetScenarioRequest = api.method(channel, "crm.dialogs.v1.ScenarioService/GetScenario")
        demo = get(GetScenarioRequest(id=DEMO_SCENARIO), metadata=md, timeout=10)
        self.assertEqual(demo.stages[0].code, "000000001")
        dry, DryRunScenarioRequest = api.method(channel, "crm.dialogs.v1.ScenarioService/DryRunScenario")
        Input = api.message("crm.dialogs.v1.Input")
        run = dry(DryRunScenarioRequest(scenario_id=DEMO_SCENARIO, inputs=[Input(kind=4), Input(kind=3)]),
                  metadata=md, timeout=10)
        self.assertEqual(run.state.stage, "000000008")
        create, CreateScenarioRequest = api.method(channel, "crm.dialogs.v1.ScenarioService/CreateScenario")
        with self.assertRaises(grpc.RpcError) as e:
            create(CreateScenarioRequest(scenario=demo), metadata=md, timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    def test_every_post_case_honours_the_idempotency_key(self):
        check_cases(self, load_cases("dialogs"), changed=lambda body: dict(body, name=body["name"] + " (другой запрос)"))


if __name__ == "__main__":
    main()
