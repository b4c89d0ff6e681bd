import math

import pytest
import torch
from torch.testing import assert_close

from wganlab.errors import MetricError
from wganlab.metrics.inception_score import inception_score


def test_uniform_predictions_score_one():
    assert_close(inception_score(torch.zeros(20, 7), splits=2), (1.0, 0.0))


def test_confident_distinct_classes_score_the_number_of_classes():
    assert_close(inception_score(torch.eye(5) * 1000, splits=1), (5.0, 0.0))
    # Ten classes in two splits of five distinct ones each.
    assert_close(inception_score(torch.eye(10) * 1000, splits=2), (5.0, 0.0))


def test_two_soft_predictions_by_hand():
    # p = (3/4, 1/4) and (1/4, 3/4): marginal (1/2, 1/2), KL = 3/4 ln(3/2) + 1/4 ln(1/2) for both.
    logits = torch.tensor([[0.75, 0.25], [0.25, 0.75]]).log()
    expected = math.exp(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert_close(inception_score(logits, splits=1), (expected, 0.0))


def test_too_few_samples_for_the_splits():
    with pytest.raises(MetricError, match="splits=10"):
        inception_score(torch.zeros(5, 3))
