"""The 15 shipped weight sets: 3 models x 5 data sets (issue: pretrained weights)."""

SETS = {
    # name: dataset, classes, resolution, extra TrainConfig fields
    "shapes": dict(dataset="shapes", classes=None, resolution=64, extra=dict(limit=8000, luma_matched=True)),
    "cifar10": dict(dataset="cifar10", classes=None, resolution=32, extra={}),
    "cifar10-horse": dict(dataset="cifar10", classes=("horse",), resolution=32, extra={}),
    "faces": dict(dataset="faces", classes=None, resolution=128, extra={}),
    "imagenette": dict(dataset="imagenette", classes=None, resolution=128, extra={}),
}
MODELS = ("cnn", "cgan", "cvae")
# The archive each set is read from, relative to the data folder (shapes are generated).
ARCHIVES = {"cifar10": "cifar10.zip", "faces": "faces-128.zip", "imagenette": "imagenette-128.zip"}
