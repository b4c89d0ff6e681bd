"""wganlab: train, measure and compare GAN, WGAN and WGAN-GP."""

__version__ = "0.1.0"
