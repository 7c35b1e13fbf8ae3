"""Mixture Density Network maths for the CVAE's conditional encoder (dissertation 6.1.3).

Deshpande et al., "Learning Diverse Image Colorization" (CVPR 2017), model the one-to-many map
from a grey image to colour-field embeddings with a Mixture Density Network: for a luma Y the
conditional encoder gives K diagonal Gaussians over the latent z and their mixing weights,

    q(z | Y) = sum_k pi_k N(z; mu_k, diag(exp(logvar_k))),   pi = softmax(logits).

It is trained by the negative log-likelihood of the training encoder's latent code under the
mixture, and sampled by choosing a component by its weight (or as the user asks) and drawing
within it, the temperature scaling the component's standard deviation.

Shapes: logits (N, K), means (N, K, L), logvars (N, K, L) for N images, K components, L latent
dimensions. The loss is keras.ops (it runs inside `compute_loss`); sampling is numpy (inference).
"""

from __future__ import annotations

import math

from keras import layers, ops

# the numpy side (weights, component choice, sampling) is Keras-free, shared with the ONNX runtime
from colourise_core.onnx_decoding import choose_components, mixture_weights, sample_latent  # noqa: F401

LOG_2PI = math.log(2.0 * math.pi)


def mixture_head(x, components: int, latent_dim: int, name: str):
    """The MDN outputs from a feature vector x (N, F).

    Returns:
        [logits (N, K), means (N, K, L), logvars (N, K, L)] as keras tensors.
    """
    logits = layers.Dense(components, name=f"{name}_logits")(x)
    means = layers.Reshape((components, latent_dim), name=f"{name}_means")(layers.Dense(components * latent_dim, name=f"{name}_mu")(x))
    logvars = layers.Reshape((components, latent_dim), name=f"{name}_logvars")(layers.Dense(components * latent_dim, name=f"{name}_logvar")(x))
    return [logits, means, logvars]


def component_log_prob(z, means, logvars):
    """log N(z; mu_k, diag(exp(logvar_k))) of each component.

    Args:
        z: (N, L); means, logvars: (N, K, L).
    Returns:
        (N, K): -1/2 sum_l [log 2 pi + logvar_kl + (z_l - mu_kl)^2 / exp(logvar_kl)].
    """
    diff = ops.expand_dims(z, 1) - means  # (N, K, L)
    per_dim = LOG_2PI + logvars + ops.square(diff) * ops.exp(-logvars)
    return -0.5 * ops.sum(per_dim, axis=-1)


def mixture_nll(z, logits, means, logvars):
    """Negative log-likelihood of z under the mixture (Deshpande et al., the MDN loss).

    -log sum_k pi_k N(z; mu_k, var_k), computed stably as -logsumexp_k(log_softmax(logits)_k +
    log N_k).

    Args:
        z: (N, L) latent codes; logits (N, K); means, logvars (N, K, L).
    Returns:
        (N,) tensor.
    """
    log_pi = ops.log_softmax(logits, axis=-1)  # (N, K)
    return -ops.logsumexp(log_pi + component_log_prob(z, means, logvars), axis=-1)




def kl_to_standard_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per dimension: (mu^2 + var - 1 - logvar) / 2, shape of mu."""
    return 0.5 * (ops.square(mu) + ops.exp(logvar) - 1.0 - logvar)


def free_bits_kl(kl_per_dim, free_bits: float):
    """Sum over dimensions of max(batch-mean KL of the dimension, free_bits) (Kingma et al. 2016).

    Below `free_bits` nats a dimension's KL is not charged (zero gradient), so the encoder may
    use that much information per dimension for free and the latent is not ignored.

    Args:
        kl_per_dim: (N, L).
    Returns:
        scalar: per-image KL as the loss sees it.
    """
    per_dim = ops.mean(kl_per_dim, axis=0)  # (L,)
    if free_bits > 0:
        per_dim = ops.maximum(per_dim, free_bits)
    return ops.sum(per_dim)


def kl_anneal_factor(step, anneal_steps: int):
    """The KL weight at an optimizer step: ramps linearly 0 -> 1 over `anneal_steps` (0: always 1)."""
    if anneal_steps <= 0:
        return 1.0
    return ops.minimum(1.0, ops.cast(step, "float32") / float(anneal_steps))

