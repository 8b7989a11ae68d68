"""OpenEnv's own client on rlm-gym (what TRL and SkyRL's OpenEnv integrations drive): a typed EnvClient over the
server's /ws. OpenEnv's unmodified GenericEnvClient works too, with plain dicts:

    from openenv import GenericEnvClient
    with GenericEnvClient(base_url="http://127.0.0.1:8100").sync() as env:
        r = env.reset(task="sniah", seed=1)                   # r.observation = {messages, terminated, truncated, info}
        r = env.step({"reply": "```repl\\nprint(context.length)\\n```"})

A server with --token-env: base_url=rlm_gym_client.basic_auth_url(url, token) (OpenEnv's client sends no headers of
its own; its websockets library turns the URL's credentials into Basic auth, which the server accepts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient


@dataclass
class RLMAction:
    """The model's whole reply; `usage` optionally carries prompt/completion tokens and token ids as sampled."""

    reply: str
    usage: Optional[Dict[str, Any]] = None


@dataclass
class RLMObservation:
    messages: List[Dict[str, str]] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False
    info: Dict[str, Any] = field(default_factory=dict)


class RLMGymEnv(EnvClient[RLMAction, RLMObservation, Dict[str, Any]]):
    """rlm-gym over OpenEnv's WebSocket protocol: reset(task=, seed=, options=, budgets=) / step(RLMAction) / state()."""

    def _step_payload(self, action: RLMAction) -> Dict[str, Any]:
        payload: Dict[str, Any] = {"reply": action.reply}
        if action.usage:
            payload["usage"] = action.usage
        return payload

    def _parse_result(self, payload: Dict[str, Any]) -> StepResult[RLMObservation]:
        obs = payload.get("observation", {})
        return StepResult(
            observation=RLMObservation(
                messages=list(obs.get("messages", [])),
                terminated=bool(obs.get("terminated", False)),
                truncated=bool(obs.get("truncated", False)),
                info=dict(obs.get("info", {})),
            ),
            reward=payload.get("reward"),
            done=bool(payload.get("done", False)),
        )

    def _parse_state(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        return payload
