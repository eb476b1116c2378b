"""The shared model of a vLLM server: catalogue (models, GPUs, dtypes, quantizations), memory arithmetic and
step timing. The simulator, the planner and the device plugin import it; it imports none of them."""
