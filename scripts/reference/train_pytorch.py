#!/usr/bin/env python3
"""The peer in esrun's GPU benchmark (docs/performance.md): a plain PyTorch training loop written
the way the papers' public code is, used only for measurement.

torchvision-style Dataset with per-sample augmentation (random crop with 4-pixel padding,
horizontal flip, normalisation) and a DataLoader with worker processes and pinned memory; the
CIFAR ResNet-18 (3x3 stem, no max-pool; the same architecture as esrun's resnet18); SGD with
momentum 0.9, weight decay 5e-4, Nesterov off; OneCycle learning rate; autocast (bf16 by default).
Methods: uniform, and ES (decoupled EMA scores, a no-grad scoring forward per meta-batch and
b = ratio * B rows drawn without replacement proportionally to the weights with
torch.multinomial). Prints one JSON line per epoch and a final summary line.

    python3 scripts/reference/train_pytorch.py --data /root/esrun-data/cifar-10-batches-bin \
        --method es --epochs 5 --batch 512 --ratio 0.25 --workers 8 --amp bf16

Needs PyTorch (2.x with CUDA); not part of esrun's build or tests.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def read_cifar10(folder, files):
    records = [np.fromfile(os.path.join(folder, f), dtype=np.uint8).reshape(-1, 3073) for f in files]
    data = np.concatenate(records)
    return data[:, 1:].reshape(-1, 3, 32, 32), data[:, 0].astype(np.int64)


class CifarDataset(torch.utils.data.Dataset):
    """Per-sample augmentation, as torchvision's RandomCrop(32, 4) + RandomHorizontalFlip + Normalize."""

    def __init__(self, images, labels, train):
        self.images, self.labels, self.train = images, labels, train
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = torch.from_numpy(self.images[i]).float().div_(255)
        if self.train:
            x = F.pad(x, (4, 4, 4, 4))
            dy, dx = np.random.randint(0, 9, size=2)
            x = x[:, dy:dy + 32, dx:dx + 32]
            if np.random.rand() < 0.5:
                x = x.flip(2)
        return (x - self.mean) / self.std, self.labels[i], i


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder with the CIFAR-10 binary files")
    parser.add_argument("--train-files", default=",".join(f"data_batch_{i}.bin" for i in range(1, 6)))
    parser.add_argument("--test-files", default="test_batch.bin")
    parser.add_argument("--method", choices=["uniform", "es"], default="uniform")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=512, help="meta-batch B")
    parser.add_argument("--ratio", type=float, default=0.25, help="ES: b / B")
    parser.add_argument("--beta1", type=float, default=0.2)
    parser.add_argument("--beta2", type=float, default=0.9)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--amp", choices=["bf16", "fp16", "fp32"], default="bf16")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a dry run of the script")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = torch.device(args.device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    torch.backends.cudnn.benchmark = True
    train_x, train_y = read_cifar10(args.data, args.train_files.split(","))
    test_x, test_y = read_cifar10(args.data, args.test_files.split(","))
    train = torch.utils.data.DataLoader(CifarDataset(train_x, train_y, True), batch_size=args.batch, shuffle=True,
                                        num_workers=args.workers, pin_memory=True, drop_last=False,
                                        persistent_workers=args.workers > 0)
    test = torch.utils.data.DataLoader(CifarDataset(test_x, test_y, False), batch_size=1024,
                                       num_workers=args.workers, pin_memory=True)
    model = ResNet18(10).to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                   steps_per_epoch=len(train))
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[args.amp]
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp == "fp16")
    scores = torch.full((len(train_y),), 1.0 / len(train_y), dtype=torch.float64, device=device)
    b = max(1, round(args.ratio * args.batch))
    anneal = round(0.05 * args.epochs)
    train_seconds = 0.0
    for epoch in range(args.epochs):
        model.train()
        selecting = args.method == "es" and anneal <= epoch < args.epochs - anneal
        sync()
        start = time.perf_counter()
        images = 0
        for x, y, index in train:
            x = x.to(device, non_blocking=True, memory_format=memory_format)
            y, index = y.to(device, non_blocking=True), index.to(device, non_blocking=True)
            if args.method == "es":
                with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    losses = F.cross_entropy(model(x).float(), y, reduction="none").double() if selecting else None
                if selecting:
                    s = scores[index]
                    weights = args.beta1 * s + (1 - args.beta1) * losses
                    scores[index] = args.beta2 * s + (1 - args.beta2) * losses
                    rows = torch.multinomial(weights.float(), min(b, len(y)), replacement=False)
                    x, y, index = x[rows], y[rows], index[rows]
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                per_sample = F.cross_entropy(model(x).float(), y, reduction="none")
            loss = per_sample.mean()
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            if args.method == "es" and not selecting:  # annealing: the step's own losses update s
                with torch.no_grad():
                    s = scores[index]
                    scores[index] = args.beta2 * s + (1 - args.beta2) * per_sample.detach().double()
            images += len(y)
        sync()
        seconds = time.perf_counter() - start
        train_seconds += seconds
        model.eval()
        correct = 0
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            for x, y, _ in test:
                x = x.to(device, non_blocking=True, memory_format=memory_format)
                correct += (model(x).argmax(1) == y.to(device)).sum().item()
        print(json.dumps({"epoch": epoch, "train_seconds": seconds, "backprop_images": images,
                          "images_per_s": len(train_y) / seconds, "test_acc": correct / len(test_y)}), flush=True)
    print(json.dumps({"summary": True, "method": args.method, "epochs": args.epochs, "train_time_s": train_seconds,
                      "final_test_acc": correct / len(test_y)}), flush=True)


if __name__ == "__main__":
    main()
