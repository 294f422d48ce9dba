"""Idempotency cases of every POST route of crm.identity.* (issue 16, G1): read by the suite's test that
walks every POST route of the API descriptor set, and by tests/e2e/mortgage_test.py, which runs them itself.

Each creating or changing POST honours `Idempotency-Key` (crm::pg::RunIdempotent, the record in the
transaction of the change): sent twice with one key it answers 200 twice with the same body — CreateApiKey
included: the repeat carries the same secret, kept in the record sealed under the idempotency key — and the
same key with another request (`other_body`, or a changed free-text field) is 400 naming idempotency-key.
Signing in, refreshing, signing out and the second-factor enrolment are exempt (reasons below).
"""
import uuid


def fixtures(curl, as_):
    def ok(r):
        if r.status != 200:
            raise AssertionError("fixture: %s %s" % (r.status, r.body))
        return r.json()

    uniq = uuid.uuid4().hex[:8]
    f = {"uniq": uniq}
    # A user whose password the administrator sets (SetPassword ends the user's sessions: not a demo user's).
    f["password_user"] = ok(curl("POST", "/v1/users", {
        "user": {"login": "idem.pw." + uniq, "fullName": "Смена Пароля", "roleCodes": ["manager"]},
        "password": "начальный-пароль-1"}, headers=as_("administrator")))["id"]
    # The integrator's key to revoke.
    f["api_key"] = ok(curl("POST", "/v1/apiKeys", {"name": "Ключ на отзыв " + uniq, "scopes": ["users.read"]},
                           headers=as_("integrator")))["apiKey"]["id"]
    return f


CASES = [
    {"rpc": "crm.identity.v1.AuthService.SignIn",
     "exempt": "signing in makes a session per call by design (each with its own tokens); a lost reply is "
               "answered by signing in again, and a TOTP code is accepted once"},
    {"rpc": "crm.identity.v1.AuthService.Refresh",
     "exempt": "a refresh token is single-use: the repeat is refused (it is retired), so nothing is made twice"},
    {"rpc": "crm.identity.v1.AuthService.SignOut",
     "exempt": "ends the session of the refresh token; a repeat finds it ended and changes nothing"},
    {"rpc": "crm.identity.v1.UserService.EnrollTotp",
     "exempt": "second-factor enrolment: each call replaces the one pending secret (nothing accumulates), and "
               "a new secret must never be replayed from a stored reply"},
    {"rpc": "crm.identity.v1.UserService.ConfirmTotp",
     "exempt": "second-factor enrolment: a TOTP code is accepted once, and a confirmed secret stays confirmed"},
    {"rpc": "crm.identity.v1.UserService.CreateUser", "role": "administrator", "path": "/v1/users",
     "body": {"user": {"login": "idem.{uniq}", "fullName": "Идемпотентный Пользователь", "roleCodes": ["manager"]},
              "password": "пароль-идемпотентности"},
     "other_body": {"user": {"login": "idem.{uniq}", "fullName": "Другой Пользователь", "roleCodes": ["manager"]},
                    "password": "пароль-идемпотентности"}},
    {"rpc": "crm.identity.v1.UserService.SetPassword", "role": "administrator",
     "path": "/v1/users/{password_user}:setPassword",
     "body": {"newPassword": "новый-пароль-идемпотентности"},
     "other_body": {"newPassword": "другой-пароль-идемпотентности"}},
    {"rpc": "crm.identity.v1.UserService.CreateTeam", "role": "administrator", "path": "/v1/teams",
     "body": {"name": "Ипотечный отдел {uniq}"}, "other_body": {"name": "Другой отдел {uniq}"}},
    {"rpc": "crm.identity.v1.ApiKeyService.CreateApiKey", "role": "integrator", "path": "/v1/apiKeys",
     "body": {"name": "1С обмен {uniq}", "scopes": ["users.read"]},
     "other_body": {"name": "Сайт: заявки {uniq}", "scopes": ["users.read"]}},
    {"rpc": "crm.identity.v1.ApiKeyService.RevokeApiKey", "role": "integrator",
     "path": "/v1/apiKeys/{api_key}:revoke", "body": {}},
]
