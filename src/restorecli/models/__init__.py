"""Neural networks: the VQ autoencoder, its quantizer and the latent denoiser."""

from restorecli.models.autoencoder import AutoencoderConfig, VQAutoencoder
from restorecli.models.quantizer import QuantizeResult, VectorQuantizer
from restorecli.models.serialization import load_model, read_metadata, save_model
from restorecli.models.unet import LatentUNet, UNetConfig

__all__ = [
    "AutoencoderConfig",
    "LatentUNet",
    "QuantizeResult",
    "UNetConfig",
    "VQAutoencoder",
    "VectorQuantizer",
    "load_model",
    "read_metadata",
    "save_model",
]
