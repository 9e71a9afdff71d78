"""The memory bank and the in-batch views: s_pos, s_neg against naive references, the EMA update."""

import pytest
import torch
import torch.nn.functional as F

from contrastive import losses, memory


def unit(*shape, seed=0):
    return F.normalize(
        torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64),
        dim=-1,
    )


def test_drop_own_entry_keeps_exactly_the_other_columns():
    s_all = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([0, 3, 6, 3])
    s_neg = memory.drop_own_entry(s_all, idx)
    assert s_neg.shape == (4, 6)
    for b, i in enumerate(idx.tolist()):
        expected = torch.cat([s_all[b, :i], s_all[b, i + 1 :]])
        torch.testing.assert_close(s_neg[b].sort().values, expected.sort().values)
    s_neg.sum().backward()  # every kept entry gets gradient 1, the own entry none
    mask = torch.ones(4, 7, dtype=torch.float64)
    mask[torch.arange(4), idx] = 0
    torch.testing.assert_close(s_all.grad, mask)


def test_bank_similarities_match_a_naive_loop():
    bank = memory.MemoryBank(9, 5, generator=torch.Generator().manual_seed(1))
    z = unit(3, 5).float()
    idx = torch.tensor([8, 0, 4])
    s_pos, s_neg = memory.bank_similarities(z, idx, bank.vectors)
    assert s_pos.shape == (3,) and s_neg.shape == (3, 8) and len(bank) == 9
    for b, i in enumerate(idx.tolist()):
        sims = bank.vectors @ z[b]
        torch.testing.assert_close(s_pos[b], sims[i])
        others = torch.cat([sims[:i], sims[i + 1 :]])
        torch.testing.assert_close(s_neg[b].sort().values, others.sort().values)


def test_bank_starts_as_random_unit_vectors_and_is_reproducible():
    a = memory.MemoryBank(50, 8, generator=torch.Generator().manual_seed(3))
    b = memory.MemoryBank(50, 8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.vectors.norm(dim=1), torch.ones(50))
    assert torch.equal(a.vectors, b.vectors)
    assert a.vectors.std(dim=0).min() > 0.1  # not all the same vector


def test_bank_update_is_the_normalised_moving_average():
    bank = memory.MemoryBank(6, 4, momentum=0.5, generator=torch.Generator().manual_seed(0))
    before = bank.vectors.clone()
    z = unit(2, 4, seed=5).float()
    idx = torch.tensor([4, 1])
    bank.update(z, idx)
    for b, i in enumerate(idx.tolist()):
        expected = F.normalize(0.5 * before[i] + 0.5 * z[b], dim=0)
        torch.testing.assert_close(bank.vectors[i], expected)
    untouched = [0, 2, 3, 5]
    assert torch.equal(bank.vectors[untouched], before[untouched])


def test_batch_similarities_match_a_naive_loop():
    b = 3
    z1, z2 = unit(b, 4, seed=1).float(), unit(b, 4, seed=2).float()
    s_pos, s_neg = memory.batch_similarities(z1, z2)
    assert s_pos.shape == (2 * b,) and s_neg.shape == (2 * b, 2 * b - 2)
    views = torch.cat([z1, z2])
    for i in range(2 * b):
        partner = (i + b) % (2 * b)
        torch.testing.assert_close(s_pos[i], views[i] @ views[partner])
        others = [views[i] @ views[j] for j in range(2 * b) if j not in (i, partner)]
        torch.testing.assert_close(s_neg[i].sort().values, torch.stack(others).sort().values)


def test_bank_contrastive_loss_is_the_authors_softmax_over_the_bank():
    """Eq. 1 with all N - 1 other entries as negatives = cross-entropy over the whole row, target = own index."""
    bank = memory.MemoryBank(20, 6, generator=torch.Generator().manual_seed(2))
    z, idx = unit(5, 6, seed=4).float(), torch.tensor([3, 0, 19, 7, 11])
    s_pos, s_neg = memory.bank_similarities(z, idx, bank.vectors)
    loss = losses.make("contrastive")(s_pos, s_neg, 0.07).mean()
    reference = F.cross_entropy((z @ bank.vectors.T) / 0.07, idx)
    torch.testing.assert_close(loss, reference)


def test_bad_values_are_rejected_naming_the_parameter():
    with pytest.raises(ValueError, match=r"^bank_momentum\b"):
        memory.MemoryBank(5, 3, momentum=1.0)
    with pytest.raises(ValueError, match=r"^n\b"):
        memory.MemoryBank(1, 3)
