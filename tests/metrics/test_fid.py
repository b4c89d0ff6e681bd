import numpy as np
import pytest
import torch
from torch.testing import assert_close

from wganlab.errors import MetricError
from wganlab.metrics import fid
from wganlab.metrics.fid import feature_statistics, fid_from_features, frechet_distance


def test_fid_of_a_set_with_itself_is_zero():
    features = torch.randn(400, 16, generator=torch.Generator().manual_seed(0))
    assert_close(fid_from_features(features, features), 0.0, atol=1e-8, rtol=0)


def test_identity_covariances_give_squared_mean_distance():
    mean_a, mean_b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 4.0, 3.5])
    value = frechet_distance(mean_a, np.eye(3), mean_b, np.eye(3))
    assert_close(value, 1.0 + 4.0 + 0.25, atol=1e-10, rtol=0)


def test_diagonal_covariances_match_closed_form():
    # For diagonal Σa, Σb: FID = ‖Δμ‖² + Σ (√a_i − √b_i)²; here 1 + (1−2)² + (2−1)² + (3−4)² = 4.
    value = frechet_distance(
        np.array([0.0, 0.0, 1.0]), np.diag([1.0, 4.0, 9.0]), np.zeros(3), np.diag([4.0, 1.0, 16.0])
    )
    assert_close(value, 4.0, atol=1e-10, rtol=0)


def test_statistics_match_numpy_across_chunks(monkeypatch):
    monkeypatch.setattr(fid, "CHUNK", 7)
    features = torch.randn(50, 5, generator=torch.Generator().manual_seed(1)) * 3 + 100
    mean, covariance = feature_statistics(features)
    rows = features.double().numpy()
    assert_close(mean, rows.mean(axis=0))
    assert_close(covariance, np.cov(rows, rowvar=False))


def test_singular_covariances_still_give_a_finite_value():
    # 5 samples in 16 dimensions: rank-4 covariances, as with too few generated images.
    rng = torch.Generator().manual_seed(2)
    a, b = torch.randn(5, 16, generator=rng), torch.randn(5, 16, generator=rng) + 1
    value = fid_from_features(a, b)
    assert np.isfinite(value) and value > 0


def test_too_few_samples_and_mismatched_shapes_are_user_errors():
    with pytest.raises(MetricError, match="at least 2 samples"):
        fid_from_features(torch.zeros(1, 4), torch.zeros(3, 4))
    with pytest.raises(MetricError, match="same feature extractor"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
