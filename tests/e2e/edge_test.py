#!/usr/bin/python3
"""The suite's edge end to end (issue 4, G1-G5): the identity service and the gateway run as the
processes `tools/crm up` starts, on a real PostgreSQL and the dev broker, and are driven only through
their public interfaces by clients nobody here wrote: curl for REST, python3-grpcio for gRPC, Python's
http.client for keep-alive bursts and the SSE stream.

Usage: edge_test.py BUILD_DIR SOURCE_DIR
  (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS name the throwaway cluster and broker; tools/crm test sets them)
"""
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import uuid

import grpc

BUILD, SOURCE = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
sys.path.insert(0, os.path.join(SOURCE, "tests/support"))

from stack import Stack, b64url, totp_now  # noqa: E402
from sse import SseClient  # noqa: E402


class Edge(unittest.TestCase):
    """One identity + gateway pair for every test; each test uses its own users so none depends on another."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(BUILD, gateway_env={"CRM_GATEWAY_PER_USER_RATE": "20", "CRM_GATEWAY_PER_USER_BURST": "30",
                                              "CRM_GATEWAY_HTTP_MAX_BODY_BYTES": "65536"})
        cls.tmp = cls.stack.tmp
        cls.port = cls.stack.port
        cls.identity_port = cls.stack.grpc_ports["identity"]
        cls.users, cls.totp = cls.stack.users, cls.stack.totp
        cls.curl = cls.stack.curl

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def sign_in(self, role, totp_code=None):
        r = self.stack.sign_in(role, totp_code)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def bearer(self, session):
        return "Authorization: Bearer " + session["accessToken"]

    def session(self, role):
        return self.stack.session(role)

    # --- sign-in, tokens, sessions ------------------------------------------------------------------

    def test_sign_in_call_refresh_and_sign_out(self):
        s = self.sign_in("head_of_sales")
        self.assertEqual(s["tokenType"], "Bearer")
        self.assertEqual(s["user"]["login"], self.users["head_of_sales"][0])
        users = self.curl("GET", "/v1/users?pageSize=200", headers=[self.bearer(s)])
        self.assertEqual(users.status, 200, users.body)
        self.assertIn(self.users["manager"][0], [u["login"] for u in users.json()["users"]])

        # Refresh rotates: the new pair works, the old refresh token is spent.
        r = self.curl("POST", "/v1/auth:refresh", {"refreshToken": s["refreshToken"]})
        self.assertEqual(r.status, 200, r.body)
        s2 = r.json()
        self.assertNotEqual(s2["refreshToken"], s["refreshToken"])
        self.assertEqual(self.curl("GET", "/v1/users/" + s["user"]["id"], headers=[self.bearer(s2)]).status, 200)
        # Presenting the spent token again is theft: the whole session is revoked, the new token too.
        reuse = self.curl("POST", "/v1/auth:refresh", {"refreshToken": s["refreshToken"]})
        self.assertEqual(reuse.status, 401, reuse.body)
        self.assertEqual(self.curl("POST", "/v1/auth:refresh", {"refreshToken": s2["refreshToken"]}).status, 401)

        # Sign-out ends a session at once.
        s3 = self.sign_in("head_of_sales")
        self.assertEqual(self.curl("POST", "/v1/auth:signOut", {"refreshToken": s3["refreshToken"]},
                                   headers=[self.bearer(s3)]).status, 200)
        self.assertEqual(self.curl("POST", "/v1/auth:refresh", {"refreshToken": s3["refreshToken"]}).status, 401)

    def test_sign_out_ends_the_access_tokens_at_once(self):
        """Issue 15: identity publishes SessionRevoked when a session ends; the gateway refuses the session's
        access tokens as soon as it reads it (revocations.h), not 10 min later when they expire."""
        s = self.sign_in("parking_attendant")
        self.assertEqual(self.curl("GET", "/v1/roles", headers=[self.bearer(s)]).status, 200)  # remembered now
        self.assertEqual(self.curl("POST", "/v1/auth:signOut", {"refreshToken": s["refreshToken"]},
                                   headers=[self.bearer(s)]).status, 200)
        deadline = time.time() + 10
        r = None
        while time.time() < deadline:  # waits for identity's relay and the gateway's consumer, bounded
            r = self.curl("GET", "/v1/roles", headers=[self.bearer(s)])
            if r.status == 401:
                break
            time.sleep(0.05)
        self.assertEqual(r.status, 401, "%s (revocation events the gateway read: %d)" % (r.body, self.revocation_events()))
        self.assertEqual(r.error()["message"], "the session was revoked")
        self.assertEqual(r.headers.get("www-authenticate"),
                         'Bearer error="invalid_token", error_description="the session was revoked"')

    def revocation_events(self):
        """crm_gateway_revocation_events_total of the gateway's /metrics."""
        out = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/metrics" % self.stack.gateway_metrics_port],
                             capture_output=True, check=True).stdout.decode()
        for line in out.splitlines():
            if line.startswith("crm_gateway_revocation_events_total"):
                return float(line.split()[-1])
        return 0

    def test_edge_refuses_ambiguous_framing_and_sets_security_headers(self):
        """Issue 15: request smuggling shapes are refused and the connection closed; every answer carries
        the security headers and no-store."""
        def raw(request):
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                sock.sendall(request)
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return data.decode(errors="replace")
                    data += chunk
        smuggled = b"GET /v1/roles HTTP/1.1\r\nHost: t\r\n\r\n"
        te_cl = raw(b"POST /v1/auth:signIn HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n"
                    b"Content-Length: 2\r\n\r\n{}" + smuggled)
        self.assertTrue(te_cl.startswith("HTTP/1.1 400"), te_cl[:200])
        self.assertEqual(te_cl.count("HTTP/1.1 "), 1, te_cl)  # the smuggled request was never answered
        xchunked = raw(b"POST /v1/auth:signIn HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n")
        self.assertTrue(xchunked.startswith("HTTP/1.1 501"), xchunked[:200])
        two_auth = raw(b"GET /v1/roles HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer a\r\n"
                       b"Authorization: Bearer b\r\n\r\n")
        self.assertTrue(two_auth.startswith("HTTP/1.1 400"), two_auth[:200])
        self.assertTrue(raw(b"GET /healthz HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 400"))  # no Host

        r = self.stack.sign_in("service_manager")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        self.assertEqual(r.headers.get("pragma"), "no-cache")
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        self.assertEqual(r.headers.get("x-frame-options"), "DENY")
        self.assertEqual(r.headers.get("referrer-policy"), "no-referrer")
        self.assertEqual(r.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'")

    def test_failed_sign_ins_do_not_tell_which_part_was_wrong(self):
        login, _ = self.users["telegram_operator"]
        wrong_password = self.curl("POST", "/v1/auth:signIn", {"login": login, "password": "not-the-password"})
        no_such_user = self.curl("POST", "/v1/auth:signIn", {"login": "nobody-" + uuid.uuid4().hex[:6],
                                                             "password": "not-the-password"})
        self.assertEqual(wrong_password.status, 401)
        self.assertEqual(no_such_user.status, 401)
        self.assertEqual(wrong_password.error()["message"], no_such_user.error()["message"])

    def test_repeated_failures_are_throttled_per_login(self):
        login, password = self.users["mortgage_specialist"]
        statuses = [self.curl("POST", "/v1/auth:signIn", {"login": login, "password": "wrong-%d" % i}).status
                    for i in range(8)]
        self.assertEqual(statuses[0], 401)
        self.assertEqual(statuses[-1], 429, statuses)
        # While throttled even the right password is refused, and the answer says to wait.
        r = self.curl("POST", "/v1/auth:signIn", {"login": login, "password": password})
        self.assertEqual(r.status, 429, r.body)
        self.assertEqual(r.error()["status"], "RESOURCE_EXHAUSTED")

    def test_wrong_tampered_and_forged_tokens_are_401(self):
        s = self.sign_in("quality_controller")
        header, payload, sig = s["accessToken"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["scope"] = claims.get("scope", "") + " users.manage"
        claims["roles"] = ["administrator"]
        tampered = ".".join([header, b64url(json.dumps(claims).encode()), sig])
        # The same claims signed by a key that is not identity's, under identity's key id.
        forger = os.path.join(self.tmp, "forger.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", forger], check=True)
        signing_input = (header + "." + b64url(json.dumps(claims).encode())).encode()
        msg = os.path.join(self.tmp, "msg")
        with open(msg, "wb") as f:
            f.write(signing_input)
        forged_sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", forger, "-rawin", "-in", msg],
                                    check=True, capture_output=True).stdout
        forged = signing_input.decode() + "." + b64url(forged_sig)
        for token in ("garbage", tampered, forged, s["accessToken"] + "x"):
            r = self.curl("GET", "/v1/users", headers=["Authorization: Bearer " + token])
            self.assertEqual(r.status, 401, (token[:20], r.body))
            self.assertEqual(r.error()["status"], "UNAUTHENTICATED")
            # RFC 6750 §3.1: a token was presented and refused (issue 15: the reason a client may know).
            self.assertEqual(r.headers.get("www-authenticate"),
                             'Bearer error="invalid_token", error_description="invalid token"')
        missing = self.curl("GET", "/v1/users")
        self.assertEqual(missing.status, 401)
        self.assertEqual(missing.headers.get("www-authenticate"), "Bearer")  # no credentials: no error code
        self.assertEqual(self.curl("GET", "/v1/users", headers=[self.bearer(s)]).status, 200)

    def test_second_factor_for_roles_that_require_it(self):
        login, password = self.users["driver"]
        self.assertIn(login, self.totp)
        without = self.curl("POST", "/v1/auth:signIn", {"login": login, "password": password})
        self.assertEqual(without.status, 401, without.body)
        wrong = self.curl("POST", "/v1/auth:signIn", {"login": login, "password": password, "totpCode": "000000"
                                                      if totp_now(self.totp[login]) != "000000" else "111111"})
        self.assertEqual(wrong.status, 401, wrong.body)
        s = self.sign_in("driver")
        self.assertEqual(self.curl("GET", "/v1/roles", headers=[self.bearer(s)]).status, 200)
        # The same code a second time is a replay.
        replay = self.curl("POST", "/v1/auth:signIn", {"login": login, "password": password,
                                                       "totpCode": totp_now(self.totp[login])})
        self.assertEqual(replay.status, 401, replay.body)

    # --- permissions, validation, versions ----------------------------------------------------------

    def test_a_role_without_the_permission_gets_403(self):
        s = self.sign_in("manager")
        r = self.curl("POST", "/v1/users", {"user": {"login": "x-" + uuid.uuid4().hex[:6], "fullName": "X"},
                                            "password": "correct horse battery"}, headers=[self.bearer(s)])
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.error()["status"], "PERMISSION_DENIED")
        self.assertIn("users.manage", r.error()["message"])

    def test_create_update_with_etag_and_if_match(self):
        admin = self.session("administrator")
        login = "e2e-" + uuid.uuid4().hex[:8]
        body = {"user": {"login": login, "fullName": "Иванов Иван", "phone": "8 (916) 123-45-67",
                         "roleCodes": ["manager"]}, "password": "correct horse battery"}
        created = self.curl("POST", "/v1/users", body, headers=[self.bearer(admin), "Idempotency-Key: " + login])
        self.assertEqual(created.status, 200, created.body)
        user = created.json()
        self.assertEqual(user["phone"], "+79161234567")
        self.assertEqual(created.headers.get("etag"), '"%s"' % user["version"])
        path = "/v1/users/" + user["id"]
        first = self.curl("PATCH", path + "?updateMask=fullName", {"fullName": "Иванов Иван Иванович"},
                          headers=[self.bearer(admin), "If-Match: " + created.headers["etag"]])
        self.assertEqual(first.status, 200, first.body)
        self.assertNotEqual(first.headers.get("etag"), created.headers["etag"])
        # A second writer still holding the old ETag loses: 412, and the first change stays.
        stale = self.curl("PATCH", path + "?updateMask=fullName", {"fullName": "Петров"},
                          headers=[self.bearer(admin), "If-Match: " + created.headers["etag"]])
        self.assertEqual(stale.status, 412, stale.body)
        self.assertEqual(self.curl("GET", path, headers=[self.bearer(admin)]).json()["fullName"], "Иванов Иван Иванович")
        # A retried create with the same Idempotency-Key returns the first result, not a conflict.
        again = self.curl("POST", "/v1/users", body, headers=[self.bearer(admin), "Idempotency-Key: " + login])
        self.assertEqual(again.status, 200, again.body)
        self.assertEqual(again.json()["id"], user["id"])
        # The same login again is a conflict; a bad field is named.
        dup = self.curl("POST", "/v1/users", body, headers=[self.bearer(admin)])
        self.assertEqual(dup.status, 409, dup.body)
        bad = self.curl("POST", "/v1/users", {"user": {"login": "A!", "fullName": "Y"}, "password": "correct horse battery"},
                        headers=[self.bearer(admin)])
        self.assertEqual(bad.status, 400, bad.body)
        self.assertIn("user.login", [d["field"] for d in bad.error()["details"]])
        self.assertEqual(self.curl("GET", "/v1/users/" + str(uuid.uuid4()), headers=[self.bearer(admin)]).status, 404)

    # --- API keys -----------------------------------------------------------------------------------

    def test_api_key_create_use_revoke(self):
        s = self.sign_in("integrator")
        r = self.curl("POST", "/v1/apiKeys", {"name": "1С обмен", "scopes": ["users.read"]}, headers=[self.bearer(s)])
        self.assertEqual(r.status, 200, r.body)
        key, key_id = r.json()["secret"], r.json()["apiKey"]["id"]
        self.assertTrue(key.startswith("crm_"))
        self.assertEqual(self.curl("GET", "/v1/users", headers=["X-Api-Key: " + key]).status, 200)
        self.assertEqual(self.curl("GET", "/v1/users", headers=["Authorization: Bearer " + key]).status, 200)
        # Scopes bound what a key may do, whatever its owner may.
        self.assertEqual(self.curl("POST", "/v1/apiKeys", {"name": "x", "scopes": ["users.read"]},
                                   headers=["X-Api-Key: " + key]).status, 403)
        # A scope the owner does not hold cannot be granted.
        wider = self.curl("POST", "/v1/apiKeys", {"name": "x", "scopes": ["users.manage"]}, headers=[self.bearer(s)])
        self.assertEqual(wider.status, 400, wider.body)
        # Revoked: refused from the next request on.
        self.assertEqual(self.curl("POST", "/v1/apiKeys/%s:revoke" % key_id, {}, headers=[self.bearer(s)]).status, 200)
        after = self.curl("GET", "/v1/users", headers=["X-Api-Key: " + key])
        self.assertEqual(after.status, 401, after.body)

    # --- gRPC: backends believe only the gateway's signed principal --------------------------------

    def test_identity_refuses_principals_not_signed_by_the_gateway(self):
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.identity_port)
        list_users = channel.unary_unary("/crm.identity.v1.UserService/ListUsers",
                                         request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as e:
            list_users(b"", timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        # A principal claiming every permission, unsigned (field 1 kind=USER, 2 id, 7 permissions).
        fake = b"\x08\x01" + b"\x12\x01u" + b"\x3a\x0ausers.read"
        with self.assertRaises(grpc.RpcError) as e:
            list_users(b"", timeout=5, metadata=[("x-crm-principal-bin", fake)])
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        # The published keys are public.
        keys = channel.unary_unary("/crm.identity.v1.AuthService/GetSigningKeys",
                                   request_serializer=lambda b: b, response_deserializer=lambda b: b)(b"", timeout=5)
        self.assertIn(b"Ed25519", keys)

    # --- edge hygiene -------------------------------------------------------------------------------

    def test_limits_and_malformed_input(self):
        s = self.sign_in("telegram_supervisor")
        auth = self.bearer(s)
        big = self.curl("POST", "/v1/auth:signIn", raw_body=b'{"login":"' + b"a" * 70000 + b'"}')
        self.assertEqual(big.status, 413, big.body[:200])
        self.assertEqual(self.curl("POST", "/v1/auth:signIn", raw_body=b'{"login":').status, 400)
        self.assertEqual(self.curl("POST", "/v1/auth:signIn", raw_body=b'{"login":"\xff\xfe"}').status, 400)
        self.assertEqual(self.curl("GET", "/v1/nothing-here", headers=[auth]).status, 404)
        self.assertEqual(self.curl("DELETE", "/v1/users", headers=[auth]).status, 405)
        r = self.curl("GET", "/v1/users", headers=[auth, "X-Request-Id: e2e-req-1"])
        self.assertEqual(r.headers.get("x-request-id"), "e2e-req-1")

    def test_per_user_rate_limit(self):
        s = self.sign_in("waiter")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        statuses, retry_after = [], None
        for _ in range(80):
            conn.request("GET", "/v1/roles", headers={"Authorization": "Bearer " + s["accessToken"]})
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            if resp.status == 429:
                retry_after = resp.getheader("Retry-After")
                break
        conn.close()
        self.assertEqual(statuses[0], 200)
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertTrue(retry_after and int(retry_after) >= 1, retry_after)

    def test_openapi_document_is_served(self):
        r = self.curl("GET", "/openapi.json")
        self.assertEqual(r.status, 200, r.body[:300])
        doc = r.json()
        self.assertTrue(doc["openapi"].startswith("3."))
        self.assertIn("/v1/users", doc["paths"])
        self.assertIn("/v1/auth:signIn", doc["paths"])

    # --- the live stream ----------------------------------------------------------------------------

    def test_stream_resumes_after_a_disconnect_without_losing_an_event(self):
        admin = self.session("administrator")
        auth = "Bearer " + admin["accessToken"]

        def create_user():
            login = "sse-" + uuid.uuid4().hex[:8]
            r = self.curl("POST", "/v1/users", {"user": {"login": login, "fullName": "SSE"},
                                                "password": "correct horse battery"},
                          headers=["Authorization: " + auth])
            self.assertEqual(r.status, 200, r.body)
            return r.json()["id"]

        stream = SseClient(self.port, auth)
        first = create_user()
        last_id = stream.read_until(lambda e: e["data"].get("subject") == first)
        stream.close()
        # While disconnected, more users are made; a reconnect from the last id sees each, once.
        missed = [create_user() for _ in range(3)]
        stream = SseClient(self.port, auth, last_event_id=last_id)
        seen = []
        stream.read_until(lambda e: seen.append(e["data"].get("subject")) or set(missed) <= set(seen))
        stream.close()
        self.assertNotIn(first, seen)
        for m in missed:
            self.assertEqual(seen.count(m), 1, seen)


if __name__ == "__main__":
    unittest.main(verbosity=2)
