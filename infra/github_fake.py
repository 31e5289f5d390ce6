"""A local fake of GitHub's OAuth web flow and the REST endpoints social login reads.

One server plays both github.com (/login/oauth/...) and api.github.com (/user,
/user/emails), so SOCIAL_GITHUB_BASE and SOCIAL_GITHUB_API can be the same URL.
Tests drive it through /_fake/...; infra/github_fake.md lists the endpoints.
State is in memory behind one lock: each run starts clean, as moto does.

    python infra/github_fake.py --port 9401
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

CLIENT_ID = os.environ.get("SOCIAL_GITHUB_CLIENT_ID", "")
CLIENT_SECRET = os.environ.get("SOCIAL_GITHUB_CLIENT_SECRET", "")
CODE_TTL = 600  # GitHub: "The temporary code will expire after 10 minutes."
JSON, TEXT = "application/json; charset=utf-8", "text/plain; charset=utf-8"
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")  # GitHub's login rule
DOCS = ("https://docs.github.com/apps/managing-oauth-apps/"
        "troubleshooting-oauth-app-access-token-request-errors/")
TOKEN_ERRORS = {  # GitHub's wording; each has its section in DOCS, and all come back as HTTP 200
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "redirect_uri_mismatch":
        "The redirect_uri MUST match the registered callback URL for this application.",
    "bad_verification_code": "The code passed is incorrect or expired.",
}
ROUTES = {  # path -> {method: handler}; PUT /_fake/users/{login} is matched apart
    "/login/oauth/authorize": {"GET": "authorize"},
    "/login/oauth/access_token": {"POST": "access_token"},
    "/user": {"GET": "get_user"},
    "/user/emails": {"GET": "get_emails"},
    "/_fake/fail": {"POST": "fake_fail"},
    "/_fake/reset": {"POST": "fake_reset"},
    "/_fake/calls": {"GET": "fake_calls"},
}


class Reply(Exception):
    """Ends a request early with this answer: bad input, unknown user, injected failure."""

    def __init__(self, status, body, ctype=JSON, headers=None):
        super().__init__(status, body, ctype, headers)


def api_error(status, message, doc="https://docs.github.com/rest"):
    # The REST API's error shape; GitHub has lately added "status" to it.
    return Reply(status, {"message": message, "documentation_url": doc, "status": str(status)})


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.users = {}  # lower-case login -> user (GitHub logins are case-insensitive)
        self.codes = {}  # code -> {login, client_id, redirect_uri, scopes, challenge, expires}
        self.tokens = {}  # access token -> (lower-case login, scopes)
        self.failures = (0, 0)  # (HTTP status, how many more GitHub calls get it)
        self.calls = {}  # "METHOD /path" -> count, GitHub endpoints only


STATE = State()


def user_json(u):
    # /user shows the public email only; by default there is none, as for most users.
    email = next((e["email"] for e in u["emails"] if e["visibility"] == "public"), None)
    return {"login": u["login"], "id": u["id"],
            "node_id": base64.b64encode(f"04:User{u['id']}".encode()).decode(),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{u['id']}?v=4",
            "html_url": f"https://github.com/{u['login']}", "type": "User", "site_admin": False,
            "name": u["name"], "company": None, "blog": "", "location": None, "email": email,
            "bio": None, "created_at": u["created_at"], "updated_at": u["created_at"]}


def parse_user(login, body):
    """The user that PUT /_fake/users/{login} stores, or a 400 saying what is wrong."""
    if not LOGIN.fullmatch(login):
        raise api_error(400, "login: 1-39 letters, digits or inner hyphens")
    if not isinstance(body, dict):
        raise api_error(400, "body: a JSON object {id, name, emails}")
    uid, name, emails = body.get("id"), body.get("name"), body.get("emails", [])
    if type(uid) is not int or uid <= 0 or not isinstance(name, (str, type(None))) \
            or not isinstance(emails, list):
        raise api_error(400, "body: {id: positive integer, name: string or null, emails: list}")
    clean = []
    for i, e in enumerate(emails):
        if not (isinstance(e, dict) and isinstance(e.get("email"), str) and "@" in e["email"]
                and type(e.get("primary", False)) is bool and type(e.get("verified", False)) is bool
                and e.get("visibility") in (None, "public", "private")):
            raise api_error(400, f"emails.{i}: {{email, primary?, verified?, visibility?}}")
        # GitHub gives the primary address a visibility ("private" unless made public), others null.
        primary = e.get("primary", False)
        clean.append({"email": e["email"], "primary": primary, "verified": e.get("verified", False),
                      "visibility": e.get("visibility") or ("private" if primary else None)})
    if sum(e["primary"] for e in clean) > 1:
        raise api_error(400, "emails: at most one primary")
    return {"login": login, "id": uid, "name": name, "emails": clean,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


class Handler(BaseHTTPRequestHandler):
    server_version = "github-fake"
    timeout = 30  # a client that stalls mid-request frees its thread

    def dispatch(self):
        url = urlsplit(self.path)
        self.route, self.query = url.path, dict(parse_qsl(url.query, keep_blank_values=True))
        args, methods = (), ROUTES.get(url.path)
        if m := re.fullmatch(r"/_fake/users/([^/]+)", url.path):
            args, methods = m.groups(), {"PUT": "fake_user"}
        try:
            if methods is None:
                raise api_error(404, "Not Found")
            if self.command not in methods:
                raise Reply(405, {"message": "Method Not Allowed"}, JSON,
                            {"Allow": ", ".join(methods)})
            if not url.path.startswith("/_fake/"):
                self.count_and_maybe_fail()
            getattr(self, methods[self.command])(*args)
        except Reply as r:
            self.send(*r.args)
        except Exception as e:  # a bug in the fake must not take the server down
            self.log_message("internal error: %r", e)
            self.send(500, {"message": "github-fake internal error"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = dispatch

    def count_and_maybe_fail(self):
        with STATE.lock:
            key = f"{self.command} {self.route}"
            STATE.calls[key] = STATE.calls.get(key, 0) + 1
            status, left = STATE.failures
            STATE.failures = (status, max(left - 1, 0))
        if left:
            raise Reply(status, {"message": f"github-fake: injected failure, {left - 1} more"})

    def send(self, status, body, ctype=JSON, headers=None):
        data = body if isinstance(body, bytes) else \
            json.dumps(body).encode() if ctype == JSON else body.encode()
        self.send_response(status)
        for k, v in {"Content-Type": ctype, "Content-Length": len(data), **(headers or {})}.items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        # One line per request, without the query string: it carries codes and state.
        sys.stderr.write(f"github-fake: {self.command} {self.route} -> {status}\n")

    def log_request(self, code="-", size="-"):
        pass  # send() logs instead

    def read_body(self):
        length = self.headers.get("Content-Length") or "0"
        digits = length.isascii() and length.isdigit()
        if not digits or int(length) > 64 * 1024:
            raise api_error(413 if digits else 400, "Content-Length: bad or over 64 KiB")
        return self.rfile.read(int(length))

    def json_body(self):
        try:
            return json.loads(self.read_body() or b"{}")
        except (ValueError, RecursionError):
            raise api_error(400, "Problems parsing JSON")

    # --- github.com: the web flow (plain-text errors: on GitHub this is a browser page) ---

    def authorize(self):
        q = self.query
        if not q.get("client_id") or (CLIENT_ID and q["client_id"] != CLIENT_ID):
            raise Reply(404, "unknown client_id\n", TEXT)  # GitHub shows its 404 page
        redirect = urlsplit(q.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or not redirect.netloc:
            raise Reply(400, "redirect_uri: an absolute http(s) URL (none is registered)\n", TEXT)
        # GitHub takes S256 only ("plain" is refused), and each parameter requires the other.
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
        if (challenge or method) and (
                method != "S256" or not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge or "")):
            raise Reply(400, "code_challenge: 43 base64url characters, method S256\n", TEXT)
        login = q.get("login", "").lower()  # stands in for the user signing in and approving
        code = secrets.token_hex(10)  # 20 hex characters, like GitHub's codes
        with STATE.lock:
            if login not in STATE.users:
                raise Reply(404 if login else 400, f"unknown login {login!r}: PUT /_fake/users/"
                            "{login} first, then add &login=<login> here\n", TEXT)
            STATE.codes[code] = {
                "login": login, "client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                "scopes": [s for s in re.split(r"[\s,]+", q.get("scope", "")) if s],
                "challenge": challenge, "expires": time.monotonic() + CODE_TTL}
        back = urlencode([("code", code)] + ([("state", q["state"])] if "state" in q else []))
        query = f"{redirect.query}&{back}" if redirect.query else back
        self.send(302, b"", TEXT, {"Location": redirect._replace(query=query).geturl()})

    def access_token(self):
        raw, params = self.read_body(), dict(self.query)  # GitHub reads the query string too
        try:
            if self.headers.get_content_type() == "application/json":
                body = json.loads(raw or b"{}")
                params.update((k, v) for k, v in body.items() if isinstance(v, str))
            else:
                params.update(parse_qsl(raw.decode(), keep_blank_values=True))
        except (ValueError, RecursionError, AttributeError):
            raise Reply(400, "body: form fields or a JSON object\n", TEXT)
        auth = self.headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":  # GitHub takes HTTP Basic too (oauth2-rs's default)
            try:
                cid, _, secret = base64.b64decode(auth[6:], validate=True).decode().partition(":")
                params.update(client_id=cid, client_secret=secret)
            except ValueError:
                return self.token_reply("incorrect_client_credentials")
        cid, secret = params.get("client_id", ""), params.get("client_secret", "")
        if not cid or not secret or (CLIENT_ID and cid != CLIENT_ID) \
                or (CLIENT_SECRET and secret != CLIENT_SECRET):
            return self.token_reply("incorrect_client_credentials")
        with STATE.lock:
            grant = STATE.codes.get(params.get("code", ""))
            if grant is None or grant["client_id"] != cid:
                return self.token_reply("bad_verification_code")
            del STATE.codes[params["code"]]  # single use: any try by its own client spends it
            if grant["expires"] < time.monotonic():
                return self.token_reply("bad_verification_code")
            if params.get("redirect_uri") and params["redirect_uri"] != grant["redirect_uri"]:
                return self.token_reply("redirect_uri_mismatch")
            digest = hashlib.sha256(params.get("code_verifier", "").encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if grant["challenge"] and grant["challenge"] != expected:
                return self.token_reply("bad_verification_code")
            token = "gho_" + secrets.token_hex(18)  # like GitHub's: gho_ and 36 characters
            STATE.tokens[token] = (grant["login"], grant["scopes"])
        self.token_reply(access_token=token, token_type="bearer", scope=",".join(grant["scopes"]))

    def token_reply(self, error=None, **fields):
        if error:
            fields = {"error": error, "error_description": TOKEN_ERRORS[error],
                      "error_uri": DOCS + "#" + error.replace("_", "-")}
        # Form-encoded unless the caller asks for JSON, as on GitHub; errors are 200s either way.
        if "application/json" in self.headers.get("Accept", ""):
            return self.send(200, fields)
        self.send(200, urlencode(fields), "application/x-www-form-urlencoded; charset=utf-8")

    # --- api.github.com ---------------------------------------------------------------------

    def authenticated(self):
        if not self.headers.get("User-Agent"):  # GitHub's API refuses these: learn it here
            raise Reply(403, "Request forbidden by administrative rules. Please make sure your "
                        "request has a User-Agent header.\n", "text/html; charset=utf-8")
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if not scheme:
            raise api_error(401, "Requires authentication",
                            "https://docs.github.com/rest/users/users#get-the-authenticated-user")
        with STATE.lock:
            login, scopes = STATE.tokens.get(token.strip(), (None, []))
            user = STATE.users.get(login) if scheme.lower() in ("bearer", "token") else None
        if user is None:
            raise api_error(401, "Bad credentials")
        return user, scopes, {"X-OAuth-Scopes": ", ".join(scopes)}

    def get_user(self):
        user, _, headers = self.authenticated()
        self.send(200, user_json(user), JSON, headers)

    def get_emails(self):
        user, scopes, headers = self.authenticated()
        if not {"user", "user:email"} & set(scopes):  # GitHub answers 404 without the scope
            raise api_error(404, "Not Found", "https://docs.github.com/rest/users/emails"
                            "#list-email-addresses-for-the-authenticated-user")
        fields = ("email", "primary", "verified", "visibility")
        self.send(200, [{k: e[k] for k in fields} for e in user["emails"]], JSON, headers)

    # --- test control -----------------------------------------------------------------------

    def fake_user(self, login):
        user = parse_user(login, self.json_body())
        with STATE.lock:
            created = login.lower() not in STATE.users
            STATE.users[login.lower()] = user  # tokens already issued see the new data
        self.send(201 if created else 200, user_json(user))

    def fake_fail(self):
        body = self.json_body()
        status, count = (body.get("status"), body.get("count", 1)) if isinstance(body, dict) \
            else (None, None)
        if type(status) is not int or not 400 <= status <= 599 or type(count) is not int \
                or count < 0:
            raise api_error(400, "body: {status: 400-599, count?: integer >= 0, default 1}")
        with STATE.lock:
            STATE.failures = (status, count)
        self.send(200, {"status": status, "count": count})

    def fake_reset(self):
        with STATE.lock:
            STATE.reset()
        self.send(204, b"")

    def fake_calls(self):
        with STATE.lock:
            calls = dict(STATE.calls)
        self.send(200, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9401)
    args = parser.parse_args()
    if not (args.host == "localhost" or re.fullmatch(r"127(\.\d{1,3}){3}", args.host)):
        parser.error("--host: a loopback address only; the fake checks nothing that matters")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    sys.stderr.write(f"github-fake: listening on http://{args.host}:{args.port}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
