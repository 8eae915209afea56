"""The thumbnail diffusion model (models/thumbnail). Entry point: `python -m training.thumbnail`."""
