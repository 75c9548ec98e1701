"""The console's sign-in and authorization, through a real server: every
page and form for every role in its own tenant and in another, CSRF,
session fixation, logout, login rate limiting and lockout, and tokens
revoked from the settings page. The role table is written here by hand
from docs/console.md, not read from the code it checks."""
import http.client
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from conftest import BIN, Server, wait_for
from test_triage import TRIAGE, call, send_scenario

ROLES = ["viewer", "analyst", "responder", "lead", "admin"]
MAY = {
    "read": {"viewer", "analyst", "responder", "lead", "admin"},
    "triage": {"analyst", "responder", "lead", "admin"},
    "escalate": {"responder", "lead", "admin"},
    "respond": {"responder", "lead", "admin"},
    "configure": {"lead", "admin"},
    "administer": {"admin"},
}
PASSWORD = "correct horse battery"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping client that does not follow redirects."""

    def __init__(self, server):
        self.base = server.http
        self.cookies = {}

    def request(self, method, path, form=None, headers=None):
        data = None if form is None else urllib.parse.urlencode(form, doseq=True).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            resp = opener.open(req, timeout=20)
            status, hdrs, body = resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, hdrs, body = e.code, e.headers, e.read().decode()
        for c in hdrs.get_all("Set-Cookie") or []:
            name, value = c.split(";", 1)[0].split("=", 1)
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return status, hdrs, body

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form, headers=None):
        return self.request("POST", path, form, headers)

    def login(self, user, password=PASSWORD):
        return self.post("/ui/login", {"user": user, "password": password, "next": "/ui/"})

    def csrf(self, tenant):
        status, _, body = self.get(f"/ui/{tenant}/")
        assert status == 200, (status, body[:300])
        return re.search(r'name="csrf" value="([0-9a-f]+)"', body).group(1)


def add_user(server, name, tenant, role):
    subprocess.run([BIN, "user", "add", "--data", str(server.data), name, "--tenant", tenant, "--role", role,
                    "--password-stdin"], input=PASSWORD + "\n", check=True, capture_output=True, text=True)


def pages(incident):
    """(kind, method, path, form) for every console route inside a tenant."""
    i = f"/ui/{{t}}/incidents/{incident}"
    return [
        ("read", "GET", "/ui/{t}/", None),
        ("read", "GET", "/ui/{t}/alerts", None),
        ("read", "GET", "/ui/{t}/incidents", None),
        ("read", "GET", i, None),
        ("read", "GET", "/ui/{t}/search?q=user.name%3Aalice", None),
        ("read", "POST", "/ui/{t}/search", {"action": "save", "name": "authz probe", "q": "user.name:alice"}),
        ("read", "GET", "/ui/{t}/events/0.1", None),
        ("read", "GET", "/ui/{t}/entities/user?value=alice", None),
        ("read", "GET", "/ui/{t}/rules", None),
        ("read", "POST", "/ui/{t}/rules", {"rule": "title: x", "events": "{}"}),
        ("read", "GET", "/ui/{t}/sources", None),
        ("configure", "GET", "/ui/{t}/settings", None),
        ("triage", "POST", "/ui/{t}/alerts", {"action": "assign", "assignee": "probe", "alert": "999999"}),
        ("triage", "POST", f"{i}/note", {"body": "authz probe"}),
        ("triage", "POST", f"{i}/task", {"title": "authz probe"}),
        ("triage", "POST", f"{i}/assign", {"version": "1", "assignee": "probe"}),
        ("triage", "POST", f"{i}/status", {"version": "1", "status": "investigating"}),
        ("escalate", "POST", f"{i}/escalate", {"version": "1", "to": "probe"}),
        ("read", "GET", "/ui/{t}/response", None),
        ("triage", "POST", f"{i}/pages", {}),
        ("respond", "POST", f"{i}/playbook", {"playbook": "authz-probe", "mode": "dry"}),
        ("respond", "POST", "/ui/{t}/runs/999999", {"action": "stop", "reason": "probe"}),
        ("configure", "POST", "/ui/{t}/settings/config", {"action": "route_remove", "route": "999999"}),
        ("administer", "POST", "/ui/{t}/settings", {"action": "grant", "user": "nobody", "role": "viewer"}),
        ("administer", "POST", "/ui/{t}/settings", {"action": "token_create", "scope": "read"}),
        ("administer", "POST", "/ui/{t}/settings", {"action": "tenant_rename", "display": "authz probe"}),
    ]


def test_every_page_every_role_every_tenant(tmp_path):
    # Many logins from one address here: the per-address limit is raised.
    config = "[store]\ncommit_interval_ms = 200\n[console]\nlogins_per_minute = 1000\n"
    server = Server(tmp_path / "data", config, rules=TRIAGE / "rules").start()
    try:
        send_scenario(server)
        incident = wait_for(lambda: call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"],
                            what="an incident")[0]["id"]
        for role in ROLES:
            add_user(server, f"d-{role}", "default", role)
            add_user(server, f"a-{role}", "acme", role)
        # An MSSP analyst: analyst for default, viewer for acme.
        add_user(server, "mssp", "default", "analyst")
        subprocess.run([BIN, "user", "grant", "--data", str(server.data), "mssp", "--tenant", "acme", "--role", "viewer"],
                       check=True)
        table = pages(incident)
        assert len(table) >= 20

        def check(user, tenant, role_here):
            b = Browser(server)
            assert b.login(user)[0] == 303
            own = "default" if user.startswith("d-") or user == "mssp" else "acme"
            token = b.csrf(own)
            for kind, method, path, form in table:
                url = path.format(t=tenant)
                if method == "GET":
                    status, _, body = b.get(url)
                else:
                    status, _, body = b.post(url, dict(form, csrf=token))
                allowed = role_here in MAY[kind]
                if allowed:
                    assert status not in (401, 403), (user, method, url, status, body[:300])
                else:
                    assert status == 403, (user, method, url, status, body[:300])
                assert "authz probe" not in body or allowed

        for role in ROLES:
            check(f"d-{role}", "default", role)
            # Another tenant's people reach nothing of this one.
            check(f"a-{role}", "default", None)
        check("mssp", "default", "analyst")
        check("mssp", "acme", "viewer")
        # The incident number belongs to default: in acme it is not found.
        b = Browser(server)
        b.login("a-admin")
        assert b.get(f"/ui/acme/incidents/{incident}")[0] == 404
        # Nothing acme's people tried landed on default's incident.
        log = call(server, "GET", f"/api/v1/incidents/{incident}/timeline", server.read_token)[1]
        actors = {e["actor"] for e in log if e["kind"] in ("action", "note")}
        assert not {a for a in actors if a.startswith("a-")}, actors
        # Without a session: pages lead to the login form, forms are refused.
        anon = Browser(server)
        for kind, method, path, form in table:
            url = path.format(t="default")
            status, hdrs, _ = anon.get(url) if method == "GET" else anon.post(url, form)
            if method == "GET":
                assert status == 303 and hdrs["Location"].startswith("/ui/login?next="), (url, status)
            else:
                assert status == 401, (url, status)
    finally:
        server.kill()


def test_sessions_csrf_lockout_and_revocation(tmp_path):
    config = "[console]\nlockout_failures = 3\nlockout_minutes = 10\nlogins_per_minute = 8\n"
    server = Server(tmp_path / "data", config, rules=TRIAGE / "rules").start()
    try:
        log = server.log.read_text()
        assert "console user `admin` created; password (shown only now)" in log
        add_user(server, "erin", "default", "admin")
        add_user(server, "frank", "default", "analyst")
        send_scenario(server)
        incident = wait_for(lambda: call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"],
                            what="an incident")[0]["id"]

        # Session fixation: a cookie planted before login is never the
        # session; the login issues a new one, and the planted one opens nothing.
        b = Browser(server)
        b.cookies["hinomi_session"] = "a" * 64
        status, hdrs, _ = b.login("erin")
        cookie = hdrs["Set-Cookie"]
        assert status == 303 and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
        assert b.cookies["hinomi_session"] != "a" * 64
        planted = Browser(server)
        planted.cookies["hinomi_session"] = "a" * 64
        assert planted.get("/ui/default/")[0] == 303
        # Each login is a new session.
        again = Browser(server)
        again.login("erin")
        assert again.cookies["hinomi_session"] != b.cookies["hinomi_session"]

        # CSRF: a form without the token, with another session's token, or
        # from another site is refused and changes nothing.
        path = f"/ui/default/incidents/{incident}/note"
        good = b.csrf("default")
        other = again.csrf("default")
        assert good != other
        for form, headers in [({}, {}), ({"csrf": ""}, {}), ({"csrf": other}, {}),
                              ({"csrf": good}, {"Origin": "http://evil.example"})]:
            status, _, body = b.post(path, dict(form, body="csrf probe"), headers)
            assert status == 403, (form, headers, status)
        status, _, _ = b.post(path, {"csrf": good, "body": "real note"},
                              {"Origin": server.http})
        assert status == 303
        notes = [e["data"] for e in call(server, "GET", f"/api/v1/incidents/{incident}/timeline", server.read_token)[1]
                 if e["kind"] == "note"]
        assert notes == ["real note"], notes

        # Logout ends the session on the server, not only in the browser.
        stolen = dict(b.cookies)
        assert b.post("/ui/logout", {"csrf": good})[0] == 303
        replay = Browser(server)
        replay.cookies = stolen
        assert replay.get("/ui/default/")[0] == 303
        assert replay.post(path, {"csrf": good, "body": "after logout"})[0] in (303, 401)
        assert len([e for e in call(server, "GET", f"/api/v1/incidents/{incident}/timeline", server.read_token)[1]
                    if e["kind"] == "note"]) == 1

        # Lockout: three wrong passwords lock frank; the right one is then
        # refused too, and the lock is audited. A locked name is answered
        # exactly as an unknown one: the answer tells no guesser which
        # names exist.
        f = Browser(server)
        for _ in range(2):
            assert f.login("frank", "wrong password!")[0] == 401
        unknown = Browser(server).login("nobody-by-this-name", "wrong password!")
        locked = [f.login("frank", "wrong password!"), f.login("frank")]
        for status, _, body in locked:
            assert (status, body.replace("frank", "nobody-by-this-name")) == (unknown[0], unknown[2])
        audit = subprocess.run([BIN, "audit", "list", "--data", str(server.data), "--all", "--limit", "1000",
                                "--format", "jsonl"],
                               check=True, capture_output=True, text=True).stdout
        assert '"login.locked"' in audit and '"login.failed"' in audit and '"logout"' in audit
        # A new password (by an admin) lifts the lock.
        subprocess.run([BIN, "user", "passwd", "--data", str(server.data), "frank"], input="another good password\n",
                       check=True, capture_output=True, text=True)
        assert Browser(server).login("frank", "another good password")[0] == 303

        # Rate limit per address: the ninth attempt within a minute is refused
        # before the password is even checked.
        r = Browser(server)
        statuses = [r.login("ghost", "nope")[0] for _ in range(3)]
        assert statuses[-1] == 429, statuses
        status, hdrs, _ = r.login("erin")
        assert status == 429 and hdrs["Retry-After"] == "60"

        # A token revoked on the settings page stops working at once.
        # (A new client: the address is still limited, but sessions are not.)
        token = server.token("read")
        assert call(server, "GET", "/api/v1/alerts", token)[0] == 200
        token_id = __import__("hashlib").sha256(token.encode()).hexdigest()[:12]
        again_token = again.csrf("default")
        status, _, body = again.post("/ui/default/settings", {"csrf": again_token, "action": "token_revoke",
                                                              "token": token_id})
        assert status == 303, body[:300]
        assert call(server, "GET", "/api/v1/alerts", token)[0] == 403
        # The first start's admin password is printed once only.
        server.kill()
        server.start()
        assert server.log.read_text().count("console user `admin` created") == 1
    finally:
        server.kill()


def test_tenant_administration(tmp_path):
    """An admin creates, renames, disables and enables tenants from the
    settings page; a disabled tenant's tokens are refused in every ingest
    dialect and its console is open to admins only, until it is on again."""
    server = Server(tmp_path / "data", "[console]\nlogins_per_minute = 1000\n").start()
    try:
        add_user(server, "ada", "default", "admin")
        add_user(server, "erin", "default", "analyst")
        ingest = server.token("ingest")
        # A tenant only an ingest token names (made with the CLI) is taken.
        server.token("ingest", tenant="initech")
        ada, erin = Browser(server), Browser(server)
        assert ada.login("ada")[0] == 303 and erin.login("erin")[0] == 303
        settings = lambda form: ada.post("/ui/default/settings", dict(form, csrf=ada.csrf("default")))

        status, _, _ = settings({"action": "tenant_create", "name": "globex", "display": "Globex <Corp>"})
        assert status == 303
        status, _, body = ada.get("/ui/globex/settings")
        assert status == 200, body[:300]
        # The display name shows in the switcher, escaped.
        assert "Globex &lt;Corp&gt;" in body and "<Corp>" not in body
        for name, why in [("globex", "exists already"), ("default", "exists already"), ("initech", "exists already"),
                          ("Big Co", "must be 1-64")]:
            status, _, body = settings({"action": "tenant_create", "name": name})
            assert status == 400 and why in body, (name, status, body[:300])
        # Only an admin may: an analyst is refused and nothing is made.
        status, _, _ = erin.post("/ui/default/settings", {"csrf": erin.csrf("default"), "action": "tenant_create",
                                                          "name": "rogue"})
        assert status == 403
        assert ada.get("/ui/rogue/")[0] == 403

        assert settings({"action": "tenant_rename", "display": "ACME Inc."})[0] == 303
        assert "ACME Inc." in erin.get("/ui/default/")[2]

        def ingest_statuses():
            bulk = call(server, "POST", "/_bulk", ingest, b'{"index":{"_index":"logs"}}\n{"message":"x"}\n', "application/x-ndjson")
            hec = call(server, "POST", "/services/collector/event", ingest, {"event": "x"})
            ndjson = call(server, "POST", "/api/v1/ingest", ingest, b'{"message":"x"}\n', "application/x-ndjson")
            return bulk, hec, ndjson

        assert [s for s, _ in ingest_statuses()] == [200, 200, 200]
        assert settings({"action": "tenant_disable"})[0] == 303
        bulk, hec, ndjson = ingest_statuses()
        assert (bulk[0], hec[0], ndjson[0]) == (403, 403, 403), (bulk, hec, ndjson)
        assert "disabled" in bulk[1]["error"]["reason"] and hec[1] == {"text": "Token disabled", "code": 1}
        # The analyst is shut out; the admin sees why and can switch it on.
        status, _, body = erin.get("/ui/default/")
        assert status == 403 and "disabled" in body
        status, _, body = ada.get("/ui/default/settings")
        assert status == 200 and "This tenant is disabled" in body and 'id="tenant-enable"' in body
        # Another tenant is untouched.
        assert ada.get("/ui/globex/")[0] == 200
        assert settings({"action": "tenant_enable"})[0] == 303
        assert [s for s, _ in ingest_statuses()] == [200, 200, 200]
        assert erin.get("/ui/default/")[0] == 200

        audit = subprocess.run([BIN, "audit", "list", "--data", str(server.data), "--all", "--limit", "1000",
                                "--format", "jsonl"], check=True, capture_output=True, text=True).stdout
        for action in ["tenant.create", "tenant.rename", "tenant.disable", "tenant.enable"]:
            assert f'"{action}"' in audit, action
    finally:
        server.kill()


def test_console_over_tls(tmp_path):
    import ssl

    certs = tmp_path / "certs"
    subprocess.run([BIN, "tls", "selfsigned", "--out", str(certs)], check=True, capture_output=True)
    config = (
        '#full\n[http]\nlisten = ["127.0.0.1:0"]\ntls = true\n'
        f'[tls]\ncert = "{certs / "cert.pem"}"\nkey = "{certs / "key.pem"}"\n'
        '[[syslog]]\nprotocol = "udp"\nlisten = "127.0.0.1:0"\n'
    )
    server = Server(tmp_path / "data", config).start()
    try:
        addr = server.addr["https"]
        assert "http" not in server.addr
        add_user(server, "erin", "default", "analyst")
        context = ssl.create_default_context(cafile=str(certs / "cert.pem"))
        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
        with opener.open(f"https://{addr}/ui/login", timeout=10) as resp:
            assert resp.status == 200 and "password" in resp.read().decode()
        form = urllib.parse.urlencode({"user": "erin", "password": PASSWORD, "next": "/ui/"}).encode()
        try:
            opener.open(urllib.request.Request(f"https://{addr}/ui/login", data=form), timeout=10)
            raise AssertionError("a login answers with a redirect")
        except urllib.error.HTTPError as e:
            assert e.code == 303
            cookie = e.headers["Set-Cookie"]
        # Behind TLS the session cookie is never sent in the clear.
        assert "Secure" in cookie and "HttpOnly" in cookie
        # The API and ingest routes share the port, over TLS only.
        req = urllib.request.Request(f"https://{addr}/api/v1/alerts")
        req.add_header("Authorization", f"Bearer {server.read_token}")
        with opener.open(req, timeout=10) as resp:
            assert resp.status == 200
        try:
            urllib.request.urlopen(f"http://{addr}/ui/login", timeout=5)
            raise AssertionError("plain HTTP must not be answered")
        except urllib.error.HTTPError as e:
            raise AssertionError(f"plain HTTP was answered: {e.code}")
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            pass  # a TLS alert or a closed connection, never a page
    finally:
        server.kill()


def test_demo_fills_the_console_at_once(tmp_path):
    server = Server(tmp_path / "data", args=["--demo"]).start()
    try:
        password = re.search(r"password \(shown only now\): (\S+)", server.log.read_text()).group(1)
        b = Browser(server)
        assert b.login("admin", password)[0] == 303
        # The chain is one incident: brute force, logon, privileges, two
        # PsExec services, the upload; the database server made it critical.
        def chain():
            status, _, body = b.get("/ui/demo/incidents")
            ids = re.findall(r'href="/ui/demo/incidents/(\d+)"', body)
            for i in ids:
                page = b.get(f"/ui/demo/incidents/{i}")[2]
                if "Large Upload Through The Proxy" in page and "Failed Logon From The Internet" in page:
                    return page
        page = wait_for(chain, 60, "the attack chain as one incident")
        for title in ["Network Logon From Outside", "Special Privileges Assigned To A User",
                      "Remote Service Installed Over An Admin Share"]:
            assert title in page
        assert "sev-critical" in page and "srv-db-01" in page
        # The dashboard has a day of alerts and open incidents.
        overview = b.get("/ui/demo/")[2]
        assert overview.count('<rect x=') >= 5, "alerts over the last 24 hours"
        assert re.search(r"<span>Open incidents</span><b>([1-9]\d*)</b>", overview)
        # Searchable at once, and filled only once per data directory.
        wait_for(lambda: b.get("/ui/demo/search?q=alice")[2].count("<tr>") > 10, 30, "alice's events in search")
        server.kill()
        server.start()
        assert "demo tenant `demo` is already filled" in server.log.read_text()
    finally:
        server.kill()
