"""rlm-gym as a verl BaseInteraction (verl/interactions/base.py): verl's multi-turn agent loop calls
start_interaction(instance_id, **interaction_kwargs) once, then generate_response(instance_id, messages) after every
model turn (the returned content becomes the next user message), then finalize_interaction.

The prompt comes from verl's dataset: `npm run export -- runs/x --format verl` writes it, and `extra_info` carries the
task and seed — pass them as interaction_kwargs ({"task": ..., "seed": ..., "options": ...}); the session started here
then holds the same task (same seed ⇒ same prompt, checked: `prompt_matches` in the extra data).

verl config (interaction_config.yaml):
    interaction:
      - name: rlm_gym
        class_name: verl_interaction.RLMGymInteraction
        config: {base_url: "http://127.0.0.1:8100"}
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Dict, List, Optional, Tuple
from uuid import uuid4

from verl.interactions.base import BaseInteraction

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rlm_gym_client import RLMGymClient, RLMGymSession  # noqa: E402


class RLMGymInteraction(BaseInteraction):
    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        self.client = RLMGymClient(config.get("base_url", "http://127.0.0.1:8100"), config.get("token"))
        self._sessions: Dict[str, RLMGymSession] = {}
        self._scores: Dict[str, float] = {}

    async def start_interaction(self, instance_id: Optional[str] = None, **kwargs: Any) -> str:
        instance_id = instance_id or str(uuid4())
        s = RLMGymSession(self.client, task=kwargs.get("task"), seed=kwargs.get("seed"), options=kwargs.get("options"), budgets=kwargs.get("budgets"), model=kwargs.get("model"))
        await asyncio.to_thread(s.reset)
        self._sessions[instance_id] = s
        self._scores[instance_id] = 0.0
        return instance_id

    async def generate_response(self, instance_id: str, messages: List[Dict[str, Any]], **kwargs: Any) -> Tuple[bool, str, float, Dict[str, Any]]:
        s = self._sessions[instance_id]
        reply = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "assistant"), "")
        prompt_matches = [dict(role=m["role"], content=m["content"]) for m in messages[:2]] == s.messages[:2]
        observation, reward, terminated, truncated, info = await asyncio.to_thread(s.step, reply)
        self._scores[instance_id] = reward
        content = "\n".join(m["content"] for m in observation)
        return terminated or truncated, content, reward, {"rlm_gym": info, "prompt_matches": prompt_matches}

    async def calculate_score(self, instance_id: Optional[str] = None, **kwargs: Any) -> float:
        return self._scores.get(instance_id or "", 0.0)

    async def finalize_interaction(self, instance_id: Optional[str] = None, **kwargs: Any) -> None:
        ids = [instance_id] if instance_id else list(self._sessions)
        for i in ids:
            s = self._sessions.pop(i, None)
            self._scores.pop(i, None)
            if s is not None:
                await asyncio.to_thread(s.close)
