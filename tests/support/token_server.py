"""A real OAuth2 token endpoint for tests: http.server in a thread, client-credentials grant, counted requests."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class TokenServer:
    """Issues `tok-<n>-<suffix>` Bearer tokens to one client; `hold()` makes answers wait until `release()`."""

    def __init__(self, client_id: str, secret: str, expires_in: float | None = 3600, suffix: str = "x") -> None:
        self.client_id = client_id
        self.secret = secret
        self.expires_in = expires_in
        self.suffix = suffix
        self.requests = 0
        self.forms: list[dict[str, list[str]]] = []
        self.issued: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.arrived = threading.Event()  # set when a request is in (even if held)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                with server._lock:
                    server.requests += 1
                    server.forms.append(form)
                server.arrived.set()
                server.gate.wait(30)
                status, body = server.answer(self.headers.get("Authorization", ""), form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/oauth/token"

    def answer(self, authorization: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            token = f"tok-{len(self.issued) + 1}-{self.suffix}"
            self.issued.append(token)
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return 200, body

    def hold(self) -> None:
        self.arrived.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def __enter__(self) -> TokenServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(10)
