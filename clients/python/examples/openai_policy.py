"""A minimal policy for the examples: one chat completion from an OpenAI-compatible server (vLLM, or rlm-gym's
offline reference policy: `npm run serve:reference -- --port 8000`). Stdlib only. In training, your trainer's own
rollout engine takes this place and passes `usage` (token ids, logprobs) along with the reply."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Dict, List, Optional, Tuple


def chat(
    messages: List[Dict[str, str]],
    base_url: str = "http://127.0.0.1:8000/v1",
    model: str = "rlm-gym/reference",
    temperature: float = 0.7,
    max_tokens: int = 4096,
    api_key: Optional[str] = None,
) -> Tuple[str, Dict[str, Any]]:
    """(reply text, usage for the env server: prompt_tokens / completion_tokens)."""
    body = {"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(base_url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=600) as res:
        out = json.loads(res.read())
    usage = out.get("usage") or {}
    return out["choices"][0]["message"]["content"], {
        "prompt_tokens": int(usage.get("prompt_tokens", 0)),
        "completion_tokens": int(usage.get("completion_tokens", 0)),
    }
