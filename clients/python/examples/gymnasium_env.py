"""rlm-gym as a Gymnasium Env (over the HTTP API). The action is the model's whole reply (str); the observation is the
list of chat messages to append. Registered as "rlm-gym/RLM-v0":

    import gymnasium, gymnasium_env
    env = gymnasium.make("rlm-gym/RLM-v0", base_url="http://127.0.0.1:8100", task="sniah")
    obs, info = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(reply)
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import gymnasium as gym

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rlm_gym_client import RLMGymClient, RLMGymSession  # noqa: E402

Messages = List[Dict[str, str]]


class ChatMessages(gym.Space):
    """A list of {"role", "content"} chat messages (no fixed size: a Gymnasium custom space)."""

    def __init__(self) -> None:
        super().__init__(shape=None, dtype=None)

    def contains(self, x: Any) -> bool:
        return isinstance(x, list) and all(
            isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str) for m in x
        )

    def sample(self, mask: Any = None, probability: Any = None) -> Messages:
        return [{"role": "user", "content": ""}]

    @property
    def is_np_flattenable(self) -> bool:
        return False


class ReplyText(gym.Space):
    """The model's whole reply: any string; its ```repl blocks run."""

    def __init__(self) -> None:
        super().__init__(shape=None, dtype=None)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        return "```repl\nprint(context.length)\n```"

    @property
    def is_np_flattenable(self) -> bool:
        return False


class RLMGymEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8100",
        token: Optional[str] = None,
        task: Optional[str] = None,
        options: Optional[Dict[str, Any]] = None,
        budgets: Optional[Dict[str, Any]] = None,
        model: Optional[str] = None,
    ) -> None:
        self.observation_space = ChatMessages()
        self.action_space = ReplyText()
        self._session = RLMGymSession(RLMGymClient(base_url, token), task=task, options=options, budgets=budgets, model=model)

    @property
    def messages(self) -> Messages:
        """The whole conversation so far: the policy's next prompt."""
        return self._session.messages

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None) -> Tuple[Messages, Dict[str, Any]]:
        super().reset(seed=seed)
        if options:  # per-episode task generator options, e.g. {"contextTokens": 20000}
            self._session.options = options
        # Gymnasium semantics: seed=None draws a seed; the env's own RNG makes it reproducible after a seeded reset.
        episode_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        return self._session.reset(seed=episode_seed)

    def step(self, action: str) -> Tuple[Messages, float, bool, bool, Dict[str, Any]]:
        if self._session.done:
            raise RuntimeError("step() after the episode ended; call reset()")
        return self._session.step(action)

    def close(self) -> None:
        self._session.close()


gym.register(id="rlm-gym/RLM-v0", entry_point=RLMGymEnv, disable_env_checker=True)
