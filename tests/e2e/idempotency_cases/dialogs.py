"""Idempotency cases of the POST routes of crm.dialogs.v1.ScenarioService (issue 18, T3; issue 16's
contract): read by the suite's walk of every POST route (tests/e2e/api_conventions_test.py) and by
tests/e2e/dialogs_scenarios_test.py, which runs them itself.

CreateScenario and ImportScenario honour Idempotency-Key (the record in the transaction of the insert):
twice with one key they answer 200 with the same scenario; the same key with another request is 400 naming
idempotency-key. Each case makes an inactive scenario of a bot of its own, so the cases run in any order on
a fresh stack. ValidateScenario and DryRunScenario write nothing: exempt.
"""
import uuid

# The smallest valid scenario: one first stage that greets and hands the dialog over.
def scenario(bot, name):
    return {"botId": bot, "name": name,
            "stages": [{"code": "1", "name": "Приветствие", "first": True,
                        "entryActions": [{"kind": "ACTION_KIND_SEND_TEXT", "text": "Здравствуйте!"}]}]}


def fixtures(curl, as_):
    uniq = uuid.uuid4().hex[:8]
    made = curl("POST", "/v1/dialogs/scenarios", scenario("idem-export-" + uniq, "Для экспорта"),
                headers=as_("administrator"))
    if made.status != 200:
        raise AssertionError("fixture: %s %s" % (made.status, made.body))
    exported = curl("GET", "/v1/dialogs/scenarios/%s:export" % made.json()["id"], headers=as_("administrator"))
    if exported.status != 200:
        raise AssertionError("fixture: %s %s" % (exported.status, exported.body))
    return {"uniq": uniq, "export": exported.json()["json"]}


CASES = [
    {"rpc": "crm.dialogs.v1.ScenarioService.CreateScenario", "role": "administrator",
     "path": "/v1/dialogs/scenarios", "body": scenario("idem-create-{uniq}", "Сценарий идемпотентности")},
    {"rpc": "crm.dialogs.v1.ScenarioService.ImportScenario", "role": "administrator",
     "path": "/v1/dialogs/scenarios:import", "body": {"json": "{export}", "botId": "idem-import-{uniq}"},
     "other_body": {"json": "{export}", "botId": "idem-import-other-{uniq}"}},
    {"rpc": "crm.dialogs.v1.ScenarioService.ValidateScenario",
     "exempt": "a read sent as POST for its body: validates and writes nothing"},
    {"rpc": "crm.dialogs.v1.ScenarioService.DryRunScenario",
     "exempt": "a read sent as POST for its body: steps the engine in memory and writes nothing"},
]
