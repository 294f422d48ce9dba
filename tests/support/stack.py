"""The suite as `tools/crm up` runs it, for end-to-end tests: identity, the business services asked for
and the gateway as processes on free ports, on the throwaway PostgreSQL and dev broker that
`tools/crm test` provides (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS), each service in a database of its
own, with demo users for every role. Clients are curl (REST) and python3-grpcio (gRPC)."""
import base64
import hmac
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import uuid

from service_process import ServiceProcess

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PG_DSN = os.environ.get("CRM_TEST_PG_DSN", "")
BROKERS = os.environ.get("CRM_TEST_KAFKA_BROKERS", "")


def dsn_with_db(dsn, db):
    parts = [p for p in dsn.split() if not p.startswith("dbname=")]
    return " ".join(parts + ["dbname=" + db])


def totp_now(secret):
    """The current RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), "sha1").digest()
    o = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Reply:
    """status, lower-cased headers, the body as text and, for binary answers (an image), as `raw` bytes."""

    def __init__(self, status, headers, body, raw=None):
        self.status, self.headers, self.body = status, headers, body
        self.raw = raw if raw is not None else body.encode()

    def json(self):
        return json.loads(self.body)

    def error(self):
        return self.json()["error"]


class Stack:
    """Starts identity, `services` (e.g. ["deals"]) and the gateway; stop() ends them."""

    def __init__(self, build, services=(), gateway_env=None, service_env=None):
        if not PG_DSN or not BROKERS:
            raise RuntimeError("CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS must be set (run through tools/crm test)")
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="crm-stack-")
        self.procs = []
        self.grpc_ports = {}
        self.sessions = {}
        self.service_env = service_env or {}
        self.envs = {}  # name -> the environment it was started with (start() starts another replica)
        self.telegram = None  # the fake Bot API started for dialogs (tests/fakes/telegram_bot_api.py)
        self.telegram_url = None
        self.ami = None  # the fake Asterisk started for telephony (tests/fakes/ami_server.py)
        self.ami_port = None
        self.ami_url = None  # its control API: <ami_url>/_fake/...
        try:
            self._start(list(services), gateway_env or {})
        except BaseException:
            self.stop()
            raise

    def _database(self, service):
        db = "%s_e2e_%s" % (service, uuid.uuid4().hex[:10])
        subprocess.run(["psql", PG_DSN, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE " + db], check=True)
        return dsn_with_db(PG_DSN, db)

    def _start_telegram(self):
        """dialogs talks to the fake Bot API as `tools/crm up` runs it (issue 18), unless the test points
        it elsewhere (service_env's CRM_DIALOGS_TELEGRAM_API_URL)."""
        self.telegram = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/telegram_bot_api.py"),
                                          "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.telegram.stdout.readline().decode()
        self.telegram_url = "http://127.0.0.1:%d" % int(line.strip().rsplit(":", 1)[1])
        env = dict(self.service_env.get("dialogs", {}), CRM_DIALOGS_TELEGRAM_API_URL=self.telegram_url)
        self.service_env = dict(self.service_env, dialogs=env)

    def _start_ami(self):
        """telephony holds its AMI link to the fake Asterisk as `tools/crm up` runs it (issue 19), unless the
        test points it elsewhere (service_env's CRM_TELEPHONY_AMI_ADDRESS; "" = no PBX at all)."""
        self.ami = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/ami_server.py"),
                                     "--username", "crm", "--secret", "e2e-ami-secret"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        words = self.ami.stdout.readline().decode().split()  # ami_server listening on H:P http H:P
        self.ami_port = int(words[3].rsplit(":", 1)[1])
        self.ami_url = "http://" + words[5]
        env = dict({"CRM_TELEPHONY_AMI_ADDRESS": "127.0.0.1:%d" % self.ami_port,
                    "CRM_TELEPHONY_AMI_USERNAME": "crm", "CRM_TELEPHONY_AMI_SECRET": "e2e-ami-secret",
                    "CRM_TELEPHONY_AMI_RECONNECT_MAX": "1s"},
                   **self.service_env.get("telephony", {}))
        self.service_env = dict(self.service_env, telephony=env)

    def ami_control(self, method, action, body=None):
        """The fake Asterisk's control API (tests/fakes/ami_server.py): the JSON answer."""
        args = ["curl", "-sS", "-f", "-X", method, "--max-time", "20", "%s/_fake/%s" % (self.ami_url, action)]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        return json.loads(subprocess.run(args, capture_output=True, check=True).stdout)

    def _start(self, services, gateway_env):
        if "dialogs" in services and "CRM_DIALOGS_TELEGRAM_API_URL" not in self.service_env.get("dialogs", {}):
            self._start_telegram()
        if "telephony" in services and "CRM_TELEPHONY_AMI_ADDRESS" not in self.service_env.get("telephony", {}):
            self._start_ami()
        # The gateway's service key and the trusted key set every service believes (as tools/crm makes them).
        self.gateway_key = os.path.join(self.tmp, "gateway-service.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", self.gateway_key], check=True,
                       stderr=subprocess.DEVNULL)
        der = subprocess.run(["openssl", "pkey", "-in", self.gateway_key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        keys = [{"kty": "OKP", "crv": "Ed25519", "x": b64url(der[-32:]), "kid": "gateway", "alg": "EdDSA",
                 "use": "sig"}]
        # Services that act on their own (robots calling deals) sign with keys of their own.
        service_keys = {}
        for name in services:
            path = os.path.join(self.tmp, "%s-service.pem" % name)
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path], check=True,
                           stderr=subprocess.DEVNULL)
            pub = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                                 check=True, capture_output=True).stdout
            keys.append({"kty": "OKP", "crv": "Ed25519", "x": b64url(pub[-32:]), "kid": name, "alg": "EdDSA",
                         "use": "sig"})
            service_keys[name] = path
        trusted = os.path.join(self.tmp, "trusted-keys.jwks")
        with open(trusted, "w") as f:
            json.dump({"keys": keys}, f)
        base = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        base.update({"CRM_KAFKA_BROKERS": BROKERS, "CRM_TRUSTED_KEYS_FILE": trusted})

        self.credentials = os.path.join(self.tmp, "demo-credentials")
        self.totp_file = os.path.join(self.tmp, "demo-totp-secrets")
        addresses = {}
        for name in ["identity"] + services:
            up = name.upper()
            env = dict(base, **addresses, **{"CRM_%s_PG_DSN" % up: self._database(name),
                                "CRM_%s_GRPC_ADDRESS" % up: "127.0.0.1:0",
                                "CRM_%s_METRICS_ADDRESS" % up: "127.0.0.1:0",
                                "CRM_%s_BLOB_DIR" % up: os.path.join(self.tmp, "blobs", name),
                                # A group of its own: never share identity's events with another stack.
                                "CRM_%s_CONSUMER_GROUP" % up: "%s-e2e-%s" % (name, uuid.uuid4().hex[:10])})
            if name in service_keys:
                env.update({"CRM_%s_SERVICE_KEY_FILE" % up: service_keys[name], "CRM_%s_SERVICE_KEY_ID" % up: name})
            env.update(self.service_env.get(name, {}))
            binary = os.path.join(self.build, "services/%s/crm-%s" % (name, name))
            demo = {"identity": ["demo-users", "--credentials", self.credentials, "--totp-secrets", self.totp_file],
                    "deals": ["demo"], "robots": ["demo"], "mortgage": ["demo"], "dialogs": ["demo"]}.get(name)
            if demo:
                subprocess.run([binary] + demo, env=env, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            self.envs[name] = env
            proc = self.start(name)
            self.grpc_ports[name] = proc.wait_for("serving")["grpc_port"]
            addresses["CRM_%s_ADDRESS" % up] = "127.0.0.1:%d" % self.grpc_ports[name]

        env = dict(base, **addresses,
                   CRM_GATEWAY_HTTP_ADDRESS="127.0.0.1:0", CRM_GATEWAY_GRPC_ADDRESS="127.0.0.1:0",
                   CRM_GATEWAY_METRICS_ADDRESS="127.0.0.1:0",
                   CRM_GATEWAY_DESCRIPTOR_SETS=os.path.join(self.build, "proto/crm_api.pb"),
                   CRM_GATEWAY_SERVICE_KEY_FILE=self.gateway_key, CRM_GATEWAY_SERVICE_KEY_ID="gateway")
        env.update(gateway_env)  # a test's own (a fixed HTTP address: webhooks registered before it starts)
        gateway = ServiceProcess("gateway", [os.path.join(self.build, "services/gateway/crm-gateway")], env)
        self.procs.append(gateway)
        serving = gateway.wait_for("serving")
        self.port, self.gateway_metrics_port = serving["http_port"], serving["metrics_port"]
        for _ in range(300):  # ready once the signing keys were fetched from identity
            if self.curl("GET", "/readyz").status == 200:
                break
            time.sleep(0.05)
        self.users = {}
        with open(self.credentials) as f:
            for line in f:
                login, password, role = line.rstrip("\n").split("\t")
                self.users[role] = (login, password)
        self.totp = {}
        with open(self.totp_file) as f:
            for line in f:
                login, secret = line.rstrip("\n").split("\t")
                self.totp[login] = secret

    def wait_for_users(self, service, table, timeout=120):
        """Waits until `service`'s read model of identity's users (`table` in its database, filled from
        Kafka) holds every demo user: recipients and names resolve only after that."""
        dsn = self.envs[service]["CRM_%s_PG_DSN" % service.upper()]
        deadline = time.monotonic() + timeout
        while True:
            out = subprocess.run(["psql", dsn, "-Atqc", "SELECT count(*) FROM " + table],
                                 capture_output=True, text=True)
            if out.returncode == 0 and int(out.stdout.strip() or 0) >= len(self.users):
                return
            if time.monotonic() > deadline:
                raise AssertionError("%s never received identity's %d users (%s)" %
                                     (service, len(self.users), out.stdout.strip() or out.stderr.strip()))
            time.sleep(0.1)

    def signed(self, principal):
        """gRPC metadata carrying `principal` (a crm.common.v1.Principal message) signed with the gateway's
        key, as libs/auth/service_credential.h describes: what a trusted caller such as robots sends."""
        if getattr(self, "_signing_key", None) is None:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
            with open(self.gateway_key, "rb") as f:
                self._signing_key = load_pem_private_key(f.read(), None)
        key = self._signing_key
        raw = principal.SerializeToString()
        ts = int(time.time())
        sig = key.sign(("v1.%s.%d" % (b64url(raw), ts)).encode())
        return [("x-crm-principal-bin", raw), ("x-crm-principal-sig", "v1.%d.%s.gateway" % (ts, b64url(sig)))]

    def start(self, name):
        """Starts (another replica of) service `name` with the environment it was first started with, on
        new ports; returns its ServiceProcess (wait_for("serving") before using it)."""
        proc = ServiceProcess(name, [os.path.join(self.build, "services/%s/crm-%s" % (name, name))],
                              self.envs[name])
        self.procs.append(proc)
        return proc

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        if self.telegram is not None:
            self.telegram.kill()  # else ctest waits for the fake, which holds a pipe
            self.telegram.wait()
        if self.ami is not None:
            self.ami.kill()
            self.ami.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def curl(self, method, path, body=None, headers=(), raw_body=None):
        """One request with curl; returns status, lower-cased headers and the body."""
        args = ["curl", "-sS", "-X", method, "-D", "-", "--max-time", "20", "http://127.0.0.1:%d%s" % (self.port, path)]
        for h in headers:
            args += ["-H", h]
        data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        out = subprocess.run(args, input=data, capture_output=True, check=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        while head.startswith(b"HTTP/1.1 100"):
            head, _, payload = payload.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers_out = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers_out[name.strip().lower()] = value.strip()
        return Reply(int(lines[0].split()[1]), headers_out, payload.decode(errors="replace"), payload)

    def sign_in(self, role, totp_code=None):
        """Signs the demo user of `role` in (with a current TOTP code when the role needs one); the reply."""
        login, password = self.users[role]
        body = {"login": login, "password": password}
        if totp_code is None and login in self.totp:
            totp_code = totp_now(self.totp[login])
        if totp_code:
            body["totpCode"] = totp_code
        return self.curl("POST", "/v1/auth:signIn", body)

    def session(self, role):
        """A session of `role`'s demo user, made once: a TOTP code may be used only once, so users with a
        second factor cannot sign in twice within one 30-second step."""
        if role not in self.sessions:
            r = self.sign_in(role)
            if r.status != 200:
                raise AssertionError("sign-in of %s failed: %s" % (role, r.body))
            self.sessions[role] = r.json()
        return self.sessions[role]

    def bearer(self, role):
        return "Authorization: Bearer " + self.session(role)["accessToken"]
