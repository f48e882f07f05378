"""The float twins of configs/models/{mnist_cnn,resnet18,mlp}.json.

Every LayerNorm has no learned parameters and normalises each sample over all
its non-batch dimensions ((C,H,W) after a conv block, features after a linear
layer), eps = 1e-5, as nn.LayerNorm(shape, elementwise_affine=False) does.
Input shape (C,H,W) and the number of classes come from the dataset, so the
same code trains on MNIST and on small generated datasets.
"""
import torch
from torch import nn
import torch.nn.functional as F


def layer_norm(x):
    return F.layer_norm(x, x.shape[1:])


class MnistCnn(nn.Module):
    # x is (N,C,H,W) -> logits (N,K); 421,642 parameters for (1,28,28), K = 10
    def __init__(self, shape, classes):
        super().__init__()
        c, h, w = shape
        self.conv1 = nn.Conv2d(c, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = layer_norm(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = layer_norm(F.max_pool2d(F.relu(self.conv2(x)), 2))
        x = layer_norm(F.relu(self.fc1(x.flatten(1))))
        return layer_norm(self.fc2(x))


class Mlp(nn.Module):
    # x is (N,C,H,W) -> logits (N,K); 101,770 parameters for (1,28,28), K = 10
    def __init__(self, shape, classes):
        super().__init__()
        c, h, w = shape
        self.fc1 = nn.Linear(c * h * w, 128)
        self.fc2 = nn.Linear(128, classes)

    def forward(self, x):
        x = layer_norm(F.relu(self.fc1(x.flatten(1))))
        return layer_norm(self.fc2(x))


class BasicBlock(nn.Module):
    # x is (N,Cin,H,W) -> (N,Cout,H/stride,W/stride); torchvision's BasicBlock,
    # with BatchNorm (norm="batch") or, as zimt's basic_block
    # (include/zimt/layers/residual.hpp), the parameter-free per-sample
    # LayerNorm over (C,H,W) in place of each BatchNorm (norm="layer")
    def __init__(self, cin, cout, stride, norm):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = _norm(norm, cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), _norm(norm, cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class LayerNorm(nn.Module):
    # parameter-free LayerNorm over all non-batch dimensions
    def forward(self, x):
        return layer_norm(x)


def _norm(norm, channels):
    return nn.BatchNorm2d(channels) if norm == "batch" else LayerNorm()


class ResNet18(nn.Module):
    # x is (N,C,H,W) -> logits (N,K); torchvision's resnet18 with a C-channel
    # stem, K outputs and a LayerNorm on the logits. norm="layer" is zimt's
    # configs/models/resnet18.json: every BatchNorm replaced by the
    # parameter-free LayerNorm, 11,165,770 parameters for C = 1, K = 10;
    # norm="batch" is the paper's (BatchNorm gamma 1 / beta 0), 11,175,370.
    # Initialised as torchvision does (kaiming-normal fan_out convs, default
    # Linear).
    def __init__(self, shape, classes, norm="layer"):
        super().__init__()
        self.conv1 = nn.Conv2d(shape[0], 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = _norm(norm, 64)
        blocks, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [BasicBlock(cin, cout, stride, norm), BasicBlock(cout, cout, 1, norm)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        x = self.blocks(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return layer_norm(self.fc(x))


def resnet18_bn(shape, classes):
    return ResNet18(shape, classes, norm="batch")


MODELS = {"mnist_cnn": MnistCnn, "resnet18": ResNet18, "resnet18_bn": resnet18_bn, "mlp": Mlp}


def build(name, shape, classes):
    return MODELS[name](shape, classes)
