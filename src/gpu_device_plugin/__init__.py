"""A fake NVIDIA GPU device plugin for the kubelet's v1beta1 device-plugin API.

It advertises N `nvidia.com/gpu` devices and hands each container the environment a GPU container gets
(device ids in NVIDIA_VISIBLE_DEVICES) plus `VLLM_SIM_GPU`, so the vLLM simulator knows which card it "has".
"""
