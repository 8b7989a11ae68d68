"""Drive one rlm-gym episode from Python over HTTP — the quickest end-to-end check on a fresh machine:

    npm ci
    npm run serve -- --port 8100 &                 # the env server (sub-calls: offline reference sub-model)
    npm run serve:reference -- --port 8000 &       # a policy to play with (or your vLLM server)
    python3 clients/python/examples/drive_episode.py --task sniah --seed 1
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from openai_policy import chat  # noqa: E402
from rlm_gym_client import RLMGymClient  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default="http://127.0.0.1:8100", help="env server URL")
    p.add_argument("--token-env", help="environment variable holding the server's token")
    p.add_argument("--policy", default="http://127.0.0.1:8000/v1", help="OpenAI-compatible base URL of the policy")
    p.add_argument("--model", default="rlm-gym/reference", help="policy model id")
    p.add_argument("--task", default="sniah")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--context-tokens", type=int, help="task size (default: the server's)")
    a = p.parse_args()

    client = RLMGymClient(a.server, token=os.environ[a.token_env] if a.token_env else None)
    options = {"contextTokens": a.context_tokens} if a.context_tokens else None
    with client.session(task=a.task, seed=a.seed, options=options, model=a.model) as env:
        observation, info = env.reset()
        print(f"task {info['task_family']} seed {info['seed']}: {observation[1]['content'][:200]!r}…")
        while True:
            reply, usage = chat(env.messages, base_url=a.policy, model=a.model)
            observation, reward, terminated, truncated, info = env.step(reply, usage)
            print(f"turn {info['turn']}: {len(info.get('code_cells', []))} cell(s), reward {reward}")
            if terminated or truncated:
                break
    print(f"answer {info['final_answer']!r} gold {info['gold_answer']!r} reward {reward} ({info['stop_reason']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
