#!/usr/bin/env python3
"""The staff `tools/crm bench suite` spreads its deals over (issue 14), made through the gateway as an
administrator would: nine more sales teams («Бенч-отдел 1..9») beside the demo «Отдел продаж», and
100 managers `bench.m001..bench.m100`, ten a team (the demo team included, so the demo `manager` sees
ten colleagues' deals in the team scope). Idempotent: what exists is kept. Then waits until the deals
service has heard of every one of them (crm.identity.user.v1 → deals' user directory).

  suite_users.py STATE_DIR GATEWAY_PORT PG_PORT
"""
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

TEAMS = 10
MANAGERS = 100


def call(port, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def totp(state, login):
    """The current second-factor code of a demo user, as `tools/crm totp` computes it."""
    crm = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crm")
    return subprocess.run([crm, "totp", login], env={**os.environ, "CRM_STATE_DIR": state},
                          capture_output=True, text=True, check=True).stdout.strip()


def tsv(path):
    out = {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 2:
                out[fields[0]] = fields[1]
    return out


def main():
    state, port, pg_port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    passwords = tsv(f"{state}/demo-credentials")
    status, session = call(port, "POST", "/v1/auth:signIn",
                           {"login": "admin", "password": passwords["admin"], "totpCode": totp(state, "admin")})
    if status != 200:
        sys.exit(f"suite_users: admin sign-in failed: {status} {session}")
    token = session["accessToken"]

    teams = {}
    page = ""
    while True:
        status, body = call(port, "GET", f"/v1/teams?pageSize=200&pageToken={page}", token=token)
        if status != 200:
            sys.exit(f"suite_users: listing teams failed: {status} {body}")
        for t in body.get("teams", []):
            teams[t["name"]] = t["id"]
        page = body.get("nextPageToken", "")
        if not page:
            break
    names = ["Отдел продаж"] + [f"Бенч-отдел {i}" for i in range(1, TEAMS)]
    for name in names:
        if name not in teams:
            status, body = call(port, "POST", "/v1/teams", {"name": name}, token=token)
            if status != 200:
                sys.exit(f"suite_users: creating team {name} failed: {status} {body}")
            teams[name] = body["id"]

    made = 0
    for i in range(1, MANAGERS + 1):
        user = {"login": f"bench.m{i:03d}", "fullName": f"Менеджер Бенч {i:03d}", "roleCodes": ["manager"],
                "teamIds": [teams[names[i % TEAMS]]], "active": True}
        status, body = call(port, "POST", "/v1/users", {"user": user, "password": secrets.token_urlsafe(18)},
                            token=token)
        if status == 200:
            made += 1
        elif status != 409:
            sys.exit(f"suite_users: creating {user['login']} failed: {status} {body}")
    print(f"suite_users: {TEAMS} teams, {MANAGERS} bench managers ({made} new)", file=sys.stderr)

    # deals hears of users through Kafka; wait until its directory has them all.
    with open(f"{state}/secrets/deals.password") as f:
        dsn = f"host=127.0.0.1 port={pg_port} dbname=deals user=deals password={f.read().strip()}"
    team_ids = "{" + ",".join(teams[n] for n in names) + "}"
    deadline = time.monotonic() + 120
    while True:
        out = subprocess.run(["psql", dsn, "-Atc",
                              f"SELECT count(*) FROM user_directory WHERE team_ids && '{team_ids}'::uuid[]"],
                             capture_output=True, text=True, check=True).stdout.strip()
        if int(out) >= MANAGERS:
            return
        if time.monotonic() > deadline:
            sys.exit(f"suite_users: deals knows {out} of the {MANAGERS} managers after 120 s")
        time.sleep(0.5)


if __name__ == "__main__":
    main()
