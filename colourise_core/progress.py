"""A text progress bar for training, as an ordinary Keras callback (the CLI's view of `train`)."""

from __future__ import annotations

import keras


class ProgressBar(keras.callbacks.Callback):
    """Prints "Epoch i/N", a `keras.utils.Progbar` over the epoch's batches, then the epoch's logs."""

    def __init__(self) -> None:
        super().__init__()
        self.bar: keras.utils.Progbar | None = None

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)
        self.bar = keras.utils.Progbar(self.params["steps"], stateful_metrics=None)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(batch + 1, values=[(k, v) for k, v in (logs or {}).items()], finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        shown = ", ".join(f"{k} {v:.5g}" for k, v in (logs or {}).items() if k != "epoch")
        print(f"\n  {shown}", flush=True)
