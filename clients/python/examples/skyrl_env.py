"""rlm-gym as a SkyRL-gym BaseTextEnv (over the HTTP API): init(prompt) starts a server session and returns its
system + user messages (the dataset's prompt is replaced by the env's own); step(reply) plays the reply.

    import skyrl_gym
    skyrl_gym.register(id="rlm-gym", entry_point="skyrl_env:RLMGymTextEnv")
    env = skyrl_gym.make("rlm-gym", env_config={"base_url": "http://127.0.0.1:8100"}, extras={"task": "sniah", "seed": 1})
    prompt, metadata = env.init([])
    out = env.step(reply)             # {observations, reward, done, metadata}
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rlm_gym_client import RLMGymClient, RLMGymSession  # noqa: E402


class RLMGymTextEnv(BaseTextEnv):
    def __init__(self, env_config: Any = None, extras: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        cfg = dict(env_config or {})
        extras = dict(extras or {})
        client = RLMGymClient(cfg.get("base_url", "http://127.0.0.1:8100"), cfg.get("token"))
        self.session = RLMGymSession(
            client,
            task=extras.get("task"),
            seed=extras.get("seed"),
            options=extras.get("options"),
            budgets=extras.get("budgets"),
            model=cfg.get("model"),
        )
        self.max_turns = int((extras.get("budgets") or {}).get("max_turns", cfg.get("max_turns", 30)))
        self.last_info: Dict[str, Any] = {}

    def init(self, prompt: List[Dict[str, str]]) -> Tuple[List[Dict[str, str]], Dict[str, Any]]:
        observation, info = self.session.reset()
        self.turns = 0
        self.max_turns = int(info.get("budgets", {}).get("max_turns", self.max_turns))
        self.last_info = info
        return observation, {"rlm_gym": info}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        self.turns += 1
        observation, reward, terminated, truncated, info = self.session.step(action)
        self.last_info = info
        return BaseTextEnvStepOutput(observations=observation, reward=reward, done=terminated or truncated, metadata={"rlm_gym": info})

    def get_metrics(self) -> Dict[str, Any]:
        i = self.last_info
        return {"turns": self.turns, "sub_calls": i.get("sub_calls", 0), "correct": float(bool(i.get("correct", False)))}

    def close(self) -> None:
        self.session.close()
