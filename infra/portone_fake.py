"""A local fake of PortOne's (Iamport) REST API v1, in memory, on loopback.

PortOne has no offline sandbox, so the local stack and the tests talk to this
instead (API.md, "Local fakes"). It serves the three endpoints the server calls
(users/getToken, payments/{imp_uid}, payments/cancel) with PortOne's envelope
{"code", "message", "response"}, plus /_fake/... endpoints for tests: create
payments, send PortOne's webhook, inject failures, count calls, reset.
infra/portone_fake.md says what is modelled and what is not. Standard library
only, so it runs on any Python 3.11 without a virtualenv.
"""

import argparse
import json
import math
import os
import re
import secrets
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# PortOne's tokens live 30 min; a test sets a short TTL to watch one expire.
TOKEN_TTL = float(os.environ.get("PORTONE_FAKE_TOKEN_TTL") or 1800)
IMP_KEY = os.environ.get("PORTONE_IMP_KEY")  # unset: any non-empty key is accepted
IMP_SECRET = os.environ.get("PORTONE_IMP_SECRET")  # unset: any non-empty secret
CALLS = ("users/getToken", "payments/{imp_uid}", "payments/cancel")
MAX_BODY = 1 << 20

LOCK = threading.Lock()  # guards S: requests are served on many threads
S = {}


def reset():
    S.update(payments={}, reads={}, tokens={}, by_key={},
             calls=dict.fromkeys(CALLS, 0), fail=[0, 0])


reset()


class Bad(Exception):
    """Any answer but a success, raised from anywhere in a handler."""

    def __init__(self, status, message, code=-1, close=False):
        super().__init__(message)
        self.status, self.message, self.code, self.close = status, message, code, close


def envelope(response=None, code=0, message=None):
    return {"code": code, "message": message, "response": response}


def refused(message):
    # PortOne answers a cancel it will not do with HTTP 200 and code 1.
    return Bad(200, message, code=1)


def number(value, name):
    """An amount from JSON (a number) or a form (a string); None when absent."""
    if value is None or value == "":
        return None
    try:
        n = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        n = math.nan
    if not math.isfinite(n):
        raise Bad(400, f"{name} must be a number")
    return int(n) if n.is_integer() else n


def new_payment(merchant_uid, amount, currency, status, extra):
    imp_uid = "imp_%012d" % secrets.randbelow(10**12)  # PortOne's shape: imp_ + 12 digits
    while imp_uid in S["payments"]:
        imp_uid = "imp_%012d" % secrets.randbelow(10**12)
    now = int(time.time())
    p = {  # PortOne's Payment model, as a card payment; what the fake cannot know is null
        "imp_uid": imp_uid, "merchant_uid": merchant_uid, "pay_method": "card",
        "channel": "pc", "pg_provider": "html5_inicis", "emb_pg_provider": None,
        "pg_tid": "fake" + secrets.token_hex(10), "pg_id": "INIpayTest",
        "sandbox": False, "escrow": False, "apply_num": None, "bank_code": None,
        "bank_name": None, "card_code": None, "card_name": None, "card_quota": 0,
        "card_number": None, "card_type": None, "vbank_code": None, "vbank_name": None,
        "vbank_num": None, "vbank_holder": None, "vbank_date": 0, "vbank_issued_at": 0,
        "name": "Order " + merchant_uid, "amount": amount, "cancel_amount": 0,
        "currency": currency, "buyer_name": None, "buyer_email": None, "buyer_tel": None,
        "buyer_addr": None, "buyer_postcode": None, "custom_data": None,
        "user_agent": None, "status": "ready", "started_at": now, "paid_at": 0,
        "failed_at": 0, "cancelled_at": 0, "fail_reason": None, "cancel_reason": None,
        "receipt_url": None, "cancel_history": [], "cancel_receipt_urls": [],
        "cash_receipt_issued": False, "customer_uid": None, "customer_uid_usage": None,
    }
    p.update(extra)
    set_status(p, status, now)
    S["payments"][imp_uid], S["reads"][imp_uid] = p, 0
    return p


def set_status(p, status, now):
    if status == "paid":
        p.update(status="paid", paid_at=now, apply_num=p["apply_num"] or "%08d" % (now % 10**8))
    elif status == "failed":
        p.update(status="failed", failed_at=now, fail_reason=p["fail_reason"] or "[fake] declined")
    elif status == "cancelled":  # as if cancelled in PortOne's console
        apply_cancel(p, p["amount"] - p["cancel_amount"], "cancelled in console", now)
    else:
        p.update(status="ready", paid_at=0, failed_at=0)


def apply_cancel(p, amount, reason, now):
    p["cancel_history"].append({
        "pg_tid": p["pg_tid"], "amount": amount, "cancelled_at": now, "reason": reason,
        "cancellation_id": "fake" + secrets.token_hex(8), "receipt_url": None})
    p["cancel_amount"] = number(p["cancel_amount"] + amount, "cancel_amount")
    p["cancel_reason"] = reason
    if p["cancel_amount"] >= p["amount"]:  # a partial cancel leaves it 'paid'
        p.update(status="cancelled", cancelled_at=now)


def issue_token(imp_key):
    """PortOne's rule: before expiry the same token comes back, 5 min longer if
    under 1 min was left; after expiry a new one. Both spans scale with the TTL
    (1/30 and 1/6 of it) so that a short test TTL still lets tokens die."""
    now = time.time()
    S["tokens"] = {t: e for t, e in S["tokens"].items() if e[1] > now}
    tok = S["by_key"].get(imp_key)
    if tok in S["tokens"]:
        exp = S["tokens"][tok][1]
        exp += TOKEN_TTL / 6 if exp - now < TOKEN_TTL / 30 else 0
    else:
        tok, exp = secrets.token_hex(20), now + TOKEN_TTL
        S["by_key"][imp_key] = tok
    S["tokens"][tok] = (imp_key, exp)
    # Whole seconds rounded down, so a client never trusts a token past its death.
    return {"access_token": tok, "now": int(now), "expired_at": int(exp)}


def cancel(body):
    imp_uid, merchant_uid = str(body.get("imp_uid") or ""), str(body.get("merchant_uid") or "")
    amount = number(body.get("amount"), "amount")
    checksum = number(body.get("checksum"), "checksum")  # the caller's idea of what is left
    reason = None if body.get("reason") is None else str(body["reason"])
    if not imp_uid and not merchant_uid:
        raise refused("imp_uid 또는 merchant_uid 를 지정해주셔야합니다.")
    if amount is not None and amount < 0:
        raise refused("취소요청금액은 0 이상이어야 합니다.")
    with LOCK:
        if imp_uid:  # imp_uid wins: an unknown one fails whatever merchant_uid says
            p = S["payments"].get(imp_uid)
        else:  # the order's newest paid payment, else its newest
            same = [q for q in S["payments"].values() if q["merchant_uid"] == merchant_uid]
            p = next((q for q in reversed(same) if q["status"] == "paid"), (same or [None])[-1])
        if p is None or p["status"] in ("ready", "failed"):
            raise refused("취소할 결제건이 존재하지 않습니다.")
        left = number(p["amount"] - p["cancel_amount"], "amount")
        if p["status"] == "cancelled" or left <= 0:
            raise refused("이미 전액취소된 주문입니다.")
        if checksum is not None and checksum != left:
            raise refused(f"checksum({checksum})이 취소가능잔액({left})과 다릅니다.")
        if amount and amount > left:
            raise refused(f"취소요청금액({amount})이 취소가능잔액({left})보다 큽니다.")
        apply_cancel(p, amount or left, reason, int(time.time()))  # amount 0 or absent: all
        return json.dumps(envelope(p), ensure_ascii=False)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the server's HTTP client pools connections
    timeout = 60  # then an idle kept-alive connection is dropped

    def do_GET(self):
        self.path_only = urllib.parse.urlsplit(self.path).path
        self.control, self.allow = self.path_only.startswith("/_fake/"), "GET, POST"
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                raise Bad(411, "chunked bodies are not supported", close=True)
            length = (self.headers.get("Content-Length") or "0").strip()
            if not length.isdigit():
                raise Bad(400, "bad Content-Length", close=True)
            if int(length) > MAX_BODY:
                raise Bad(413, "body too large", close=True)
            raw = self.rfile.read(int(length))
            (self.route_control if self.control else self.route_api)(raw)
        except Bad as e:
            self.close_connection = self.close_connection or e.close
            self.error(e.status, e.message, e.code)
        except Exception:  # a bug in the fake must not take the server down
            traceback.print_exc()
            self.error(500, "internal error in portone-fake")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def parse(self, raw):
        if not raw.strip():
            return {}
        try:  # PortOne takes JSON or a form on every POST
            if "x-www-form-urlencoded" in self.headers.get("Content-Type", "").lower():
                return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Bad(400, "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise Bad(400, "body must be a JSON object")
        return body

    def route_api(self, raw):
        path, method = self.path_only, self.command
        if path in ("/users/getToken", "/payments/cancel"):
            name, self.allow = path[1:], "POST"
        elif re.fullmatch(r"/payments/[^/]+", path):
            name, self.allow = "payments/{imp_uid}", "GET"
        else:
            raise Bad(404, "Not Found")
        if method != self.allow:
            raise Bad(405, "Method Not Allowed")
        with LOCK:
            S["calls"][name] += 1
            status, left = S["fail"]
            S["fail"][1] = max(0, left - 1)
        if left > 0:  # an injected failure: PortOne down or erroring
            raise Bad(status, f"injected failure (HTTP {status})")
        body = self.parse(raw) if method == "POST" else {}
        if name == "users/getToken":
            key, secret = body.get("imp_key"), body.get("imp_secret")
            if not key or not secret:
                raise Bad(400, "imp_key, imp_secret 파라메터가 누락되었습니다.")
            if (IMP_KEY and str(key) != IMP_KEY) or (IMP_SECRET and str(secret) != IMP_SECRET):
                raise Bad(401, "Unauthorized")
            with LOCK:
                token = issue_token(str(key))
            return self.send(200, envelope(token))
        # PortOne takes the token raw or as "Bearer <token>" in Authorization;
        # its older clients send it in X-ImpTokenHeader.
        tok = self.headers.get("Authorization") or self.headers.get("X-ImpTokenHeader") or ""
        scheme, _, rest = tok.strip().partition(" ")
        tok = rest.strip() if scheme.lower() == "bearer" else tok.strip()
        with LOCK:
            if S["tokens"].get(tok, (0, 0))[1] <= time.time():
                raise Bad(401, "Unauthorized")
        if name == "payments/cancel":
            return self.send(200, cancel(body))
        imp_uid = urllib.parse.unquote(path[len("/payments/"):])
        with LOCK:
            if imp_uid not in S["payments"]:
                raise Bad(404, "존재하지 않는 결제정보입니다.")
            S["reads"][imp_uid] += 1
            text = json.dumps(envelope(S["payments"][imp_uid]), ensure_ascii=False)
        self.send(200, text)

    def route_control(self, raw):
        path, method = self.path_only, self.command
        body = self.parse(raw) if method == "POST" else {}
        if (method, path) == ("POST", "/_fake/payments"):
            return self.create(body)
        if (method, path) == ("POST", "/_fake/reset"):
            with LOCK:
                reset()
            return self.send(200, {"reset": True})
        if (method, path) == ("GET", "/_fake/calls"):
            with LOCK:
                calls = dict(S["calls"])
            return self.send(200, calls)
        if (method, path) == ("POST", "/_fake/fail"):
            status, count = body.get("status"), body.get("count", 1)
            if type(status) is not int or not 400 <= status <= 599:
                raise Bad(400, "status must be an HTTP error status (400-599)")
            if type(count) is not int or count < 0:
                raise Bad(400, "count must be a non-negative integer")
            with LOCK:
                S["fail"] = [status, count]
            return self.send(200, {"status": status, "count": count})
        m = re.fullmatch(r"/_fake/payments/([^/]+)(/notify|/status)?", path)
        if m is None:
            raise Bad(404, "no such control endpoint")
        imp_uid, action = urllib.parse.unquote(m.group(1)), m.group(2)
        if (method, action) not in (("GET", None), ("POST", "/status"), ("POST", "/notify")):
            self.allow = "GET" if action is None else "POST"
            raise Bad(405, "Method Not Allowed")
        with LOCK:
            p = S["payments"].get(imp_uid)
            if p is None:
                raise Bad(404, f"no payment {imp_uid}")
            if action == "/status":  # a later change, e.g. a virtual account paid
                new, old = body.get("status"), p["status"]
                allowed = ("ready", "paid", "failed") + (("cancelled",) if old == "paid" else ())
                if new not in allowed or old == "cancelled":
                    raise Bad(400, "status must be ready, paid or failed (cancelled once paid)")
                set_status(p, new, int(time.time()))
            state = json.loads(json.dumps(dict(p, api_reads=S["reads"][imp_uid])))  # a copy
        if action != "/notify":
            return self.send(200, state)
        hook = {k: state[k] for k in ("imp_uid", "merchant_uid", "status")}  # PortOne's body
        self.notify(str(body.get("url") or ""), hook)

    def create(self, body):
        mu, amount = body.get("merchant_uid"), body.get("amount")
        currency, status = body.get("currency", "KRW"), body.get("status", "paid")
        if not isinstance(mu, str) or not mu:
            raise Bad(400, "merchant_uid must be a non-empty string")
        if type(amount) not in (int, float) or not 0 <= amount < math.inf:
            raise Bad(400, "amount must be a non-negative number")
        if not isinstance(currency, str) or not currency:
            raise Bad(400, "currency must be a non-empty string")
        if status not in ("ready", "paid", "failed"):
            raise Bad(400, "status must be ready, paid or failed")
        optional = ("name", "buyer_name", "buyer_email", "pay_method", "pg_provider",
                    "fail_reason")
        extra = {k: body[k] for k in optional if isinstance(body.get(k), str)}
        with LOCK:
            p = new_payment(mu, number(amount, "amount"), currency, status, extra)
        self.send(200, {"imp_uid": p["imp_uid"]})

    def notify(self, url, hook):
        """POSTs PortOne's webhook body as JSON, and tells the status it got."""
        if not url.startswith(("http://", "https://")):
            raise Bad(400, "url must be an http(s) URL")
        req = urllib.request.Request(url, data=json.dumps(hook).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with OPENER.open(req, timeout=10) as resp:
                resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:  # 3xx (not followed), 4xx, 5xx: an answer still
            status = e.code
            e.close()
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise Bad(502, f"webhook to {url} failed: {e}") from None
        self.send(200, {"status": status})

    def error(self, status, message, code=-1):
        # PortOne's envelope on its own paths; plain {"error"} on the fake's.
        body = {"error": message} if self.control else envelope(None, code, message)
        self.send(status, body, [("Allow", self.allow)] if status == 405 else [])

    def send(self, status, body, headers=()):
        data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # one line per request, on stderr
        sys.stderr.write("portone-fake [%s] %s\n" % (self.log_date_time_string(), fmt % args))

    def log_error(self, fmt, *args):  # the request's own line says enough
        pass


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a webhook sender reports a redirect; it does not follow it


# No proxy: a webhook to 127.0.0.1 must not leave through HTTP_PROXY.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9402)
    args = parser.parse_args()
    ThreadingHTTPServer.request_queue_size = 128  # the default 5 resets bursts of clients
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    sys.stderr.write("portone-fake on http://%s:%d\n" % (args.host, args.port))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
