import numpy as np
import pytest

import infoplane as ip


def test_measure_on_the_test_set_counts_only_test_inputs():
    exp = ip.preset(
        "tishby2017", seeds=2, epochs=20, measure="every:10", grad_stats=False
    )
    on = {where: ip.run(exp.replace(measure_on=where)) for where in ("train", "test")}
    test_size = on["test"].arrays["test_size"]
    assert (test_size == 4096 - on["test"].arrays["train_size"]).all()
    # Each test input is its own symbol at most: I(X;T) <= log2(test inputs).
    assert (on["test"].i_xt[:, :, 0, 0] <= np.log2(test_size)[:, None] + 1e-9).all()
    assert on["test"].i_xt[:, :, 0, 0].max() > 0.9 * np.log2(test_size).max()
    assert not np.allclose(on["test"].i_xt, on["train"].i_xt)
    # Training does not depend on where the information is measured.
    np.testing.assert_array_equal(
        on["test"].arrays["train_loss"], on["train"].arrays["train_loss"]
    )


def test_run_reports_progress_to_the_last_epoch(monkeypatch):
    import tqdm.auto

    bars = []

    postfixes = []

    class Recording(tqdm.auto.tqdm):
        def set_postfix_str(self, s="", refresh=True):
            postfixes.append((self.n, s))
            super().set_postfix_str(s, refresh)

        def close(self):
            bars.append(self.n)
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    seen = []
    ip.run(
        ip.preset("seed", hidden=(4,), epochs=45, measure="every:20"),
        on_chunk=lambda epochs, chunk: seen.extend(epochs),
        progress=True,
    )
    assert seen == [0, 20, 40]
    assert bars[0] == 45  # the epochs after the last measurement count too
    assert postfixes == [(0, "compiling"), (0, "")]  # until the first chunk is back


def test_a_data_file_too_small_to_split_fails_before_training(tmp_path):
    np.savez(tmp_path / "tiny.npz", inputs=np.eye(3), labels=[0, 1, 2])
    with pytest.raises(ValueError, match="empty"):
        ip.run(ip.preset("seed", task=f"file:{tmp_path / 'tiny.npz'}"))
