"""Idempotency cases of robots' creating POST routes (issue 16, G1): read by the suite's test that walks
every POST route of the API descriptor set (and by tests/e2e/robots_test.py, which runs them itself).

Each case is sent twice with one Idempotency-Key (200 both times, identical bodies: one rule), then with
the same key and another body (400 naming idempotency-key).
"""

# «Первичная обработка» and its «Неразобранное» (services/deals/demo.h).
LEAD = "01930000-0001-7000-8000-000000000000"
UNSORTED = "01930000-0001-7000-8000-000000000001"


def fixtures(curl, as_):
    """Nothing to make: a rule needs only the demo pipelines, which every stack has."""
    return {}


CASES = [
    {"rpc": "crm.robots.v1.RuleService.CreateRule",
     "role": "head_of_sales",  # robots.manage
     "path": "/v1/robots/rules",
     # Disabled: the rule exists (that is what a repeat must not double) but acts on nothing.
     "body": {"name": "Проверка идемпотентности: тег", "enabled": False,
              "trigger": {"kind": "STAGE_ENTERED", "pipelineId": LEAD, "stageId": UNSORTED},
              "actions": [{"addTag": {"tag": "Проверка идемпотентности"}}]}},
    {"rpc": "crm.robots.v1.RuleService.DryRun",
     "exempt": "a read sent as POST for its body: evaluates a rule against a deal and changes nothing"},
]
