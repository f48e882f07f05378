#!/usr/bin/env python3
"""PyTorch's float forward + backward time of one batch for the model that
bench_model_step times in zimt (tools/torch/models.py: the same architectures),
at several thread counts: the float peer of `bench_model_step`, same arguments
and output lines.

    /usr/bin/python3 tools/bench/torch_step.py [model=mnist_cnn] [batch=64] [reps=5] [threads=1,2]

Times loss.backward() after the forward pass (softmax cross-entropy on the
LayerNorm'd logits, as zimt's train_step), median of `reps` after one
warm-up; the optimizer step is not timed (zimt's bench does not time it
either). Needs Debian's python3-torch, which installs for /usr/bin/python3.
"""
import os
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

    name = argv[1] if len(argv) > 1 else "mnist_cnn"
    batch = int(argv[2]) if len(argv) > 2 else 64
    reps = int(argv[3]) if len(argv) > 3 else 5
    threads = [int(t) for t in (argv[4] if len(argv) > 4 else "1,2").split(",")]
    torch.manual_seed(1)
    model = models.build(name, (1, 28, 28), 10)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.arange(batch) % 10
    print(f"{name} (PyTorch {torch.__version__}, float32): "
          f"{sum(p.numel() for p in model.parameters())} parameters, batch {batch}")
    for t in threads:
        torch.set_num_threads(t)

        def step():
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()

        step()  # warm-up
        ms = []
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            ms.append(1000.0 * (time.perf_counter() - t0))
        med = statistics.median_low(ms)
        print(f"  threads {t}: forward+backward {med:.1f} ms (median of {reps}, min {min(ms):.1f}), "
              f"{1000.0 * batch / med:.0f} images/s")


if __name__ == "__main__":
    main(sys.argv)
