"""CrysTens GAN, WGAN-GP and diffusion: training, sampling, their family entries."""
