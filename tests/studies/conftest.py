"""The study tests train small networks on a shared 2-core machine. Several intra-op threads there spin
against other jobs' threads (one 256x64 matmul step measured 0.68 s with 2 threads vs 0.005 s with 1), so
every test here runs single-threaded; the numbers they compare are then also independent of the core count."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
