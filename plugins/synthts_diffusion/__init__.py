"""Built-in diffusion family: a conditional denoising diffusion model for time series.

Three small objects, as diffusers keeps them apart: the noise schedule (``schedule.py``), the
sampler (DDIM, ``schedule.py``) and the denoising network (``denoiser.py``); ``model.py`` owns
training and sampling, ``state.py`` the safetensors weights and checkpoints, ``plugin.py`` the
hyper-parameter space. The modules under ``plugin.py`` need only torch and numpy, so a benchmark
runs them on a box without synthts.
"""
