"""Sample-quality metrics. The names a user can ask for live here once, torch-free (the CLI's help lists them
without importing torch): each maps to the keys its values are written under."""

TOY_METRICS: dict[str, tuple[str, ...]] = {
    "w1": ("w1",),  # exact Wasserstein-1 distance to fresh real samples (POT)
    "sliced_w2": ("sliced_w2",),
    "modes": ("modes_hit", "modes_total", "high_quality_share"),
}
IMAGE_METRICS: dict[str, tuple[str, ...]] = {
    "fid": ("fid",),
    "fd_fmnist": ("fd_fmnist",),  # Fréchet distance in our Fashion-MNIST classifier's features: fast, not FID
    "cs_fmnist": ("cs_fmnist_mean", "cs_fmnist_std"),  # the IS formula on our classifier's 10 classes: not the IS
    "kid": ("kid_mean", "kid_std", "kid_subset_size", "kid_subsets"),  # no kid_std when one subset is the whole set
    "pr": ("precision", "recall"),
    "is": ("is_mean", "is_std"),  # needs --inception-weights (the 2015 TF Inception's classifier)
    # Stacked Fashion-MNIST: of 1,000 class triples, KL(generated || uniform) in nats and the modes covered
    "modes_stacked": ("modes_stacked_kl", "modes_stacked_covered"),
}
