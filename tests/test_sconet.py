"""The network matches OpenGait's ScoNet layout and forward semantics."""

from __future__ import annotations

import torch

from screen.model.sconet import (
    ScoNet,
    class_probabilities,
    count_trainable_parameters,
    inference_backbone,
    pool_windows,
)

# From SCONET_FACTS.md: a few keys with their shapes, the count of entries and parameters.
EXPECTED_SHAPES = {
    "Backbone.forward_block.conv1.conv.weight": (64, 1, 3, 3),
    "Backbone.forward_block.bn1.running_var": (64,),
    "Backbone.forward_block.layer1.0.conv1.weight": (64, 64, 3, 3),
    "Backbone.forward_block.layer2.0.conv1.weight": (128, 64, 3, 3),
    "Backbone.forward_block.layer2.0.conv2.weight": (128, 128, 3, 3),
    "Backbone.forward_block.layer2.0.downsample.0.weight": (128, 64, 1, 1),
    "Backbone.forward_block.layer2.0.downsample.1.weight": (128,),
    "Backbone.forward_block.layer3.0.conv1.weight": (256, 128, 3, 3),
    "Backbone.forward_block.layer3.0.downsample.0.weight": (256, 128, 1, 1),
    "Backbone.forward_block.layer4.0.conv2.weight": (512, 512, 3, 3),
    "Backbone.forward_block.layer4.0.downsample.0.weight": (512, 256, 1, 1),
    "FCs.fc_bin": (16, 512, 256),
    "BNNecks.bn1d.weight": (4096,),
    "BNNecks.bn1d.num_batches_tracked": (),
    "BNNecks.fc_bin": (16, 256, 3),
}


def test_state_dict_matches_the_facts_file():
    state = ScoNet().state_dict()
    assert len(state) == 79
    for key, shape in EXPECTED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert (
        "Backbone.forward_block.layer1.0.downsample.0.weight" not in state
    )  # no shortcut conv in stage 1
    assert not any(key.startswith("module.") for key in state)


def test_trainable_parameter_count():
    assert count_trainable_parameters(ScoNet()) == 7_014_592


def test_output_shapes_and_cosine_range():
    model = ScoNet().eval()
    with torch.no_grad():
        out = model(torch.rand(2, 12, 64, 44))
    assert out.embeddings.shape == (2, 256, 16)
    assert out.logits.shape == (2, 3, 16)
    assert out.logits.abs().max() <= 1.0 + 1e-5  # cosine similarities


def test_time_pooling_is_a_max_over_frames_so_order_does_not_matter():
    model = ScoNet().eval()
    frames = torch.rand(1, 10, 64, 44)
    with torch.no_grad():
        a = model(frames).logits
        b = model(frames[:, torch.randperm(10)]).logits
    torch.testing.assert_close(a, b)


def test_seqL_batches_uneven_sequences_like_separate_calls():
    model = ScoNet().eval()
    first, second = torch.rand(1, 7, 64, 44), torch.rand(1, 4, 64, 44)
    with torch.no_grad():
        joint = model(torch.cat([first, second], dim=1), seqL=[7, 4]).logits
        apart = torch.cat([model(first).logits, model(second).logits])
    torch.testing.assert_close(joint, apart, rtol=1e-4, atol=1e-5)


def test_pooled_frame_features_equal_recomputed_windows():
    model = ScoNet().eval()
    frames = torch.rand(40, 64, 44)
    with torch.no_grad():
        features = model.frame_features(frames)
        pooled = model.head(pool_windows(features, [(0, 30), (10, 40)])).logits
        direct = torch.cat([model(frames[None, 0:30]).logits, model(frames[None, 10:40]).logits])
    torch.testing.assert_close(pooled, direct, rtol=1e-4, atol=1e-5)


def test_probabilities_use_the_training_scale():
    logits = torch.zeros(1, 3, 16)
    logits[0, 2] = 0.5  # cosine 0.5 for class 2 on every strip
    probabilities = class_probabilities(logits)[0]
    assert abs(float(probabilities.sum()) - 1) < 1e-6
    expected = torch.softmax(torch.tensor([0.0, 0.0, 8.0]), 0)
    torch.testing.assert_close(probabilities, expected)


def test_the_inference_backbone_folds_batch_norms_without_changing_features():
    torch.manual_seed(3)
    model = ScoNet().eval()
    for module in model.modules():  # trained-looking statistics, not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    folded = inference_backbone(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    frames = (torch.rand(4, 64, 44) > 0.5).float()
    with torch.inference_mode():
        expected = model.frame_features(frames)
        got = folded(frames.unsqueeze(1))
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert "Backbone.forward_block.bn1.weight" in model.state_dict()  # the model is untouched
