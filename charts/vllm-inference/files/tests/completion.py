"""A /v1/completions request returns at least one token."""

import json
import os
import sys

from helmtest import MODEL, req

body = {"model": MODEL, "prompt": os.environ["PROMPT"], "max_tokens": int(os.environ["MAX_TOKENS"])}
out = json.load(req("/v1/completions", body))
text = out["choices"][0]["text"]
tokens = out["usage"]["completion_tokens"]
if tokens < 1:
    sys.exit(f"/v1/completions returned no tokens: {out}")
print(f"/v1/completions: {tokens} tokens: {text!r}")
