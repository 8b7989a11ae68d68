"""Stdlib-only Python client for the rlm-gym env server (`npm run serve`).

Python >= 3.9, no dependencies (urllib + json). One episode is one server session:

    from rlm_gym_client import RLMGymClient

    client = RLMGymClient("http://127.0.0.1:8100")          # token=... when the server has --token-env
    with client.session(task="sniah", seed=1) as env:
        observation, info = env.reset()                      # [system, user] chat messages
        while True:
            reply = my_policy(env.messages)                  # the whole conversation so far
            observation, reward, terminated, truncated, info = env.step(reply)
            if terminated or truncated:
                break

`observation` is the list of chat messages to append (reset: system + user; step: one user message with the REPL
output, none on the terminal step). Errors of the server arrive as RLMGymError(status, code, message).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["RLMGymClient", "RLMGymSession", "RLMGymError", "basic_auth_url"]
__version__ = "0.1.0"

Message = Dict[str, str]
StepTuple = Tuple[List[Message], float, bool, bool, Dict[str, Any]]


class RLMGymError(Exception):
    """An error answered by the server: HTTP status, the stable error code, and its message.

    Codes: bad_request (400), unauthorized (401), not_found (404), step_in_flight (409), session_finished and
    session_expired (410), body_too_large (413), too_many_sessions (429), shutting_down (503); status 0 with code
    'connection' when the server cannot be reached.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class RLMGymClient:
    """The server's HTTP JSON API. Thread-safe (one urllib request per call, no shared connection state)."""

    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- raw routes ---------------------------------------------------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        return self._request("GET", "/health")

    def metadata(self) -> Dict[str, Any]:
        return self._request("GET", "/metadata")

    def schema(self) -> Dict[str, Any]:
        return self._request("GET", "/schema")

    def stats(self) -> Dict[str, Any]:
        return self._request("GET", "/v1/stats")

    def create_session(
        self,
        task: Optional[str] = None,
        seed: Optional[int] = None,
        options: Optional[Dict[str, Any]] = None,
        budgets: Optional[Dict[str, Any]] = None,
        model: Optional[str] = None,
    ) -> Dict[str, Any]:
        """POST /v1/sessions -> {session_id, observation, info}."""
        body: Dict[str, Any] = {}
        for key, value in (("task", task), ("seed", seed), ("options", options), ("budgets", budgets), ("model", model)):
            if value is not None:
                body[key] = value
        return self._request("POST", "/v1/sessions", body)

    def step_session(self, session_id: str, reply: str, usage: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """POST /v1/sessions/{id}/step -> {observation, reward, terminated, truncated, info}."""
        body: Dict[str, Any] = {"reply": reply}
        if usage is not None:
            body["usage"] = usage
        return self._request("POST", f"/v1/sessions/{_quote(session_id)}/step", body)

    def get_session(self, session_id: str) -> Dict[str, Any]:
        return self._request("GET", f"/v1/sessions/{_quote(session_id)}")

    def delete_session(self, session_id: str) -> Dict[str, Any]:
        return self._request("DELETE", f"/v1/sessions/{_quote(session_id)}")

    # -- the Gymnasium-style view -------------------------------------------------------------------------------------
    def session(
        self,
        task: Optional[str] = None,
        seed: Optional[int] = None,
        options: Optional[Dict[str, Any]] = None,
        budgets: Optional[Dict[str, Any]] = None,
        model: Optional[str] = None,
    ) -> "RLMGymSession":
        """An episode handle (a context manager): reset() starts it on the server, close() ends it."""
        return RLMGymSession(self, task=task, seed=seed, options=options, budgets=budgets, model=model)

    # -- transport ------------------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return _decode(res.read())
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                err = json.loads(payload.decode("utf-8")).get("error", {})
                raise RLMGymError(e.code, str(err.get("code", "http_error")), str(err.get("message", e.reason))) from None
            except (ValueError, AttributeError):
                raise RLMGymError(e.code, "http_error", payload.decode("utf-8", "replace")[:500] or str(e.reason)) from None
        except urllib.error.URLError as e:
            raise RLMGymError(0, "connection", f"cannot reach {self.base_url}: {e.reason}") from None


class RLMGymSession:
    """One server session, Gymnasium-style.

    reset() -> (observation, info); step(reply) -> (observation, reward, terminated, truncated, info). `messages` is the
    whole conversation (the prompt for the next reply). Calling reset() again ends the previous episode and starts a new
    one with the same arguments (pass seed= to change it).
    """

    def __init__(
        self,
        client: RLMGymClient,
        task: Optional[str] = None,
        seed: Optional[int] = None,
        options: Optional[Dict[str, Any]] = None,
        budgets: Optional[Dict[str, Any]] = None,
        model: Optional[str] = None,
    ) -> None:
        self.client = client
        self.task = task
        self.seed = seed
        self.options = options
        self.budgets = budgets
        self.model = model
        self.session_id: Optional[str] = None
        self.messages: List[Message] = []
        self.done = False
        self.info: Dict[str, Any] = {}

    def reset(self, seed: Optional[int] = None) -> Tuple[List[Message], Dict[str, Any]]:
        self.close()
        if seed is not None:
            self.seed = seed
        r = self.client.create_session(task=self.task, seed=self.seed, options=self.options, budgets=self.budgets, model=self.model)
        self.session_id = r["session_id"]
        self.messages = list(r["observation"])
        self.done = False
        self.info = r["info"]
        return list(r["observation"]), r["info"]

    def step(self, reply: str, usage: Optional[Dict[str, Any]] = None) -> StepTuple:
        if self.session_id is None:
            raise RuntimeError("step() before reset()")
        r = self.client.step_session(self.session_id, reply, usage)
        self.messages.append({"role": "assistant", "content": reply})
        self.messages.extend(r["observation"])
        self.done = bool(r["terminated"] or r["truncated"])
        self.info = r["info"]
        return list(r["observation"]), float(r["reward"]), bool(r["terminated"]), bool(r["truncated"]), r["info"]

    def close(self) -> None:
        """Ends the session on the server (frees its sandbox). Idempotent; a session already gone is fine."""
        sid, self.session_id = self.session_id, None
        if sid is None:
            return
        try:
            self.client.delete_session(sid)
        except RLMGymError as e:
            if e.code not in ("not_found", "session_expired", "connection"):
                raise

    def __enter__(self) -> "RLMGymSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _decode(raw: bytes) -> Dict[str, Any]:
    return json.loads(raw.decode("utf-8")) if raw else {}


def _quote(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def basic_auth_url(base_url: str, token: str) -> str:
    """`http://host:port` -> `http://rlm:<token>@host:port`: how OpenEnv's client (which sends no headers of its own)
    presents a token — its websockets library turns the URL's credentials into Basic auth, which the server accepts."""
    parts = urllib.parse.urlsplit(base_url)
    netloc = f"rlm:{urllib.parse.quote(token, safe='')}@{parts.netloc}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

