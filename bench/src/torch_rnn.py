"""PyTorch peer for bench/rnn.ts (--torch): a line protocol on stdin/stdout.

Each request is one JSON line {"layer", "B", "T", "I", "H", "mode", "steps"}; the answer is
one JSON line {"ms": [...], "cpuMs": [...]} with the wall-clock and CPU time of each step, measured here so the pipe is not timed.
TORCH_THREADS threads (torch.set_num_threads, 1 unless set), float32, batch_first, the same workload as seqgrad.
"""
import json
import os
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
torch.manual_seed(0)
cache = {}

for line in sys.stdin:
    req = json.loads(line)
    key = (req["layer"], req["B"], req["T"], req["I"], req["H"], req["mode"])
    if key not in cache:
        cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[req["layer"]]
        net = cls(req["I"], req["H"], batch_first=True)
        x = torch.rand(req["B"], req["T"], req["I"]) - 0.5
        x.requires_grad_(req["mode"] == "train")
        cache.clear()
        cache[key] = (net, x)
    net, x = cache[key]
    times = []
    cpu = []
    for _ in range(req["steps"]):
        c0 = time.process_time()
        t0 = time.perf_counter()
        if req["mode"] == "train":
            net.zero_grad(set_to_none=True)
            x.grad = None
            net(x)[0].sum().backward()
        else:
            with torch.no_grad():
                net(x)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(json.dumps({"ms": times, "cpuMs": cpu}), flush=True)
