"""Your own PyTorch CNN, your own training loop, measured by infoplane.

A small CNN learns scikit-learn's bundled 8x8 digits (no download) with Adam in
mini-batches, in a loop written here. Every few epochs ``activations`` catches the
outputs of named modules by forward hooks (in evaluation mode, without gradients,
hooks removed after) while the model runs over the images, and ``plane.record``
measures them: the pooled convolution maps (4 channels of 3x3, one layer of 36
units), the hidden layer and the class probabilities.

    pip install torch
    python examples/torch_cnn.py --epochs 100 --out runs/torch_cnn
    infoplane summary runs/torch_cnn
"""

import argparse
from collections import OrderedDict
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch import nn

import infoplane as ip
from infoplane.torch import activations


def main(epochs: int = 100, every: int = 5, out: "str | None" = None) -> ip.Result:
    digits = load_digits()
    x = torch.tensor(digits.images[:, None] / 16.0, dtype=torch.float32)  # N,1,8,8
    y = torch.tensor(digits.target)

    plane = ip.InformationPlane(
        x,  # any shape: each image is one input
        y,
        estimators=["binning-width:width=0.07", "kde-upper:var=0.1"],
        units="bits",
        name="PyTorch CNN on digits",
    )

    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            features=nn.Sequential(
                nn.Conv2d(1, 4, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2)
            ),
            classifier=nn.Sequential(
                nn.Flatten(),
                nn.Linear(36, 16),
                nn.Tanh(),
                nn.Dropout(0.1),  # off while measuring (evaluation mode)
                nn.Linear(16, 10),
                nn.Softmax(dim=1),
            ),
        )
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    layers = {"features.2": "conv", "classifier.2": "fc", "classifier.5": "output"}

    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for batch in order.split(128):
            probs = model(x[batch])
            loss = nn.functional.nll_loss(torch.log(probs + 1e-12), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch % every == 0 or epoch == epochs - 1:
            with activations(model, layers) as acts:
                probs = torch.cat([model(b) for b in x.split(512)])
            accuracy = (probs.argmax(1) == y).float().mean().item()
            plane.record(epoch, acts, metrics={"train_accuracy": accuracy})

    result = plane.result()
    if out is not None:
        result.save(out, overwrite=True)
        result.plot().figure.savefig(Path(out) / "plane.png", dpi=150)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--out", default="runs/torch_cnn")
    args = parser.parse_args()
    result = main(args.epochs, args.every, args.out)
    from infoplane.analysis import summary_table

    print(summary_table(result))
    print(f"wrote {args.out}/")
