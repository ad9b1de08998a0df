"""The fidelity path: gated skips from the degraded frame into the frozen decoder."""

from __future__ import annotations

import pytest
import torch

from restorecli.models.fidelity import FidelityConfig, FidelityNet

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _tiny(make_tiny_models, seed: int = 0):
    ae, _ = make_tiny_models()
    cfg = ae.config
    net = FidelityNet(
        FidelityConfig(channels=cfg.channels, half_channels=cfg.half_channels, head_channels=8)
    )
    torch.manual_seed(seed)
    with torch.no_grad():  # trained-looking weights: every branch contributes
        for p in net.parameters():
            p.normal_(0, 0.2)
    return ae, net.eval()


def test_encoder_features_end_in_z_e(make_tiny_models) -> None:
    ae, _ = make_tiny_models()
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    feats = ae.features(x)
    assert torch.equal(feats.z_e, ae.encode(x))
    assert feats.half.shape == (2, ae.config.half_channels, 16, 24)
    assert feats.quarter.shape == (2, ae.config.channels, 8, 12)


def test_decoder_stages_compose_to_the_decoder(make_tiny_models) -> None:
    ae, _ = make_tiny_models()
    z = torch.randn(1, 3, 8, 8)
    staged = torch.nn.functional.pixel_shuffle(
        ae.decoder.to_pixels(ae.decoder.to_half(ae.decoder.trunk(z))), 2
    )
    assert torch.equal(staged, ae.decode(z))


def test_weight_zero_is_the_plain_decoder(make_tiny_models) -> None:
    ae, net = _tiny(make_tiny_models)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z = ae.quantize(ae.encode(x))[0]
    out = net.decode(ae.decoder, z, ae.features(x), x, weight=0.0)
    assert torch.equal(out, ae.decode(z))
    assert not torch.allclose(net.decode(ae.decoder, z, ae.features(x), x, 1.0), out)


def test_an_untrained_head_starts_halfway_between_decoder_and_input(make_tiny_models) -> None:
    # Zero-initialised value and output layers: mask 0.5 and no correction.
    ae, _ = make_tiny_models()
    cfg = ae.config
    net = FidelityNet(FidelityConfig(cfg.channels, cfg.half_channels, head_channels=8)).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z = ae.quantize(ae.encode(x))[0]
    out = net.decode(ae.decoder, z, ae.features(x), x)
    torch.testing.assert_close(out, (ae.decode(z) + x) / 2)


def test_a_full_mask_returns_the_input_exactly(make_tiny_models) -> None:
    ae, net = _tiny(make_tiny_models)
    with torch.no_grad():
        net.head_out.weight.zero_()
        net.head_out.bias.zero_()
        net.head_out.bias[:12] = 40.0  # sigmoid = 1: all from the degraded frame
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z = ae.quantize(ae.encode(x))[0]
    torch.testing.assert_close(net.decode(ae.decoder, z, ae.features(x), x), x)


def test_the_output_depends_on_a_bounded_neighbourhood(make_tiny_models) -> None:
    # Local layers only, so tiles agree with the whole frame once the overlap covers this.
    ae, net = _tiny(make_tiny_models)
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    z = ae.quantize(ae.encode(x))[0]
    base = net.decode(ae.decoder, z, ae.features(x), x)
    x2 = x.clone()
    x2[..., 120:, 120:] = 0
    moved = net.decode(ae.decoder, z, ae.features(x2), x2)
    assert torch.equal(moved[..., :32, :32], base[..., :32, :32])


def test_a_frame_context_is_silent_until_trained_and_needed_once_trained(make_tiny_models):
    ae, net = _tiny(make_tiny_models)
    cfg = net.config
    grown = FidelityNet(FidelityConfig(cfg.channels, cfg.half_channels, 8, context=8))
    state = grown.state_dict()
    for name, tensor in net.state_dict().items():  # the old weights, zeros for the new inputs
        if state[name].shape == tensor.shape:
            state[name] = tensor
        else:
            state[name] = torch.zeros_like(state[name])
            state[name][:, : tensor.shape[1]] = tensor
    grown.load_state_dict(state)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z = ae.quantize(ae.encode(x))[0]
    context = grown.encode_context(x)
    assert context.grid is not None and context.grid.shape[-2:] == z.shape[-2:]
    out = grown.decode(ae.decoder, z, ae.features(x), x, context=context)
    torch.testing.assert_close(out, net.decode(ae.decoder, z, ae.features(x), x))
    with pytest.raises(ValueError, match="needs the frame context"):
        grown.decode(ae.decoder, z, ae.features(x), x)


def test_one_by_one_kernels_keep_the_path_and_other_sizes_are_refused(make_tiny_models):
    ae, _ = make_tiny_models()
    cfg = ae.config
    fast = FidelityConfig(
        cfg.channels, cfg.half_channels, head_channels=8, quarter_kernel=1, head_in_kernel=1
    )
    net = FidelityNet(fast).eval()
    assert net.quarter_value.weight.shape[2:] == (1, 1)
    assert net.head_in.weight.shape[2:] == (1, 1)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z = ae.quantize(ae.encode(x))[0]
    torch.testing.assert_close(net.decode(ae.decoder, z, ae.features(x), x), (ae.decode(z) + x) / 2)
    with pytest.raises(ValueError, match="quarter_kernel must be 1 or 3"):
        FidelityNet(FidelityConfig(cfg.channels, cfg.half_channels, quarter_kernel=5))
