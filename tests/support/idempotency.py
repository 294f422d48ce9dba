"""The Idempotency-Key cases of tests/e2e/idempotency_cases (issue 16, G1): loading them and filling their
placeholders. The suite's walk (tests/e2e/api_conventions_test.py) and a service's own e2e test read them
through this module.

A case module defines fixtures(curl, as_) -> {"name": "id", ...} and CASES; its paths and bodies name
fixtures as "{name}".
"""
import copy
import glob
import importlib.util
import os
import uuid

CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e", "idempotency_cases")


def load_cases(name):
    """tests/e2e/idempotency_cases/<name>.py as a module."""
    path = os.path.join(CASES_DIR, name + ".py")
    spec = importlib.util.spec_from_file_location("idempotency_cases_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_all():
    """Every case module, by file name."""
    return [load_cases(os.path.basename(p)[:-3]) for p in sorted(glob.glob(os.path.join(CASES_DIR, "*.py")))]


def fill(value, names):
    """`value` with "{name}" in its strings replaced by names[name]; lists and dicts filled inside."""
    if isinstance(value, str):
        for k, v in names.items():
            value = value.replace("{%s}" % k, v)
        return value
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


def check_cases(test, module, changed=None):
    """Runs `module`'s cases against the stack of `test` (a StackTest): each non-exempt POST twice with one
    Idempotency-Key (200 both times, the same body), then the same key with the case's other_body (400
    naming idempotency-key). When other_body is the body itself, `changed(body)` gives the other request;
    without `changed` that case's refusal is not sent (all of it is in its path). Exempt cases must say why."""
    fx = module.fixtures(test.curl, test.as_)
    for case in module.CASES:
        if "exempt" in case:
            test.assertTrue(case["exempt"].strip(), case["rpc"])
            continue
        with test.subTest(rpc=case["rpc"]):
            path, body = fill(case["path"], fx), fill(case["body"], fx)
            key = "Idempotency-Key: " + str(uuid.uuid4())
            first = test.curl("POST", path, body, headers=test.as_(case["role"], key))
            test.assertEqual(first.status, 200, "%s: %s" % (case["rpc"], first.body))
            again = test.curl("POST", path, body, headers=test.as_(case["role"], key))
            test.assertEqual(again.status, 200, "%s repeated: %s" % (case["rpc"], again.body))
            test.assertEqual(again.json(), first.json(), case["rpc"])
            other = fill(case.get("other_body", copy.deepcopy(case["body"])), fx)
            if other == body:
                if changed is None:
                    continue
                other = changed(copy.deepcopy(body))
            refused = test.curl("POST", path, other, headers=test.as_(case["role"], key))
            test.assertEqual(refused.status, 400, "%s with another body: %s" % (case["rpc"], refused.body))
            test.assertIn("idempotency-key", [d.get("field") for d in refused.error().get("details", [])],
                          refused.body)
