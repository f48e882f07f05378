#!/usr/bin/env python3
"""PyTorch's float training step for the model that bench_model_step times in
zimt (tools/torch/models.py: the same architectures), at several thread
counts: the float peer of `bench_model_step`, same positional arguments.

    /usr/bin/python3 tools/bench/torch_step.py [model=mnist_cnn] [batch=64] [reps=5] [threads=1,2]
                                               [--json FILE]

Times the whole step: zero_grad, forward, softmax cross-entropy on the
LayerNorm'd logits (as zimt's train_step), loss.backward() and
optimizer.step() of plain SGD (lr 0.01); median of `reps` after one warm-up
step. Prints the process's peak RSS (getrusage). Needs Debian's
python3-torch, which installs for /usr/bin/python3.
"""
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))


def main(argv):
    try:
        import torch
    except ImportError:
        sys.exit("torch_step.py: PyTorch is missing; apt-get install python3-torch and run with /usr/bin/python3")
    import models
    import torch.nn.functional as F

    json_path = None
    if "--json" in argv:
        i = argv.index("--json")
        json_path = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    name = argv[1] if len(argv) > 1 else "mnist_cnn"
    batch = int(argv[2]) if len(argv) > 2 else 64
    reps = int(argv[3]) if len(argv) > 3 else 5
    threads = [int(t) for t in (argv[4] if len(argv) > 4 else "1,2").split(",")]
    torch.manual_seed(1)
    model = models.build(name, (1, 28, 28), 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.arange(batch) % 10
    print(f"{name} (PyTorch {torch.__version__}, float32): "
          f"{sum(p.numel() for p in model.parameters())} parameters, batch {batch}")
    runs = []
    for t in threads:
        torch.set_num_threads(t)

        def step():
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        step()  # warm-up
        ms = []
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            ms.append(1000.0 * (time.perf_counter() - t0))
        med = statistics.median_low(ms)
        print(f"  threads {t}, sgd: step {med:.2f} ms (median of {reps}, min {min(ms):.2f}), "
              f"{1000.0 * batch / med:.0f} images/s")
        runs.append({"threads": t, "optimizer": "sgd", "median_ms": med, "min_ms": min(ms)})
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"  peak RSS {rss_kb / 1024:.1f} MB")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"model": name, "batch": batch, "torch": torch.__version__, "peak_rss_kb": rss_kb,
                       "runs": runs}, f)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv)
