#!/usr/bin/python3
"""Tests of the PyTorch peer: .zds reading, the ZIM samplers' moments, the
integer starts, and a short run's directory. Run: /usr/bin/python3 -m
unittest discover -s tools/torch (tests/cli/test_torch_reference.cpp does).

Statistical checks use 5 standard deviations of the estimate, from the
multinomial moments (docs/design.md, Update rules): a correct sampler fails one of them
with probability below 1e-5.
"""
import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import zds  # noqa: E402
import zim_rule  # noqa: E402
import zimt_torch  # noqa: E402

ZIMT_METRICS = {"step", "epoch", "train_loss", "test_loss", "test_acc", "eval_samples",
                "images_per_s", "saturated", "u_l1", "changed", "max_abs_w", "train_s", "eval_s", "elapsed_s"}
ZIMT_SUMMARY = {"status", "steps", "epochs", "final_test_acc", "best_test_acc",
                "final_test_loss", "wall_s", "images_per_s"}


def quadrants_dataset(path, count, seed):
    """1x8x8 noise images; class k (0..3) is bright in quadrant k. Four
    classes, not two: a LayerNorm over two logits outputs +-1 whatever they
    are, so its gradient vanishes and float SGD could not learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    images = rng.integers(0, 60, (count, 1, 8, 8))
    for k in range(4):
        images[labels == k, :, 4 * (k // 2):4 * (k // 2) + 4, 4 * (k % 2):4 * (k % 2) + 4] += 150
    zds.write(path, images.astype(np.uint8), labels.astype(np.uint8), 4)


class ZdsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "d.zds")
        quadrants_dataset(self.path, 37, seed=3)  # 37*64 bytes: padding before the labels

    def tearDown(self):
        self.dir.cleanup()

    def corrupt(self, offset, value):
        with open(self.path, "r+b") as f:
            f.seek(offset)
            f.write(bytes([value]))

    def test_round_trip(self):
        images = np.arange(3 * 2 * 5 * 7, dtype=np.uint8).reshape(3, 2, 5, 7)
        zds.write(self.path, images, np.array([4, 0, 2], dtype=np.uint8), 5)
        d = zds.read(self.path)
        self.assertEqual((len(d), d.shape, d.classes), (3, (2, 5, 7), 5))
        np.testing.assert_array_equal(d.images, images)
        np.testing.assert_array_equal(d.labels, [4, 0, 2])
        self.assertEqual(os.path.getsize(self.path), 64 + 3 * 70 + 46 + 3)

    def test_rejects_corrupt_payload(self):
        self.corrupt(64 + 5, 255)
        with self.assertRaisesRegex(zds.ZdsError, "d.zds: payload checksum mismatch"):
            zds.read(self.path)

    def test_rejects_corrupt_header(self):
        self.corrupt(24, 3)
        with self.assertRaisesRegex(zds.ZdsError, "header checksum mismatch"):
            zds.read(self.path)

    def test_rejects_wrong_magic(self):
        self.corrupt(0, ord("X"))
        with self.assertRaisesRegex(zds.ZdsError, "not a .zds file"):
            zds.read(self.path)

    def test_rejects_truncated_file(self):
        with open(self.path, "r+b") as f:
            f.truncate(os.path.getsize(self.path) - 1)
        with self.assertRaisesRegex(zds.ZdsError, "needs"):
            zds.read(self.path)


class SamplerTest(unittest.TestCase):
    def setUp(self):
        self.gen = torch.Generator().manual_seed(7)
        self.g = torch.tensor([0.0, 1.0, -3.0, 0.5, 0.0])

    def assert_moments(self, counts, mean, var, trials):
        """counts: (trials, d) draws whose per-entry mean should be `mean`."""
        got = counts.double().mean(0)
        bound = 5 * torch.sqrt(var.double() / trials) + 1e-12
        self.assertTrue(bool(((got - mean).abs() <= bound).all()), f"{got} vs {mean} +- {bound}")

    def test_authors_counts_have_multinomial_mean(self):
        n, c = 50, 1.0
        draws = torch.stack([zim_rule.authors_counts(self.g, n, c, self.gen)[0] for _ in range(4000)])
        self.assertTrue(bool((draws.sum(1) == n).all()))
        p = (self.g.abs() + c) / (self.g.abs().sum() + 5 * c)
        self.assert_moments(draws, n * p.double(), n * p * (1 - p), 4000)

    def test_zero_inflated_counts_are_unbiased(self):
        n, alpha = 20, 3.0  # alpha ||g||_1 = 13.5 <= n: E[X] = alpha |g|
        draws = torch.stack([zim_rule.zero_inflated_counts(self.g, n, alpha, self.gen)[0]
                             for _ in range(4000)])
        q = alpha * self.g.abs() / n
        self.assert_moments(draws, n * q.double(), n * q * (1 - q), 4000)
        self.assertTrue(bool((draws[:, [0, 4]] == 0).all()))

    def test_zero_inflated_falls_back_when_mass_exceeds_one(self):
        counts, fallback = zim_rule.zero_inflated_counts(self.g, 10, 5.0, self.gen)
        self.assertEqual((int(counts.sum()), fallback), (10, 1))

    def test_step_moves_against_the_gradient_sign_and_saturates(self):
        w = torch.nn.Parameter(torch.tensor([5.0, 126.0, 126.0, 0.0, 9.0]))
        w.grad = self.g.clone()
        stats = zim_rule.step([w], "zero_inflated", 40, 1.0, 1000.0, 127, self.gen)
        self.assertEqual(w[0].item(), 5.0)  # zero gradient: never moves
        self.assertEqual(w[4].item(), 9.0)
        self.assertLessEqual(w[1].item(), 126.0)
        self.assertEqual(w[2].item(), 127.0)  # g < 0 moves up, clipped at 127
        self.assertLessEqual(w[3].item(), 0.0)
        self.assertEqual(stats.nonzero_grad, 3)
        self.assertGreaterEqual(stats.saturated, 1)
        self.assertEqual(stats.fallback, 1)


class IntegerStartTest(unittest.TestCase):
    def test_authors_start_spends_round_numel_root_trials_per_tensor(self):
        torch.manual_seed(1)
        model = models.build("mnist_cnn", (1, 28, 28), 10)
        zim_rule.integer_start(model, "authors", 1.0, 0, torch.Generator().manual_seed(1))
        # every default-init entry is nonzero, so each trial moves |w| by one
        l1 = {name: int(p.abs().sum()) for name, p in model.named_parameters()}
        self.assertEqual(l1, {"conv1.weight": 4, "conv1.bias": 0, "conv2.weight": 12,
                              "conv2.bias": 0, "fc1.weight": 634, "fc1.bias": 0,
                              "fc2.weight": 36, "fc2.bias": 0})
        self.assertTrue(all(bool((p == p.round()).all()) for p in model.parameters()))

    def test_parameter_counts_match_zim_md(self):
        counts = {name: sum(p.numel() for p in models.build(name, (1, 28, 28), 10).parameters())
                  for name in ("mnist_cnn", "mlp", "resnet18", "resnet18_bn")}
        self.assertEqual(counts, {"mnist_cnn": 421642, "mlp": 101770, "resnet18": 11165770,
                                  "resnet18_bn": 11175370})


class ArchitectureTest(unittest.TestCase):
    def test_resnet18_is_zimts_layernorm_variant_and_resnet18_bn_the_papers(self):
        def norms(name):
            m = models.build(name, (1, 28, 28), 10)
            return (sum(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules()),
                    sum(isinstance(x, models.LayerNorm) for x in m.modules()))
        # stem + 2 per block x 8 blocks + 3 projections = 20 normalisations
        self.assertEqual(norms("resnet18"), (0, 20))
        self.assertEqual(norms("resnet18_bn"), (20, 0))

    def test_layernorm_normalises_each_sample_over_all_its_dimensions(self):
        x = torch.randn(3, 4, 5, 5) * torch.tensor([1.0, 10.0, 100.0]).view(3, 1, 1, 1)
        y = models.LayerNorm()(x)
        self.assertTrue(torch.allclose(y.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5))
        self.assertTrue(torch.allclose(y.var(dim=(1, 2, 3), unbiased=False), torch.ones(3), atol=1e-3))

    def test_bench_step_times_the_same_model(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
        import io
        from contextlib import redirect_stdout
        import torch_step
        out = io.StringIO()
        with redirect_stdout(out):
            torch_step.main(["torch_step.py", "mlp", "4", "1", "1"])
        lines = out.getvalue().splitlines()
        self.assertIn("mlp (PyTorch", lines[0])
        self.assertIn("101770 parameters, batch 4", lines[0])
        self.assertRegex(lines[1], r"threads 1, sgd: step [0-9.]+ ms \(median of 1, min [0-9.]+\), [0-9]+ images/s")
        self.assertRegex(lines[2], r"peak RSS [0-9.]+ MB")


class RunTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.train = os.path.join(self.dir.name, "train.zds")
        self.test = os.path.join(self.dir.name, "test.zds")
        quadrants_dataset(self.train, 640, seed=1)
        quadrants_dataset(self.test, 200, seed=2)

    def tearDown(self):
        self.dir.cleanup()

    def run_tool(self, *extra, epochs="2", start="--force"):
        out = os.path.join(self.dir.name, "run")
        argv = ["--train", self.train, "--test", self.test, "--model", "mlp", "--epochs", epochs,
                "--eval-every", "4", "--eval-samples", "50", "--out", out, start, "--quiet"]
        self.assertEqual(zimt_torch.main(argv + list(extra)), 0)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            metrics = [json.loads(line) for line in f]
        with open(os.path.join(out, "summary.json")) as f:
            return metrics, json.load(f)

    def check_layout(self, metrics, summary):
        for m in metrics:
            self.assertLessEqual(ZIMT_METRICS, set(m))
        self.assertLessEqual(ZIMT_SUMMARY, set(summary))
        # every 4th step on 50 images, epoch ends (10, 20) on all 200
        self.assertEqual([(m["step"], m["eval_samples"]) for m in metrics],
                         [(4, 50), (8, 50), (10, 200), (12, 50), (16, 50), (20, 200)])
        self.assertEqual((summary["status"], summary["steps"], summary["epochs"]), ("finished", 20, 2.0))
        self.assertEqual(summary["final_test_acc"], metrics[-1]["test_acc"])

    def test_zim_run_learns_and_writes_zimt_layout(self):
        metrics, summary = self.run_tool("--opt", "zim", "--saturate", "127")
        self.check_layout(metrics, summary)
        self.assertGreater(summary["final_test_acc"], 0.9)  # chance is 0.25
        self.assertTrue(all(m["u_l1"] > 0 and m["max_abs_w"] <= 127 for m in metrics))

    def test_sgd_run_has_zero_discrete_fields(self):
        metrics, summary = self.run_tool("--opt", "sgd", "--lr", "0.5")
        self.check_layout(metrics, summary)
        self.assertGreater(summary["final_test_acc"], 0.9)
        self.assertTrue(all(m[k] == 0 for m in metrics for k in ("saturated", "u_l1", "changed")))

    def test_same_seed_same_curve(self):
        first, _ = self.run_tool("--opt", "zim", "--seed", "3", "--max-steps", "8")
        second, _ = self.run_tool("--opt", "zim", "--seed", "3", "--max-steps", "8")
        keys = ("train_loss", "test_loss", "test_acc", "u_l1", "changed", "max_abs_w")
        self.assertEqual([[m[k] for k in keys] for m in first], [[m[k] for k in keys] for m in second])

    def test_resume_continues_the_same_run(self):
        keys = ("train_loss", "test_loss", "test_acc", "u_l1", "changed", "max_abs_w")
        straight, _ = self.run_tool("--opt", "zim", "--seed", "3")
        # stopped at the first epoch's end, then mid-epoch (step 13 of 20)
        self.run_tool("--opt", "zim", "--seed", "3", epochs="1")
        self.run_tool("--opt", "zim", "--seed", "3", "--max-steps", "13", start="--resume")
        resumed, summary = self.run_tool("--opt", "zim", "--seed", "3", start="--resume")
        self.assertEqual([m["step"] for m in resumed], [4, 8, 10, 12, 13, 16, 20])
        # the stop at 13 evaluated there, so the step-16 record's training
        # fields cover 14..16 instead of 13..16; the model is the same
        same = [m for m in resumed if m["step"] != 13]
        for m, s in zip(same, straight):
            fields = ("test_loss", "test_acc", "max_abs_w") if m["step"] == 16 else keys
            self.assertEqual([m[k] for k in fields], [s[k] for k in fields], m["step"])
        self.assertEqual((summary["status"], summary["steps"]), ("finished", 20))

    def test_resume_refuses_other_options_and_missing_checkpoints(self):
        self.run_tool("--opt", "zim", "--seed", "3", epochs="1")
        with self.assertRaisesRegex(SystemExit, r"--seed 3 -> 4"):
            self.run_tool("--opt", "zim", "--seed", "4", start="--resume")
        with self.assertRaisesRegex(SystemExit, "already holds a run"):
            zimt_torch.main(["--train", self.train, "--test", self.test, "--model", "mlp",
                             "--out", os.path.join(self.dir.name, "run"), "--quiet"])
        with self.assertRaisesRegex(SystemExit, "holds no checkpoint"):
            zimt_torch.main(["--train", self.train, "--test", self.test, "--model", "mlp",
                             "--out", os.path.join(self.dir.name, "other"), "--resume"])


if __name__ == "__main__":
    unittest.main()
