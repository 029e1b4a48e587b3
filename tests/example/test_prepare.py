"""``load_data``: each ``config.data`` reaches its loader with the config's sizes, seed, crop and file, on small
files written with the published layouts (no dataset is fetched)."""

import pickle
import warnings

import numpy as np
import pytest

from examples.sentiment.config import TrainConfig
from examples.sentiment.data import UNALIGNED_NAMES, SyntheticConfig, make_synthetic, write_mmsa, write_sdk, write_unaligned
from examples.sentiment.prepare import load_data

TINY = SyntheticConfig(n_train=12, n_valid=6, n_test=5, audio_len=8, vision_len=8, min_len=3)


@pytest.fixture(scope="module")
def tiny():
    return make_synthetic(TINY, seed=1)


def test_synthetic_data_has_the_configured_sizes_and_seed():
    data = load_data(TrainConfig(data="synthetic", synthetic_size=(30, 7, 9), data_seed=4))
    assert (len(data.train), len(data.valid), len(data.test)) == (30, 7, 9)
    again, other = (load_data(TrainConfig(data="synthetic", synthetic_size=(30, 7, 9), data_seed=s)) for s in (4, 5))
    np.testing.assert_array_equal(data.train.labels, again.train.labels)
    assert not np.array_equal(data.train.labels, other.train.labels)


def test_mmsa_file_is_read_with_the_configured_file_and_crop(tiny, tmp_path):
    write_mmsa(tiny, tmp_path, file_name="aligned_50.pkl")
    config = TrainConfig(data="mmsa", data_dir=str(tmp_path), mmsa_file="aligned_50.pkl", max_len=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the crop warns; its wording is tested with the loader
        data = load_data(config)
    np.testing.assert_allclose(data.test.labels, tiny.test.labels)
    assert data.train.audio.shape[1] == 3 and (data.train.audio_lengths <= 3).all()


@pytest.mark.parametrize("dataset", ["mosi", "mosei"])
def test_unaligned_and_sdk_files_are_found_by_dataset_name(tiny, tmp_path, dataset):
    unaligned = tmp_path / "unaligned"
    write_unaligned(tiny, unaligned, pickle_name=UNALIGNED_NAMES[dataset][0], csv_name="label.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the crop warns; its wording is tested with the loader
        data = load_data(TrainConfig(data=f"{dataset}_unaligned", data_dir=str(unaligned), max_len=4))
    assert data.name == f"{dataset}_unaligned" and data.train.audio.shape[1] == 4
    np.testing.assert_allclose(data.valid.labels, tiny.valid.labels)
    write_sdk(tiny, tmp_path / "sdk", dataset=dataset)
    sdk = load_data(TrainConfig(data=f"{dataset}_sdk", data_dir=str(tmp_path / "sdk")))
    np.testing.assert_allclose(sdk.train.labels, tiny.train.labels)


def test_the_configured_nonfinite_policy_reaches_the_loader(tiny, tmp_path):
    pickle_path, _ = write_unaligned(tiny, tmp_path, pickle_name=UNALIGNED_NAMES["mosi"][0], csv_name="label.csv")
    content = pickle.loads(pickle_path.read_bytes())
    content["train"]["audio"][0, -1, 0] = np.nan  # the last frame: kept whatever the row's true length
    pickle_path.write_bytes(pickle.dumps(content))
    with pytest.raises(ValueError, match="non-finite"):
        load_data(TrainConfig(data="mosi_unaligned", data_dir=str(tmp_path)))
    with pytest.warns(UserWarning, match="non-finite values set to 0"):
        loaded = load_data(TrainConfig(data="mosi_unaligned", data_dir=str(tmp_path), nonfinite="zero"))
    assert np.isfinite(loaded.train.audio).all()
