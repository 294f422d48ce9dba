"""Idempotency cases of the POST routes of crm.dialogs.v1.RoutingService (routing: issue 18, T6, T8; issue 16's
contract): read by the suite's walk of every POST route (tests/e2e/api_conventions_test.py) and by
tests/e2e/dialogs_routing_test.py, which runs them itself.

CreateRoutingRule and CreateOperatorGroup honour Idempotency-Key (the record in the transaction of the insert):
twice with one key they answer 200 with the same rule / group; the same key with another body is 400 naming
idempotency-key. The fixture gives the demo Telegram operator rights on the demo bot (an administrator's
UpdateOperator, a PATCH), so a rule or a group may name them; names carry a fresh suffix so the cases run in
any order on any stack. SetPresence, RedirectDialog and ReleaseDialog are state transitions: exempt.
"""
import uuid

DEMO_BOT = "00000000-0000-7000-8000-00000000b075"  # services/dialogs/scenarios/demo.h kDemoBotId


def operator_id(curl):
    stack = getattr(curl, "__self__", None)  # tests/support/stack.py Stack.curl, bound
    if stack is None:
        raise AssertionError("fixture: curl is not a Stack's")
    return stack.session("telegram_operator")["user"]["id"]


def give_rights(curl, as_, user_id, capacity=5):
    r = curl("PATCH", "/v1/dialogs/routing/operators/" + user_id,
             {"userId": user_id, "botIds": [DEMO_BOT], "capacity": capacity}, headers=as_("administrator"))
    if r.status != 200:
        raise AssertionError("fixture: rights on the demo bot: %s %s" % (r.status, r.body))
    return r.json()


def fixtures(curl, as_):
    operator = operator_id(curl)
    give_rights(curl, as_, operator)
    return {"operator": operator, "bot": DEMO_BOT, "uniq": uuid.uuid4().hex[:8]}


CASES = [
    {"rpc": "crm.dialogs.v1.RoutingService.CreateRoutingRule", "role": "administrator",
     "path": "/v1/dialogs/routing/rules",
     "body": {"botId": "{bot}", "userId": "{operator}", "topic": "Идемпотентность {uniq}", "priority": 1},
     "other_body": {"botId": "{bot}", "userId": "{operator}", "topic": "Другая тема {uniq}", "priority": 1}},
    {"rpc": "crm.dialogs.v1.RoutingService.CreateOperatorGroup", "role": "administrator",
     "path": "/v1/dialogs/routing/groups",
     "body": {"botId": "{bot}", "name": "Группа {uniq}", "userIds": ["{operator}"]},
     "other_body": {"botId": "{bot}", "name": "Другая группа {uniq}", "userIds": ["{operator}"]}},
    {"rpc": "crm.dialogs.v1.RoutingService.SetPresence",
     "exempt": "sets the caller's own presence: a repeat sets the same state again and creates nothing"},
    {"rpc": "crm.dialogs.v1.RoutingService.RedirectDialog",
     "exempt": "a state transition guarded by the state and the version: a repeat finds the dialog the target's "
               "already and is refused; nothing is created twice"},
    {"rpc": "crm.dialogs.v1.RoutingService.ReleaseDialog",
     "exempt": "a state transition guarded by the state: a released dialog is QUEUED, a repeat is refused"},
]
