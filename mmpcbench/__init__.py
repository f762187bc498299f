"""MMPCBench: missing-modality product completion benchmark (arXiv 2601.19750), as a library.

Every pipeline stage is a plain function in a submodule; the Snakemake workflow only wires files to
them. Nothing here imports snakemake or touches the network at import time.
"""

__version__ = "0.1.0"
