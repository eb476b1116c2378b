"""A streamed /v1/chat/completions delivers several chunks of text and ends with [DONE]."""

import json
import os
import sys

from helmtest import MODEL, req

body = {
    "model": MODEL,
    "stream": True,
    "max_tokens": int(os.environ["MAX_TOKENS"]),
    "messages": [{"role": "user", "content": os.environ["PROMPT"]}],
}
chunks, done, text = 0, False, ""
for raw in req("/v1/chat/completions", body):
    line = raw.decode().strip()
    if not line.startswith("data:"):
        continue
    payload = line[5:].strip()
    if payload == "[DONE]":
        done = True
        break
    delta = json.loads(payload)["choices"][0].get("delta", {})
    text += delta.get("content") or ""
    chunks += 1
if not done or chunks < 2 or not text:
    sys.exit(f"stream incomplete: {chunks} chunks, [DONE]={done}, text={text!r}")
print(f"streamed {chunks} chunks: {text!r}")
