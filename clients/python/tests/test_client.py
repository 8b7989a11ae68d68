"""The stdlib client against a live env server (started by test/python-client.test.ts, or by hand):

    RLM_GYM_URL=http://127.0.0.1:8100 RLM_GYM_POLICY_URL=http://127.0.0.1:8000/v1 \
        python3 -m unittest discover -s clients/python/tests -p 'test_client.py' -v

RLM_GYM_TOKEN_URL / RLM_GYM_TOKEN (optional): a second server that requires that token.
"""

from __future__ import annotations

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

from openai_policy import chat  # noqa: E402
from rlm_gym_client import RLMGymClient, RLMGymError, basic_auth_url  # noqa: E402

URL = os.environ.get("RLM_GYM_URL")
POLICY = os.environ.get("RLM_GYM_POLICY_URL")
SMALL = {"contextTokens": 2000}


@unittest.skipUnless(URL and POLICY, "set RLM_GYM_URL and RLM_GYM_POLICY_URL (a running env server and a policy)")
class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = RLMGymClient(URL)

    def test_full_episode_with_gymnasium_tuples(self) -> None:
        with self.client.session(task="sniah", seed=7, options=SMALL, model="reference") as env:
            observation, info = env.reset()
            self.assertEqual([m["role"] for m in observation], ["system", "user"])
            self.assertEqual(info["seed"], 7)
            self.assertNotIn("gold_answer", info)
            turns = 0
            while True:
                reply, usage = chat(env.messages, base_url=POLICY)
                observation, reward, terminated, truncated, info = env.step(reply, usage)
                turns += 1
                self.assertIsInstance(reward, float)
                if terminated or truncated:
                    break
                self.assertEqual(reward, 0.0)
                self.assertEqual([m["role"] for m in observation], ["user"])
            self.assertTrue(terminated)
            self.assertFalse(truncated)
            self.assertEqual(reward, 1.0)
            self.assertEqual(observation, [])
            self.assertEqual(info["final_answer"], info["gold_answer"])
            self.assertEqual(info["turn"], turns)
            # messages = system, user, then one assistant (+ one user REPL output, except the last) per turn
            self.assertEqual(len(env.messages), 2 + 2 * turns - 1)
            sid = env.session_id
            with self.assertRaises(RLMGymError) as finished:
                env.step("more")
            self.assertEqual((finished.exception.status, finished.exception.code), (410, "session_finished"))
        # the context manager deleted the session
        with self.assertRaises(RLMGymError) as gone:
            self.client.get_session(sid)
        self.assertEqual(gone.exception.status, 404)

    def test_reset_again_starts_a_new_session(self) -> None:
        env = self.client.session(task="oolong", seed=3, options=SMALL)
        try:
            first, _ = env.reset()
            sid = env.session_id
            second, info = env.reset()
            self.assertNotEqual(env.session_id, sid)
            self.assertEqual(first, second)  # same seed, same task, same prompt
            with self.assertRaises(RLMGymError):
                self.client.get_session(sid)
            _, info = env.reset(seed=4)
            self.assertEqual(info["seed"], 4)
        finally:
            env.close()
        env.close()  # idempotent

    def test_errors_carry_status_and_code(self) -> None:
        with self.assertRaises(RLMGymError) as bad:
            self.client.create_session(task="no-such-family")
        self.assertEqual((bad.exception.status, bad.exception.code), (400, "bad_request"))
        self.assertIn("no-such-family", bad.exception.message)
        with self.assertRaises(RLMGymError) as high:
            self.client.create_session(task="sniah", budgets={"max_turns": 10_000})
        self.assertIn("above the server's limit", high.exception.message)
        with self.assertRaises(RLMGymError) as missing:
            self.client.step_session("no-such-session", "x")
        self.assertEqual(missing.exception.status, 404)
        with self.assertRaises(RLMGymError) as down:
            RLMGymClient("http://127.0.0.1:9", timeout=5).health()
        self.assertEqual((down.exception.status, down.exception.code), (0, "connection"))

    def test_info_routes(self) -> None:
        self.assertEqual(self.client.health(), {"status": "healthy"})
        self.assertEqual(self.client.metadata()["name"], "rlm-gym")
        self.assertEqual(self.client.schema()["action"]["required"], ["reply"])
        self.assertIn("pool", self.client.stats())


class CompatibilityTest(unittest.TestCase):
    def test_parses_as_python_3_9(self) -> None:
        import ast

        with open(os.path.join(HERE, "..", "rlm_gym_client.py"), encoding="utf-8") as f:
            ast.parse(f.read(), feature_version=(3, 9))  # a SyntaxError names any newer construct

    def test_stdlib_only(self) -> None:
        import ast

        with open(os.path.join(HERE, "..", "rlm_gym_client.py"), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        self.assertTrue(names <= set(sys.stdlib_module_names) | {"__future__"}, names)


TOKEN_URL = os.environ.get("RLM_GYM_TOKEN_URL")
TOKEN = os.environ.get("RLM_GYM_TOKEN")


@unittest.skipUnless(TOKEN_URL and TOKEN, "set RLM_GYM_TOKEN_URL and RLM_GYM_TOKEN (a server started with --token-env)")
class TokenTest(unittest.TestCase):
    def test_token_is_required_and_sent(self) -> None:
        with self.assertRaises(RLMGymError) as denied:
            RLMGymClient(TOKEN_URL).create_session(task="sniah", options=SMALL)
        self.assertEqual((denied.exception.status, denied.exception.code), (401, "unauthorized"))
        with self.assertRaises(RLMGymError):
            RLMGymClient(TOKEN_URL, token="wrong").stats()
        client = RLMGymClient(TOKEN_URL, token=TOKEN)
        with client.session(task="sniah", seed=1, options=SMALL) as env:
            observation, _ = env.reset()
            self.assertEqual(len(observation), 2)

    def test_basic_auth_url(self) -> None:
        self.assertEqual(basic_auth_url("http://127.0.0.1:8100", "a/b"), "http://rlm:a%2Fb@127.0.0.1:8100")


if __name__ == "__main__":
    unittest.main()
