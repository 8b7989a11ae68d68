"""One full episode through each trainer adapter in clients/python/examples, against the REAL libraries of the pinned
venv (requirements-test.txt) and a live env server; the policy is rlm-gym's reference policy over its
OpenAI-compatible HTTP API (RLM_GYM_POLICY_URL), as a trainer's rollout engine would be.

    RLM_GYM_URL=… RLM_GYM_POLICY_URL=… RLM_GYM_TOKEN_URL=… RLM_GYM_TOKEN=… \
        .venv/bin/python -m unittest discover -s clients/python/tests -p 'test_adapters.py' -v

verl is not installable here in a sane way (its package imports torch at import time): when `verl` is absent, the
verl adapter runs against a stand-in `verl.interactions.base.BaseInteraction` with the documented interface shape
(volcengine/verl verl/interactions/base.py), and the test says so. verifiers 0.4.0 has no MultiTurnEnv any more: its
adapter is a v1 `vf.Env` (+ `vf.Taskset`); its episode runs with a scripted agent interaction (the harness + model part
of verifiers needs uv and an interception server), everything else is verifiers' own types.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
import types
import unittest
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "examples")
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, EXAMPLES)

from openai_policy import chat  # noqa: E402
from rlm_gym_client import RLMGymClient, basic_auth_url  # noqa: E402

URL = os.environ.get("RLM_GYM_URL", "")
POLICY = os.environ.get("RLM_GYM_POLICY_URL", "")
TOKEN_URL = os.environ.get("RLM_GYM_TOKEN_URL", "")
TOKEN = os.environ.get("RLM_GYM_TOKEN", "")
SMALL = {"contextTokens": 2000}
MAX_TURNS = 12


def policy(messages: List[Dict[str, str]]) -> str:
    return chat(messages, base_url=POLICY)[0]


@unittest.skipUnless(URL and POLICY, "set RLM_GYM_URL and RLM_GYM_POLICY_URL")
class OpenEnvTest(unittest.TestCase):
    def play(self, env: Any, make_action: Any, **reset: Any) -> Any:
        r = env.reset(**reset)
        messages = list(self.obs(r)["messages"])
        self.assertEqual([m["role"] for m in messages], ["system", "user"])
        self.assertFalse(r.done)
        for _ in range(MAX_TURNS):
            reply = policy(messages)
            messages.append({"role": "assistant", "content": reply})
            r = env.step(make_action(reply))
            messages.extend(self.obs(r)["messages"])
            if r.done:
                return r
        self.fail("the episode did not end")

    @staticmethod
    def obs(r: Any) -> Dict[str, Any]:
        o = r.observation
        return o if isinstance(o, dict) else vars(o)

    def test_generic_env_client_unmodified(self) -> None:
        from openenv import GenericEnvClient

        with GenericEnvClient(base_url=URL).sync() as env:
            r = self.play(env, lambda reply: {"reply": reply}, task="sniah", seed=21, options=SMALL)
            self.assertEqual(r.reward, 1.0)
            self.assertTrue(r.observation["terminated"])
            self.assertEqual(r.observation["info"]["final_answer"], r.observation["info"]["gold_answer"])
            state = env.state()
            self.assertEqual(state["status"], "finished")
            self.assertGreaterEqual(state["step_count"], 1)
            with self.assertRaises(RuntimeError) as err:  # OpenEnv's client raises the server's error message
                env.step({"reply": "again"})
            self.assertIn("EXECUTION_ERROR", str(err.exception))

    def test_typed_env_client(self) -> None:
        from openenv_client import RLMAction, RLMGymEnv

        with RLMGymEnv(base_url=URL).sync() as env:
            r = self.play(env, lambda reply: RLMAction(reply=reply, usage={"completion_tokens": 10}), task="oolong", seed=22, options=SMALL)
            self.assertTrue(r.observation.terminated)
            self.assertEqual(r.reward, r.observation.info["score"])

    @unittest.skipUnless(TOKEN_URL and TOKEN, "set RLM_GYM_TOKEN_URL and RLM_GYM_TOKEN")
    def test_token_through_url_credentials(self) -> None:
        from openenv import GenericEnvClient

        with self.assertRaises(ConnectionError):
            with GenericEnvClient(base_url=TOKEN_URL).sync() as env:
                env.reset(task="sniah")
        with GenericEnvClient(base_url=basic_auth_url(TOKEN_URL, TOKEN)).sync() as env:
            r = env.reset(task="sniah", seed=1, options=SMALL)
            self.assertEqual(len(r.observation["messages"]), 2)


@unittest.skipUnless(URL and POLICY, "set RLM_GYM_URL and RLM_GYM_POLICY_URL")
class GymnasiumTest(unittest.TestCase):
    def test_gymnasium_make_and_episode(self) -> None:
        import gymnasium

        import gymnasium_env  # registers rlm-gym/RLM-v0

        env = gymnasium.make("rlm-gym/RLM-v0", base_url=URL, task="sniah", options=SMALL)
        try:
            obs, info = env.reset(seed=31)
            self.assertTrue(env.observation_space.contains(obs))
            again, _ = env.reset(seed=31)
            self.assertEqual(obs, again)  # same seed, same observation
            for _ in range(MAX_TURNS):
                reply = policy(env.unwrapped.messages)
                self.assertTrue(env.action_space.contains(reply))
                obs, reward, terminated, truncated, info = env.step(reply)
                if terminated or truncated:
                    break
            self.assertTrue(terminated)
            self.assertEqual(reward, 1.0)
            with self.assertRaises(RuntimeError):
                env.step("more")
        finally:
            env.close()
        self.assertIsInstance(gymnasium_env.RLMGymEnv(base_url=URL), gymnasium.Env)


@unittest.skipUnless(URL and POLICY, "set RLM_GYM_URL and RLM_GYM_POLICY_URL")
class SkyRLTest(unittest.TestCase):
    def test_skyrl_make_init_step(self) -> None:
        import skyrl_gym
        from skyrl_gym.envs.base_text_env import BaseTextEnv

        if "rlm-gym-test" not in skyrl_gym.envs.registration.registry:
            skyrl_gym.register(id="rlm-gym-test", entry_point="skyrl_env:RLMGymTextEnv")
        env = skyrl_gym.make("rlm-gym-test", env_config={"base_url": URL}, extras={"task": "sniah", "seed": 41, "options": SMALL})
        self.assertIsInstance(env, BaseTextEnv)
        try:
            prompt, metadata = env.init([{"role": "user", "content": "replaced by the env's own prompt"}])
            self.assertEqual([m["role"] for m in prompt], ["system", "user"])
            messages = list(prompt)
            for _ in range(MAX_TURNS):
                reply = policy(messages)
                messages.append({"role": "assistant", "content": reply})
                out = env.step(reply)
                self.assertEqual(set(out.keys()) >= {"observations", "reward", "done", "metadata"}, True)
                messages.extend(out["observations"])
                if out["done"]:
                    break
            self.assertTrue(out["done"])
            self.assertEqual(out["reward"], 1.0)
            self.assertEqual(env.get_metrics()["correct"], 1.0)
        finally:
            env.close()


def _verl_base_interaction() -> str:
    """Imports verl's BaseInteraction; without verl, installs a stand-in of its documented shape. Returns which."""
    try:
        importlib.import_module("verl.interactions.base")
        return "verl"
    except ImportError:
        pass

    class BaseInteraction:  # volcengine/verl verl/interactions/base.py: the interface verl's agent loop calls
        def __init__(self, config: Dict[str, Any]):
            self.config = config
            self.name = config.get("name", "interaction_agent")

        async def start_interaction(self, instance_id: Any = None, **kwargs: Any) -> str:
            raise NotImplementedError

        async def generate_response(self, instance_id: str, messages: List[Dict[str, Any]], **kwargs: Any) -> Any:
            raise NotImplementedError

        async def calculate_score(self) -> float:
            return 0.0

        async def finalize_interaction(self) -> None:
            return None

    for name in ("verl", "verl.interactions"):
        sys.modules.setdefault(name, types.ModuleType(name))
    base = types.ModuleType("verl.interactions.base")
    base.BaseInteraction = BaseInteraction  # type: ignore[attr-defined]
    sys.modules["verl.interactions.base"] = base
    return "stand-in (verl not installed: the interface shape of verl/interactions/base.py)"


@unittest.skipUnless(URL and POLICY, "set RLM_GYM_URL and RLM_GYM_POLICY_URL")
class VerlTest(unittest.TestCase):
    def test_interaction_drives_an_episode(self) -> None:
        which = _verl_base_interaction()
        print(f"\n  verl BaseInteraction: {which}", file=sys.stderr)
        from verl.interactions.base import BaseInteraction
        from verl_interaction import RLMGymInteraction

        async def run() -> None:
            inter = RLMGymInteraction({"name": "rlm_gym", "base_url": URL})
            self.assertIsInstance(inter, BaseInteraction)
            # verl's dataset prompt (an export of the same task): same seed ⇒ same messages.
            with RLMGymClient(URL).session(task="sniah", seed=51, options=SMALL) as s:
                prompt, _ = s.reset()
            iid = await inter.start_interaction(None, task="sniah", seed=51, options=SMALL)
            messages = list(prompt)
            for _ in range(MAX_TURNS):
                messages.append({"role": "assistant", "content": policy(messages)})
                done, content, score, extra = await inter.generate_response(iid, messages)
                self.assertTrue(extra["prompt_matches"])
                if done:
                    break
                messages.append({"role": "user", "content": content})
            self.assertTrue(done)
            self.assertEqual(score, 1.0)
            self.assertEqual(await inter.calculate_score(iid), 1.0)
            await inter.finalize_interaction(iid)
            self.assertEqual(inter._sessions, {})

        asyncio.run(run())


@unittest.skipUnless(URL and POLICY, "set RLM_GYM_URL and RLM_GYM_POLICY_URL")
class VerifiersTest(unittest.TestCase):
    def test_v1_env_run_with_a_scripted_agent(self) -> None:
        import verifiers.v1 as vf
        from verifiers.v1.agent import Segment
        from verifiers.v1.types import AssistantMessage

        from verifiers_env import RLMGymEnv, RLMGymTaskset, RLMGymTasksetConfig

        tasks = list(RLMGymTaskset(RLMGymTasksetConfig(base_url=URL, family="sniah", seeds=[61], options=SMALL)))
        self.assertIsInstance(tasks[0], vf.Task)
        rewards: Dict[str, float] = {}

        class Trace:
            def record_reward(self, name: str, value: float) -> None:
                rewards[name] = value

        class Interaction:  # the agent: the reference policy answering each user turn
            def __init__(self) -> None:
                self.messages: List[Dict[str, Any]] = []
                self.trace = Trace()

            async def turn(self, message: Any) -> Segment:
                self.messages.extend([{"role": "user", "content": message}] if isinstance(message, str) else message)
                reply = await asyncio.to_thread(policy, self.messages)
                self.messages.append({"role": "assistant", "content": reply})
                return Segment(messages=[AssistantMessage(content=reply)])

        class Player:
            @contextlib.asynccontextmanager
            async def interaction(self, task: Any) -> Any:
                yield Interaction()

        env = object.__new__(RLMGymEnv)  # vf.Env.__init__ resolves an installed taskset package by id
        asyncio.run(env.run(tasks[0], types.SimpleNamespace(player=Player())))
        self.assertEqual(rewards, {"rlm_gym_reward": 1.0})


if __name__ == "__main__":
    unittest.main()
