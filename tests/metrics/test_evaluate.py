import pytest
import torch
from torch.testing import assert_close

from wganlab.errors import MetricError
from wganlab.metrics.evaluate import evaluate_images
from wganlab.metrics.fid import fid_from_features
from wganlab.metrics.kid import kid_from_features, mmd2_unbiased
from wganlab.metrics.precision_recall import precision_recall
from wganlab.metrics.reference import (
    ReferenceStats,
    cache_file,
    load_reference,
    make_reference_key,
    save_reference,
)


class PixelFeatures(torch.nn.Module):
    """A stand-in for Inception: the flattened pixels of 1x4x4 images (16-d features)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().flatten(1)


def images(count: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return (torch.randn(count, 1, 4, 4, generator=torch.Generator().manual_seed(seed)) * 0.3 + shift).clamp(-1, 1)


def evaluate(fake, real, metrics, **options):
    defaults = dict(n=200, extractor=PixelFeatures(), rng=torch.Generator().manual_seed(0), device="cpu")
    defaults.update(kid_subset_size=50, kid_subsets=10, progress=False)
    return evaluate_images(fake, real, metrics, **{**defaults, **options})


def test_values_match_the_metric_functions():
    fake, real = images(200, 1, shift=0.2), images(300, 2)
    values = evaluate(fake, real, ["fid", "kid", "pr"], batch_size=64)
    fake_features, real_features = fake.flatten(1), real.flatten(1)
    assert_close(values["fid"], fid_from_features(fake_features, real_features))
    kid = kid_from_features(
        fake_features, real_features, rng=torch.Generator().manual_seed(0), num_subsets=10, subset_size=50
    )
    assert_close((values["kid_mean"], values["kid_std"]), kid)
    assert_close((values["precision"], values["recall"]), precision_recall(real_features, fake_features))


def test_a_generator_callable_gives_the_same_values_as_its_images():
    fake = images(200, 3)
    handed_out = iter(fake.split(64))
    from_callable = evaluate(lambda count: next(handed_out)[:count], images(200, 4), ["fid"], batch_size=64)
    from_tensor = evaluate(fake, images(200, 4), ["fid"], batch_size=64)
    assert_close(from_callable, from_tensor)


def test_cached_reference_is_reused_without_real_images(tmp_path):
    real = images(300, 5)
    first = evaluate(images(200, 6), real, ["fid"], reference_key="abc", cache_dir=tmp_path)
    assert cache_file(tmp_path, "abc").is_file()
    again = evaluate(images(200, 6), None, ["fid"], reference_key="abc", cache_dir=tmp_path)
    assert_close(first, again)
    with pytest.raises(MetricError, match="no cached reference statistics"):
        evaluate(images(200, 6), None, ["fid"], reference_key="other", cache_dir=tmp_path)


def test_reference_round_trip_and_key(tmp_path):
    features = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    stats = ReferenceStats.from_features(features)
    save_reference(tmp_path, "k1", stats)
    loaded = load_reference(tmp_path, "k1")
    assert_close(loaded.mean, stats.mean)
    assert_close(loaded.covariance, stats.covariance)
    assert_close(loaded.features, features)
    assert load_reference(tmp_path, "missing") is None
    assert [p.name for p in tmp_path.iterdir()] == ["reference-k1.pt"]  # no temporary left behind
    cache_file(tmp_path, "bad").write_bytes(b"garbage")
    with pytest.raises(MetricError, match="delete the file"):
        load_reference(tmp_path, "bad")

    weights = tmp_path / "net.pt"
    weights.write_bytes(b"one")
    fields = dict(source="idx", path="/data", split="train", image_size=28, count=10_000)
    key = make_reference_key(**fields, feature_file=weights)
    assert key == make_reference_key(**fields, feature_file=weights)
    assert key != make_reference_key(**{**fields, "count": 5_000}, feature_file=weights)
    other = tmp_path / "other.pt"
    other.write_bytes(b"two")
    assert key != make_reference_key(**fields, feature_file=other)


def test_user_errors_are_raised_before_any_work():
    choices = "choose from cs_fmnist, fd_fmnist, fid, is, kid, modes_stacked, pr"
    with pytest.raises(MetricError, match=f"unknown image metric .precision.; {choices}"):
        evaluate(images(10, 0), images(10, 1), ["fid", "precision"])
    with pytest.raises(MetricError, match="pass --inception-weights PATH to pytorch-fid's pt_inception-2015-12-05"):
        evaluate(images(10, 0), images(10, 1), ["is"])
    with pytest.raises(MetricError, match="subset_size=50"):
        evaluate(images(10, 0), images(10, 1), ["kid"], n=10)
    with pytest.raises(MetricError, match="only 10 fake images"):
        evaluate(images(10, 0), images(10, 1), ["fid"], n=20)


def test_inception_score_through_a_classifier_needs_no_real_images():
    # Uniform class probabilities: p(y|x) = p(y), so every KL term is 0 and the score is exp(0) = 1.
    uniform = evaluate(images(20, 0), None, ["is"], n=20, classifier=lambda x: torch.zeros(len(x), 5), is_splits=2)
    assert_close((uniform["is_mean"], uniform["is_std"]), (1.0, 0.0))

    # Each image certain of its own class, 4 classes in turn: p(y) is uniform over 4, KL = log 4, IS = 4.
    def confident(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.arange(len(x)) % 4, 4).float() * 1e4

    values = evaluate(images(8, 0), None, ["is"], n=8, classifier=confident, is_splits=2, batch_size=8)
    assert_close((values["is_mean"], values["is_std"]), (4.0, 0.0))


def test_kid_reports_its_subset_size_and_no_std_when_every_subset_is_the_whole_set():
    fake, real = images(60, 1, shift=0.1), images(60, 2)
    whole = evaluate(fake, real, ["kid"], n=60, kid_subset_size=60)
    assert whole["kid_subset_size"] == 60 and whole["kid_subsets"] == 1 and "kid_std" not in whole
    assert_close(whole["kid_mean"], mmd2_unbiased(fake.flatten(1), real.flatten(1)))
    subsets = evaluate(fake, real, ["kid"], n=60, kid_subset_size=30, kid_subsets=10)
    assert subsets["kid_subset_size"] == 30 and subsets["kid_subsets"] == 10
    assert subsets["kid_std"] > 1e-6  # subsets of half the set differ: a real spread


def test_two_processes_needing_one_reference_compute_it_once(tmp_path):
    """The first runs of a study with --jobs 2 need the same reference at the same time: one computes it, the
    other waits on the lock and loads the cached file (threads open the lock file separately, so flock
    excludes them as it does processes)."""
    import threading
    import time

    real = images(300, 5)
    calls = []

    class SlowPixels(PixelFeatures):
        def forward(self, batch):
            calls.append(len(batch))
            time.sleep(0.05)
            return super().forward(batch)

    results = {}

    def job(name):
        results[name] = evaluate(images(200, 6), real, ["fid"], extractor=SlowPixels(), batch_size=100,
                                 reference_key="shared", cache_dir=tmp_path)  # fmt: skip

    threads = [threading.Thread(target=job, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 2 * 2 + 3  # 200 fakes per job in 2 batches of 100, the 300 real images once, in 3
    assert_close(results["a"], results["b"])
    assert cache_file(tmp_path, "shared").is_file()
