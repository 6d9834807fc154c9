"""train/select.py: which epoch of a phase each rule keeps, and early stopping."""

import pytest

from train import select

# a phase's validation records: an early lucky accuracy peak (epoch 2), a tie at the top
# (epochs 2 and 5) and the lowest loss at epoch 4
HISTORY = [dict(epoch=e, valid_accuracy=a, valid_loss=v) for e, a, v in
           [(1, 0.80, 0.70), (2, 0.95, 0.40), (3, 0.90, 0.30), (4, 0.93, 0.20),
            (5, 0.95, 0.25), (6, 0.94, 0.26)]]


@pytest.mark.parametrize("rule,epoch", [("metric", 2), ("metric-last", 5), ("loss", 4),
                                        ("metric-loss", 5), ("last", 6)])
def test_selection_rules_on_a_hand_written_history(rule, epoch):
    assert select.choose(HISTORY, rule) == epoch
    # online: the epoch a rule ends with is one it named right after that epoch, which is
    # when the trainer copies the weights
    assert select.choose(HISTORY[:epoch], rule) == epoch


def test_selection_on_bits_per_character_keeps_the_lowest():
    recs = [dict(epoch=1, valid_bpc=2.0), dict(epoch=2, valid_bpc=1.5),
            dict(epoch=3, valid_bpc=1.5), dict(epoch=4, valid_bpc=1.7)]
    assert select.choose(recs, "metric", "bpc") == 2
    assert select.choose(recs, "metric-last", "bpc") == 3
    assert select.choose(recs, "loss", "bpc") == 1  # no valid_loss: every epoch ties, first
    with pytest.raises(ValueError, match="rule 'best' is not one of loss"):
        select.choose(recs, "best")


def test_early_stopping_counts_epochs_past_the_kept_one():
    assert [select.stop_after(HISTORY[:n], "loss", "accuracy", 2) for n in range(1, 7)] == \
        [False, False, False, False, False, True]  # kept epoch 4, stop after 6
    assert not select.stop_after(HISTORY, "loss", "accuracy", 0)  # 0: off
    assert not select.stop_after(HISTORY, "last", "accuracy", 1)  # last: always the newest
