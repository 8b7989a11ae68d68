"""rlm-gym as a verifiers environment. verifiers 0.4.0 replaced `MultiTurnEnv` (env_response per turn) with the v1
stack, where an env's `run(task, agents)` plays the user of an agent's interaction turn by turn — the same role: here
every model turn is stepped on the env server and the REPL output comes back as the next user turn; the episode's
reward is recorded on the trace as `rlm_gym_reward`. Modelled on verifiers' own OpenEnv env
(verifiers/v1/tasksets/openenv/taskset.py).

    taskset = RLMGymTaskset(RLMGymTasksetConfig(base_url="http://127.0.0.1:8100", family="sniah", seeds=[1, 2, 3]))
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from typing import Any, Optional

import verifiers.v1 as vf
from pydantic import Field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rlm_gym_client import RLMGymClient, RLMGymSession  # noqa: E402


class RLMGymData(vf.TaskData):
    base_url: str
    token_env: Optional[str] = None
    family: Optional[str] = None
    seed: Optional[int] = None
    options: dict[str, Any] = Field(default_factory=dict)
    budgets: dict[str, Any] = Field(default_factory=dict)


class RLMGymTasksetConfig(vf.TasksetConfig):
    base_url: str = "http://127.0.0.1:8100"
    """The env server (`npm run serve`)."""
    token_env: Optional[str] = None
    """Environment variable holding the server's token (--token-env)."""
    family: Optional[str] = None
    """Task family; default: the server's default."""
    seeds: list[int] = Field(default_factory=lambda: [0])
    """One task per seed."""
    options: dict[str, Any] = Field(default_factory=dict)
    budgets: dict[str, Any] = Field(default_factory=dict)


class RLMGymTask(vf.Task[RLMGymData]):
    pass


class RLMGymEnvConfig(vf.EnvConfig):
    player: vf.AgentConfig = vf.AgentConfig()


class RLMGymEnv(vf.Env[RLMGymEnvConfig]):
    async def run(self, task: RLMGymTask, agents: Any) -> None:
        d = task.data
        token = os.environ.get(d.token_env) if d.token_env else None
        session = RLMGymSession(RLMGymClient(d.base_url, token), task=d.family, seed=d.seed, options=d.options or None, budgets=d.budgets or None)
        observation, info = await asyncio.to_thread(session.reset)
        reward = 0.0
        try:
            # The task has no prompt of its own (prompt=None): the env opens with rlm-gym's system + task messages.
            async with agents.player.interaction(task) as interaction:
                segment = await interaction.turn(observation)
                while not segment.terminated:
                    _, reward, terminated, truncated, info = await asyncio.to_thread(session.step, segment.last_reply)
                    if terminated or truncated:
                        break
                    segment = await interaction.turn(session.messages[-1]["content"])
            interaction.trace.record_reward("rlm_gym_reward", reward)
        finally:
            await asyncio.to_thread(session.close)


class RLMGymTaskset(vf.Taskset[RLMGymTask, RLMGymTasksetConfig]):
    def load(self) -> Iterator[RLMGymTask]:
        c = self.config
        for seed in c.seeds:
            yield RLMGymTask(
                RLMGymData(
                    name=f"rlm-gym/{c.family or 'default'}-{seed}",
                    prompt=None,
                    base_url=c.base_url,
                    token_env=c.token_env,
                    family=c.family,
                    seed=seed,
                    options=c.options,
                    budgets=c.budgets,
                ),
                c.task,
            )
