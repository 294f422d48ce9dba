#!/usr/bin/python3
"""Every POST of deals honours Idempotency-Key (issue 16, G1), end to end: identity, deals and the gateway
as processes. The POST routes of crm.deals.* are read from the API descriptor set the gateway serves
(build/proto/crm_api.pb), and each must have a case in idempotency_cases/deals.py; each case is sent twice
with one key (200 both times, identical bodies), then with the same key and another request (400 naming
idempotency-key). Payments and line items are also checked by their effect: a repeated POST adds nothing
to the deal's budget or products.

Usage: deals_idempotency_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import copy
import json
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from e2e import BUILD, StackTest, main  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from idempotency_cases import deals as cases  # noqa: E402

HTTP_RULE_EXTENSION = 72295728  # google.api.http on MethodOptions


def read_varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def http_rule_bytes(options):
    """The serialized google.api.HttpRule in serialized MethodOptions, or None."""
    data, i = options, 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = read_varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = read_varint(data, i)
            if number == HTTP_RULE_EXTENSION:
                return data[i:i + n]
            i += n
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return None


def post_routes(package_prefix):
    """{"crm.deals.v1.Service.Method": [path, ...]} of every POST binding of the services in packages
    starting with `package_prefix`."""
    api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
    HttpRule = api.message("google.api.HttpRule")
    from google.protobuf import descriptor_pb2
    with open(os.path.join(BUILD, "proto/crm_api.pb"), "rb") as f:
        files = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    out = {}
    for file in files.file:
        if not file.package.startswith(package_prefix):
            continue
        for service in file.service:
            for method in service.method:
                raw = http_rule_bytes(method.options.SerializeToString())
                if raw is None:
                    continue
                rule = HttpRule.FromString(raw)
                for r in [rule] + list(rule.additional_bindings):
                    if r.WhichOneof("pattern") == "post":
                        out.setdefault("%s.%s.%s" % (file.package, service.name, method.name), []).append(r.post)
    return out


def fill(value, names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


class DealsIdempotency(StackTest):
    services = ["deals"]

    def test_every_post_route_of_deals_has_a_case(self):
        routes = post_routes("crm.deals.")
        self.assertGreater(len(routes), 15)
        covered = {c["rpc"] for c in cases.CASES}
        self.assertEqual(sorted(set(routes) - covered), [], "POST routes without an idempotency case")
        self.assertEqual(sorted(covered - set(routes)), [], "cases of no POST route")
        exempt = [c["rpc"] for c in cases.CASES if "exempt" in c]
        self.assertEqual(exempt, [], "every POST of deals honours the key")

    def test_each_case_twice_with_one_key_then_another_request(self):
        names = cases.fixtures(self.curl, self.as_)
        for case in cases.CASES:
            with self.subTest(rpc=case["rpc"]):
                key = "Idempotency-Key: e2e-" + uuid.uuid4().hex
                path, body = fill(case["path"], names), fill(case["body"], names)
                first = self.curl("POST", path, body, headers=self.as_(case["role"], key))
                self.assertEqual(first.status, 200, first.body)
                again = self.curl("POST", path, body, headers=self.as_(case["role"], key))
                self.assertEqual(again.status, 200, again.body)
                self.assertEqual(json.loads(again.body), json.loads(first.body))
                other_path = fill(case.get("other_path", case["path"]), names)
                other_body = fill(case.get("other_body", case["body"]), names)
                self.assertTrue(other_path != path or other_body != body, "the case's other request is the same")
                other = self.curl("POST", other_path, other_body, headers=self.as_(case["role"], key))
                self.assertEqual(other.status, 400, other.body)
                self.assertIn("idempotency-key", [d["field"] for d in other.error()["details"]])

    def deal(self):
        r = self.curl("POST", "/v1/deals", {"name": "Окна " + uuid.uuid4().hex[:6], "pipelineId": cases.LEADS},
                      headers=self.as_("manager"))
        self.assertEqual(r.status, 200, r.body)
        return r.json()["id"]

    def test_a_repeated_payment_does_not_double_the_budget(self):
        deal = self.deal()
        key = "Idempotency-Key: pay-" + uuid.uuid4().hex
        body = {"dueDate": "2030-03-01", "amount": {"amountMinor": "70000"}}
        for _ in range(2):
            r = self.curl("POST", "/v1/deals/%s/payments" % deal, body, headers=self.as_("manager", key))
            self.assertEqual(r.status, 200, r.body)
        panel = self.curl("GET", "/v1/deals/%s/payments" % deal, headers=self.as_("manager")).json()
        self.assertEqual(len(panel["payments"]), 1)
        self.assertEqual(panel["budget"]["amountMinor"], "70000")
        got = self.curl("GET", "/v1/deals/%s" % deal, headers=self.as_("manager")).json()
        self.assertEqual(got["amount"]["amountMinor"], "70000")

    def test_a_repeated_line_item_is_added_once(self):
        deal = self.deal()
        key = "Idempotency-Key: line-" + uuid.uuid4().hex
        body = {"name": "Монтаж", "quantity": "2", "unitPrice": {"amountMinor": "300000"}}
        for _ in range(2):
            r = self.curl("POST", "/v1/deals/%s/products" % deal, body, headers=self.as_("manager", key))
            self.assertEqual(r.status, 200, r.body)
        products = self.curl("GET", "/v1/deals/%s/products" % deal, headers=self.as_("manager")).json()
        self.assertEqual(len(products["products"]), 1)
        self.assertEqual(products["total"]["amountMinor"], "600000")
        # Without a key each POST is a new line.
        for _ in range(2):
            self.assertEqual(self.curl("POST", "/v1/deals/%s/products" % deal, body,
                                       headers=self.as_("manager")).status, 200)
        self.assertEqual(len(self.curl("GET", "/v1/deals/%s/products" % deal,
                                       headers=self.as_("manager")).json()["products"]), 3)


if __name__ == "__main__":
    main()
