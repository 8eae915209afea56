"""MFCD-Net models: the raw-RGB teacher, the compressed-domain student with early exits, and a
per-layer FLOP counter.

The student takes one clip unit [N, C, T, H, W] of compressed-domain features (motion-vector dx, dy
and residual luma, as `mvwatch features` writes them), normalises it inside the graph, folds time into
channels (early fusion: channel c*T + t) and runs three 2D stages. Each stage ends in an exit head
(average pool to a grid x grid map + linear; grid 1 is global pooling, grid 2 keeps which quadrant
moved, which tells a zoom's radial motion from a pan's uniform one), so inference can stop after stage
1 or 2 when the head is confident.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, stride=1, kernel=3):
    """Conv2d + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def conv3d_bn(cin, cout, stride, kernel=(3, 3, 3)):
    """Conv3d + BatchNorm + ReLU."""
    pad = tuple(k // 2 for k in kernel)
    return nn.Sequential(
        nn.Conv3d(cin, cout, kernel, stride, pad, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


def signed_log(x):
    """sign(x) * log(1 + |x|), written with ops that export to any ONNX opset."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def grid_pool(x, grid):
    """Averages [N, C, H, W] over grid x grid equal cells and flattens to [N, C * grid * grid] (H and W
    divisible by grid; written with reshape + mean so it exports to any ONNX opset)."""
    if grid == 1:
        return x.mean(dim=(2, 3))
    n, c, h, w = x.shape
    return x.reshape(n, c, grid, h // grid, grid, w // grid).mean(dim=(3, 5)).reshape(n, c * grid * grid)


class ExitHead(nn.Module):
    """Average pool to a grid x grid map and a linear classifier."""

    def __init__(self, cin, classes, grid=1):
        super().__init__()
        self.grid = grid
        self.fc = nn.Linear(cin * grid * grid, classes)

    def forward(self, x):
        return self.fc(grid_pool(x, self.grid))


class Student(nn.Module):
    """MFCD-Net student: three 2D stages over time-folded compressed-domain channels, one exit each."""

    def __init__(self, channels, clip_len, classes, mean, std, widths=(16, 32, 64, 128), grid=1):
        super().__init__()
        self.channels, self.clip_len = channels, clip_len
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1, 1))
        w0, w1, w2, w3 = widths
        cin = channels * clip_len
        self.stage1 = nn.Sequential(conv_bn(cin, w0, 2), conv_bn(w0, w1, 2))  # 64 -> 16
        self.stage2 = nn.Sequential(conv_bn(w1, w2, 2), conv_bn(w2, w2))  # 16 -> 8
        self.stage3 = nn.Sequential(conv_bn(w2, w3), conv_bn(w3, w3, 2))  # 8 -> 4
        self.exit1 = ExitHead(w1, classes, grid)
        self.exit2 = ExitHead(w2, classes, grid)
        self.exit3 = ExitHead(w3, classes, grid)

    def fold(self, x):
        """Compresses, normalises and folds [N,C,T,H,W] into [N, C*T, H, W]. The signed log
        (sign(x) * log1p(|x|)) tames the heavy tails of motion vectors and residuals, whose scale
        depends on reference distance and rate control; mean/std are of the compressed values."""
        x = signed_log(x)
        x = (x - self.mean) / self.std
        n, c, t, h, w = x.shape
        return x.reshape(n, c * t, h, w)

    def forward(self, x):
        """Returns the logits of all three exits."""
        f1 = self.stage1(self.fold(x))
        f2 = self.stage2(f1)
        f3 = self.stage3(f2)
        return self.exit1(f1), self.exit2(f2), self.exit3(f3)


class StudentStage(nn.Module):
    """One exportable stage of a trained Student: returns (exit logits, features for the next stage)."""

    def __init__(self, student, index):
        super().__init__()
        self.s, self.index = student, index

    def forward(self, x):
        s = self.s
        if self.index == 1:
            f = s.stage1(s.fold(x))
            return s.exit1(f), f
        if self.index == 2:
            f = s.stage2(x)
            return s.exit2(f), f
        return s.exit3(s.stage3(x))


class Teacher(nn.Module):
    """Raw-RGB teacher: RGB frames [N, 3, T, H, W] scaled to 0..1, plus their temporal differences
    (a fixed, parameter-free layer: x[t] - x[t-1], zero for the first frame), folded over time into
    channels and run through a wide 2D CNN. (A 3D CNN of the same FLOPs trained about 5x slower on
    the 2-core CPU.)"""

    def __init__(self, classes, clip_len=8, widths=(64, 96, 192), grid=1):
        super().__init__()
        self.grid = grid
        w0, w1, w2 = widths
        self.features = nn.Sequential(
            conv_bn(6 * clip_len, w0, 2),  # 32x32
            conv_bn(w0, w1, 2),  # 16x16
            conv_bn(w1, w1),
            conv_bn(w1, w2, 2),  # 8x8
            conv_bn(w2, w2),
        )
        self.fc = nn.Linear(w2 * grid * grid, classes)

    def forward(self, x):
        diff = torch.cat([torch.zeros_like(x[:, :, :1]), x[:, :, 1:] - x[:, :, :-1]], dim=2)
        x = torch.cat([(x - 0.45) / 0.25, diff * 8.0], dim=1)
        n, c, t, h, w = x.shape
        return self.fc(grid_pool(self.features(x.reshape(n, c * t, h, w)), self.grid))


def count_flops(module, example):
    """Counts multiply-accumulates of Conv and Linear layers for one forward pass of example (batch 1)
    and returns FLOPs = 2 * MACs. BatchNorm, ReLU, pooling and normalisation are not counted (they are
    under 2% here and foldable)."""
    macs = [0]

    def conv_hook(m, inp, out):
        k = 1
        for v in m.kernel_size:
            k *= v
        macs[0] += out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m, inp, out):
        macs[0] += out.numel() * m.in_features

    handles = []
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = module.training
    module.eval()
    with torch.no_grad():
        module(example)
    module.train(was_training)
    for h in handles:
        h.remove()
    return 2 * macs[0]


def stage_flops(student, example):
    """FLOPs of each student stage including its exit head, for one clip."""
    out = []
    x = example
    for i in (1, 2, 3):
        stage = StudentStage(student, i).eval()
        out.append(count_flops(stage, x))
        with torch.no_grad():
            stage.eval()
            r = stage(x)
            x = r[1] if i < 3 else None
    return out


def kd_loss(student_logits, teacher_logits, labels, temperature, alpha):
    """alpha * CE(labels) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T))."""
    ce = F.cross_entropy(student_logits, labels)
    if teacher_logits is None or alpha >= 1.0:
        return ce
    kl = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                  F.softmax(teacher_logits / temperature, dim=1), reduction="batchmean")
    return alpha * ce + (1 - alpha) * temperature * temperature * kl


def params(module):
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())
