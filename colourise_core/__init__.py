"""colourise_core: image colourisation in YUV: the dissertation's CNN, CGAN and CVAE, a U-Net, guided methods.

A reproduction of "Deep Learning Methods to Solve the Inverse Problem of Artificial Image
Colourisation" (University of Glasgow, 2020) as a library. The library never imports Streamlit.
"""

import os

__version__ = "0.1.0"

# Quiet TensorFlow's C++ start-up banner (CPU feature notes) unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
