"""Training: the autoencoder on clean photos, denoisers on synthetic degradations."""
