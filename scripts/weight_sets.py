"""The shipped weight sets: 3 models x 5 data sets (issue: pretrained weights), and single-CVAE sets."""

from colourise_core.models import DISSERTATION_MODELS

SETS = {
    # name: dataset, classes, resolution, extra TrainConfig fields
    "shapes": dict(dataset="shapes", classes=None, resolution=64, extra=dict(limit=8000, luma_matched=True)),
    "cifar10": dict(dataset="cifar10", classes=None, resolution=32, extra={}),
    "cifar10-horse": dict(dataset="cifar10", classes=("horse",), resolution=32, extra={}),
    "faces": dict(dataset="faces", classes=None, resolution=128, extra={}),
    "imagenette": dict(dataset="imagenette", classes=None, resolution=128, extra={}),
    # Figure 5.6: a CVAE trained for diversity on the Frog class, reconstruction weighted up so
    # the latent carries colour information (with W = 1 the KL term empties it).
    "cifar10-frog-diverse": dict(dataset="cifar10", classes=("frog",), resolution=32,
                                 extra=dict(recon_weight=100000.0), models=("cvae",)),
    # Issue 12 (6.1.3, Deshpande et al. 2017): the CVAE with an 8-component MDN conditional
    # encoder, chroma-rarity weighted reconstruction, a chroma-gradient term and free bits;
    # trained on the CPU with scripts/export_run.py (the command is in the manifest).
    "imagenette-mdn": dict(dataset="imagenette", classes=None, resolution=128, models=("cvae",),
                           extra=dict(latent_dim=64, mdn_components=8, recon_weight=10000.0, rarity_mix=0.5,
                                      grad_weight=10000.0, free_bits=0.5)),
    "faces-mdn": dict(dataset="faces", classes=None, resolution=128, models=("cvae",),
                      extra=dict(latent_dim=64, mdn_components=8, recon_weight=10000.0, rarity_mix=0.5,
                                 grad_weight=10000.0, free_bits=0.5)),
    # Issue 10, item 3: the Shape Set CGAN as the field later fixed it (pix2pix: a discriminator that
    # sees Y beside UV, an L1 term), with a slower discriminator and one-sided label smoothing; the
    # best epoch by validation L1 is shipped (scripts/export_run.py --best).
    "shapes-pix2pix": dict(dataset="shapes", classes=None, resolution=64, models=("cgan",),
                           extra=dict(limit=8000, luma_matched=True, conditional_discriminator=True)),
}
MODELS = DISSERTATION_MODELS  # every shipped set holds (at most) the dissertation's three
# The archive each set is read from, relative to the data folder (shapes are generated).
ARCHIVES = {"cifar10": "cifar10.zip", "faces": "faces-128.zip", "imagenette": "imagenette-128.zip"}
