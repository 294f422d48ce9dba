#!/usr/bin/python3
"""One API, one set of conventions (issue 16, G1), end to end: identity, deals, robots, mortgage, dialogs,
telephony and the gateway as processes, driven with curl.

Idempotency: the OpenAPI document the gateway serves lists every route; every POST among them must have a
case in tests/e2e/idempotency_cases/<service>.py (or an exemption saying why a repeat has no second
effect). Each case is sent twice with one Idempotency-Key — both 200 with the same body, so nothing was
made twice — and once more with the same key and another request (the case's other_body, or the body with
a free-text value changed), which is refused naming idempotency-key. A new POST without a case fails this test.

Usage: api_conventions_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
CRM_CONVENTIONS_ONLY=crm.mortgage.,crm.identity. limits the walk to methods with those prefixes (to check
one service's cases while another's are being written); the registered test walks them all.
"""
import copy
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import StackTest, main  # noqa: E402
from idempotency import fill, load_all  # noqa: E402

# Keys whose string value a changed body may alter without making the request invalid.
FREE_TEXT = ("name", "title", "text", "comment", "description", "note", "subject", "reason")


def changed(body):
    """A copy of `body` with one free-text value changed, or None when it has none."""
    body = copy.deepcopy(body)
    stack = [body]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for k, v in list(items):
            if isinstance(v, str) and k in FREE_TEXT and v:
                node[k] = v + " (другой запрос)"
                return body
            if isinstance(v, (dict, list)):
                stack.append(v)
    return None


class ApiConventions(StackTest):
    services = ["deals", "robots", "mortgage", "dialogs", "telephony"]

    def test_every_post_honours_the_idempotency_key(self):
        doc = self.curl("GET", "/openapi.json")
        self.assertEqual(doc.status, 200, doc.body)
        posts = {}
        for path, item in doc.json()["paths"].items():
            if "post" in item and "x-grpc-method" in item["post"]:
                posts.setdefault(item["post"]["x-grpc-method"], path)
        only = [p for p in os.environ.get("CRM_CONVENTIONS_ONLY", "").split(",") if p]
        if only:
            posts = {m: p for m, p in posts.items() if any(m.startswith(o) for o in only)}
        modules = load_all()
        cases = {}
        for module in modules:
            for case in module.CASES:
                if only and not any(case["rpc"].startswith(o) for o in only):
                    continue
                self.assertNotIn(case["rpc"], cases, "two cases for one method")
                cases[case["rpc"]] = (module, case)
        missing = sorted(set(posts) - set(cases))
        self.assertEqual(missing, [], "POST routes without an idempotency case in tests/e2e/idempotency_cases")
        unknown = sorted(set(cases) - set(posts))
        self.assertEqual(unknown, [], "cases for methods that are not POST routes")

        fixtures = {}
        for module in modules:
            fixtures[module] = module.fixtures(self.curl, self.as_)
        checked = 0
        for rpc, (module, case) in sorted(cases.items()):
            if "exempt" in case:
                self.assertTrue(case["exempt"].strip(), rpc + ": an exemption says why")
                continue
            with self.subTest(rpc=rpc):
                fx = fixtures[module]
                path = fill(case["path"], fx)
                body = fill(case.get("body", {}), fx)
                key = "Idempotency-Key: " + str(uuid.uuid4())
                first = self.curl("POST", path, body, headers=self.as_(case["role"], key))
                self.assertEqual(first.status, 200, "%s %s: %s" % (rpc, path, first.body))
                again = self.curl("POST", path, body, headers=self.as_(case["role"], key))
                self.assertEqual(again.status, 200, "%s repeated: %s" % (rpc, again.body))
                self.assertEqual(again.json(), first.json(), rpc + ": the repeat answered differently")
                # The case's own other request, else the body with one free-text value changed.
                other = fill(case["other_body"], fx) if "other_body" in case else changed(body)
                if other is not None and other != body:
                    refused = self.curl("POST", path, other, headers=self.as_(case["role"], key))
                    self.assertEqual(refused.status, 400, "%s with a changed body: %s" % (rpc, refused.body))
                    self.assertIn("idempotency-key", refused.body.lower(), rpc)
                checked += 1
        self.assertGreater(checked, 0)
        sys.stderr.write("%d POST routes: %d checked twice and with another request, %d exempt\n"
                         % (len(posts), checked, len(posts) - checked))


if __name__ == "__main__":
    main()
