"""The model families' names, importable without Keras.

`colourise_core.models.FAMILIES` is the registry of the families' code and imports Keras (and so
TensorFlow, seconds at start-up). What only needs the names (reading the weights manifest, the
CLI's choices, the app's labels, the ONNX runtime) reads them here, so a process that runs the
ONNX runtime never imports TensorFlow. tests/test_onnx.py checks that the two agree.
"""

FAMILY_NAMES = ("cnn", "cgan", "cvae", "unet")
DISSERTATION_FAMILIES = ("cnn", "cgan", "cvae")  # the 2020 dissertation's three; unet goes past it
VIVIDNESS_FAMILIES = ("unet",)  # their temperature is the annealed mean's: --vividness, the app's slider
HINT_FAMILIES = ("unet",)  # they take user colour hints: --hints, the Guide page
SAMPLING_FAMILIES = ("cvae",)  # their outputs are samples: --samples, --temperature (the latent spread)
FIXED_SIZE_FAMILIES = ("cvae",)  # dense layers: they always see R x R, whatever --render-size says
# the dissertation's recipe trains them for a fixed epoch budget, without early stopping: a GAN's validation
# generator loss does not settle (5.1); the reproduction, scripts/train_sets.py and the benchmarks follow it
FIXED_BUDGET_FAMILIES = ("cgan",)
ADVERSARIAL_FAMILIES = ("cgan",)  # their logs are d_loss/g_loss (and val_ ones), not loss/val_loss
