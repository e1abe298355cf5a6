"""xtalgen: physics- and symmetry-guided generative models for inorganic crystals."""

__version__ = "0.1.0"
