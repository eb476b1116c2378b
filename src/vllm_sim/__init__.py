"""vllm-sim: a GPU-free stand-in for `vllm serve` modelling its CLI, API, metrics, memory and batching."""

__version__ = "0.1.0"
# The vLLM release whose CLI, API and metrics the simulator mimics (reported by /version).
VLLM_VERSION = "0.33.0"
