#!/usr/bin/python3
"""zimt_torch: the float PyTorch peer of `zimt train`.

Trains the paper's models on zimt's .zds files with float SGD or a
float replica of the ZIM rules, and writes a run directory in zimt's format
(config.json, metrics.jsonl, summary.json) so both can go on one plot.
See tools/torch/README.md.
"""
import argparse
import math
import os
import sys
import time

NO_TORCH = ("zimt_torch: PyTorch is not installed for {python}. On Debian: "
            "apt-get install python3-torch python3-numpy, then run this script with "
            "/usr/bin/python3 (its shebang).")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="zimt_torch.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--train", required=True, help="training set (.zds), zimt's /data/train")
    p.add_argument("--test", required=True, help="test set (.zds), zimt's /data/test")
    p.add_argument("--model", default="mnist_cnn", choices=["mnist_cnn", "resnet18", "resnet18_bn", "mlp"])
    p.add_argument("--mean", type=float, default=0.1307, help="/data/normalize/mean")
    p.add_argument("--std", type=float, default=0.3081, help="/data/normalize/std")
    p.add_argument("--no-shuffle", action="store_true", help="train in file order (/data/shuffle false)")
    p.add_argument("--opt", default="sgd", choices=["sgd", "zim", "zim_zero_inflated"])
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (no momentum)")
    p.add_argument("--init", choices=["authors", "dense", "float"],
                   help="authors: sparse integer start, dense: n = numel, float: default "
                        "PyTorch init (default: float for sgd, authors for zim)")
    p.add_argument("--n", type=int, help="ZIM trials per step (default: d, the parameter count)")
    p.add_argument("--c", type=float, default=1.0, help="authors' rule smoothing c")
    p.add_argument("--alpha", type=float, default=1.0, help="zero-inflated rule alpha")
    p.add_argument("--saturate", type=int, default=0,
                   help="clip ZIM weights to +-S after every step (0: never)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no cap)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-every", type=int, default=20,
                   help="steps between evaluations (0: only at epoch ends, which use the full test set)")
    p.add_argument("--eval-samples", type=int, default=0,
                   help="evaluate on the first N test images (0: all)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (written at every epoch end "
                        "and at the last step); every option but --epochs, --max-steps and "
                        "--quiet must be the run's own")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    if args.init is None:
        args.init = "float" if args.opt == "sgd" else "authors"
    for name in ("epochs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("max_steps", "eval_every", "eval_samples", "saturate"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.n is not None and args.n < 1:
        p.error(f"--n must be >= 1, got {args.n}")
    if args.std <= 0 or args.c < 0 or args.alpha <= 0 or args.lr <= 0:
        p.error("--std, --alpha and --lr must be > 0 and --c >= 0")
    if args.opt == "sgd" and args.init != "float":
        p.error("--opt sgd trains from the default float init (--init float)")
    if args.resume and args.force:
        p.error("--resume continues a run and --force overwrites it: give one of them")
    return args


class Timer:
    """Wall and process-CPU seconds per phase (data, fwd_bwd, update), in
    total and since the last evaluation. With --threads 1 the CPU time is the
    work done, whatever else the machine runs; the wall time is what a user
    waits."""

    PHASES = ("data", "fwd_bwd", "update")

    def __init__(self):
        self.total = dict.fromkeys(self.PHASES + tuple(p + "_cpu" for p in self.PHASES), 0.0)
        self.since_eval = dict(self.total)
        self.mark()

    def mark(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def add(self, phase):
        wall, cpu = time.perf_counter(), time.process_time()
        for key, seconds in ((phase, wall - self.wall), (phase + "_cpu", cpu - self.cpu)):
            self.total[key] += seconds
            self.since_eval[key] += seconds
        self.wall, self.cpu = wall, cpu

    def train_seconds(self, which):
        return sum(which[p] for p in self.PHASES)

    def reset_interval(self):
        self.since_eval = dict.fromkeys(self.since_eval, 0.0)


# Options that may differ between a run and its resumption: when to stop and
# how much to print. Everything else shapes the numbers.
RESUMABLE_CHANGES = ("epochs", "max_steps", "quiet", "resume", "force")


def check_resume_args(args, config):
    saved = config.get("args", {})
    changed = [f"--{k.replace('_', '-')} {saved.get(k)!r} -> {v!r}" for k, v in vars(args).items()
               if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed:
        sys.exit(f"zimt_torch: --resume needs the run's own options; {args.out} was started with "
                 f"other ones: {', '.join(changed)}")


def main(argv):
    args = parse_args(argv)
    try:
        import numpy as np
        import torch
        import torch.nn.functional as F
    except ImportError:
        sys.exit(NO_TORCH.format(python=sys.executable))
    import models
    import run_dir
    import zds
    import zim_rule

    torch.set_num_threads(args.threads)
    out = run_dir.RunDir(args.out, args.force, args.resume)
    if args.resume:
        check_resume_args(args, out.read_json("config.json"))
    try:
        train, test = zds.read(args.train), zds.read(args.test)
    except (OSError, zds.ZdsError) as e:
        sys.exit(f"zimt_torch: {e}")
    if train.shape != test.shape or train.classes != test.classes:
        sys.exit(f"zimt_torch: {args.train} is {train.shape} with {train.classes} classes but "
                 f"{args.test} is {test.shape} with {test.classes}")
    if args.model == "mnist_cnn" and (train.shape[1] % 4 or train.shape[2] % 4):
        sys.exit(f"zimt_torch: mnist_cnn needs H and W divisible by 4, got {train.shape}")

    train_x, train_y = torch.from_numpy(train.images.copy()), torch.from_numpy(train.labels.copy()).long()
    test_x, test_y = torch.from_numpy(test.images.copy()), torch.from_numpy(test.labels.copy()).long()
    shuffle_seed, sample_seed = (int(s) for s in np.random.SeedSequence(args.seed).generate_state(2))
    shuffle_gen = torch.Generator().manual_seed(shuffle_seed)
    sample_gen = torch.Generator().manual_seed(sample_seed)

    torch.manual_seed(args.seed)
    model = models.build(args.model, train.shape, train.classes)
    if args.init != "float" and not args.resume:
        zim_rule.integer_start(model, args.init, args.c, args.saturate, sample_gen)
    params = [p for p in model.parameters()]
    d = sum(p.numel() for p in params)

    def normalise(images_u8):
        return (images_u8.float() / 255.0 - args.mean) / args.std

    def evaluate(samples):
        n = len(test_y) if samples == 0 else min(samples, len(test_y))
        model.eval()
        loss_sum, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, n, 1000):
                out = model(normalise(test_x[i:min(i + 1000, n)]))
                y = test_y[i:min(i + 1000, n)]
                loss_sum += F.cross_entropy(out, y, reduction="sum").item()
                correct += int((out.argmax(1) == y).sum().item())
        model.train()
        return loss_sum / n, correct / n, n

    steps_per_epoch = math.ceil(len(train_y) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    timer = Timer()
    summary = {"status": "running", "steps": 0, "epochs": 0.0, "final_test_acc": 0.0,
               "best_test_acc": 0.0, "final_test_loss": 0.0, "wall_s": 0.0, "images_per_s": 0.0,
               "tool": "zimt_torch", "parameters": d}
    step, images_seen, interval_images, interval_loss, interval_steps = 0, 0, 0, 0.0, 0
    # Since the last evaluation, as zimt's metrics.jsonl: training images
    # classified right, and the ZIM step statistics summed over the steps
    # (max_abs_w: after the latest step).
    interval_correct, interval = 0, zim_rule.StepStats()
    # Where training continues: epoch, batch within it, and that epoch's order
    # (None: drawn when the epoch starts).
    epoch, batch, order = 0, 0, None
    if args.resume:
        state = out.load_checkpoint(torch)
        model.load_state_dict(state["model"])
        shuffle_gen.set_state(state["shuffle_gen"])
        sample_gen.set_state(state["sample_gen"])
        step, images_seen, summary = state["step"], state["images_seen"], state["summary"]
        epoch, batch, order = state["epoch"], state["batch"], state["order"]
        timer.total = state["timer_total"]
        interval.max_abs_w = state["max_abs_w"]
        if step > total_steps:
            sys.exit(f"zimt_torch: {args.out} has trained {step} steps, more than --epochs "
                     f"{args.epochs} and --max-steps {args.max_steps} allow ({total_steps})")
        out.keep_metrics_through(step)
        summary["status"] = "running"
    out.write_json("config.json", {
        "tool": "zimt_torch", "torch_version": torch.__version__, "parameters": d,
        "steps_per_epoch": steps_per_epoch, "args": vars(args)})
    out.write_json("summary.json", summary)
    start = time.perf_counter() - summary["wall_s"]

    def save_checkpoint(next_epoch, next_batch, next_order):
        out.save_checkpoint(torch, {
            "model": model.state_dict(), "shuffle_gen": shuffle_gen.get_state(),
            "sample_gen": sample_gen.get_state(), "step": step, "images_seen": images_seen,
            "summary": summary, "epoch": next_epoch, "batch": next_batch, "order": next_order,
            "timer_total": timer.total, "max_abs_w": interval.max_abs_w})

    def record(samples):
        nonlocal interval_images, interval_loss, interval_steps, interval_correct, interval
        eval_start = time.perf_counter()
        test_loss, test_acc, n = evaluate(samples)
        train_s = timer.train_seconds(timer.since_eval)
        per_step_ms = {k: 1000.0 * v / interval_steps for k, v in timer.since_eval.items()}
        out.append_metrics({
            "step": step, "epoch": images_seen / len(train_y),
            "train_loss": interval_loss / interval_steps, "train_acc": interval_correct / interval_images,
            "test_loss": test_loss, "test_acc": test_acc, "eval_samples": n,
            "images_per_s": interval_images / train_s if train_s > 0 else 0.0, "train_s": train_s,
            "saturated": interval.saturated, "u_l1": interval.u_l1, "changed": interval.changed,
            "max_abs_w": interval.max_abs_w, "elapsed_s": time.perf_counter() - start,
            "nonzero_grad": interval.nonzero_grad, "g_l1": interval.g_l1, "fallbacks": interval.fallback,
            **{k + "_ms": v for k, v in per_step_ms.items()},
            "eval_s": time.perf_counter() - eval_start})
        if n == len(test_y):
            summary["best_test_acc"] = max(summary["best_test_acc"], test_acc)
        train_total = timer.train_seconds(timer.total)
        summary.update(steps=step, epochs=images_seen / len(train_y), final_test_acc=test_acc,
                       final_test_loss=test_loss, final_eval_samples=n,
                       wall_s=time.perf_counter() - start,
                       images_per_s=images_seen / train_total if train_total > 0 else 0.0,
                       step_ms={k: 1000.0 * v / step for k, v in timer.total.items()})
        out.write_json("summary.json", summary)
        if not args.quiet:
            print(f"step {step:6d}  epoch {images_seen / len(train_y):6.3f}  "
                  f"train_loss {interval_loss / interval_steps:.4f}  test_loss {test_loss:.4f}  "
                  f"test_acc {100 * test_acc:6.2f}% ({n})  "
                  f"{per_step_ms['fwd_bwd']:.1f}+{per_step_ms['update']:.1f} ms/step "
                  f"({per_step_ms['fwd_bwd_cpu']:.1f}+{per_step_ms['update_cpu']:.1f} CPU)  "
                  f"max|w| {interval.max_abs_w}", flush=True)
        interval_images, interval_loss, interval_steps, interval_correct = 0, 0.0, 0, 0
        interval = zim_rule.StepStats(max_abs_w=interval.max_abs_w)
        timer.reset_interval()

    try:
        for epoch in range(epoch, args.epochs):
            if order is None:
                order = (torch.arange(len(train_y)) if args.no_shuffle
                         else torch.randperm(len(train_y), generator=shuffle_gen))
            for b in range(batch, steps_per_epoch):
                if step == total_steps:
                    break
                timer.mark()
                idx = order[b * args.batch_size:(b + 1) * args.batch_size]
                x, y = normalise(train_x[idx]), train_y[idx]
                timer.add("data")
                for p in params:
                    p.grad = None
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                loss.backward()
                timer.add("fwd_bwd")
                if args.opt == "sgd":
                    with torch.no_grad():
                        for p in params:
                            p.sub_(args.lr * p.grad)
                else:
                    rule = "authors" if args.opt == "zim" else "zero_inflated"
                    stats = zim_rule.step(params, rule, args.n, args.c, args.alpha,
                                          args.saturate, sample_gen)
                    for field in ("saturated", "u_l1", "changed", "nonzero_grad", "g_l1", "fallback"):
                        setattr(interval, field, getattr(interval, field) + getattr(stats, field))
                    interval.max_abs_w = stats.max_abs_w
                timer.add("update")
                step += 1
                images_seen += len(idx)
                interval_images += len(idx)
                interval_loss += loss.item()
                interval_correct += int((logits.argmax(1) == y).sum().item())
                interval_steps += 1
                if b == steps_per_epoch - 1:
                    record(0)
                    save_checkpoint(epoch + 1, 0, None)
                elif step == total_steps:
                    record(0)
                    save_checkpoint(epoch, b + 1, order)
                elif args.eval_every and step % args.eval_every == 0:
                    record(args.eval_samples)
            batch, order = 0, None
            if step == total_steps:
                break
    except BaseException:
        summary.update(status="failed", wall_s=time.perf_counter() - start)
        out.write_json("summary.json", summary)
        raise
    summary.update(status="finished", wall_s=time.perf_counter() - start)
    out.write_json("summary.json", summary)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv[1:]))
