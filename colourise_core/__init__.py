"""colourise_core: automatic image colourisation in YUV with a CNN, a CGAN and a CVAE.

A reproduction of "Deep Learning Methods to Solve the Inverse Problem of Artificial Image
Colourisation" (University of Glasgow, 2020) as a library. The library never imports Streamlit.
"""

__version__ = "0.1.0"
