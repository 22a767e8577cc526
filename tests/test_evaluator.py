"""T2M evaluator networks, official checkpoint layout and golden case 6 (atol 1e-4, golden README §6, §10)."""

import json

import numpy as np
import pytest
import torch

from crossdiff.errors import UserError
from crossdiff.evaluation.evaluator import T2MEvaluator, eval_feature_index, evaluator_file, length_order
from crossdiff.io import torch_load, torch_save

ATOL = 1e-4
GOLDEN_CHECKPOINT = "t2m_evaluator_random.tar.gz"


@pytest.fixture(scope="module")
def case6(golden):
    return golden("case6_t2m_evaluator_io")


@pytest.fixture(scope="module")
def evaluator(golden_dir):
    return T2MEvaluator.load(golden_dir / GOLDEN_CHECKPOINT, part="all")


@pytest.fixture(scope="module")
def lower_file(tmp_path_factory):
    """A self-made `lower` evaluator in the official layout, written once."""
    path = tmp_path_factory.mktemp("t2m") / "lower.tar"
    torch.manual_seed(0)
    T2MEvaluator(part="lower").save(path, epoch=3, iteration=120)
    return path


def co_inputs(case6):
    return [case6[k] for k in ("word_embs", "pos_ohot", "cap_lens", "motions", "m_lens")]


@pytest.mark.parametrize("part, width", [("all", 259), ("upper", 156), ("lower", 103)])
def test_eval_feature_index_matches_the_golden_lists(case6, part, width):
    index = eval_feature_index(part)
    assert len(index) == width
    np.testing.assert_array_equal(index, case6[f"eval_index_{part}"])


def test_upper_and_lower_split_the_non_contact_columns():
    upper, lower = set(eval_feature_index("upper")), set(eval_feature_index("lower"))
    assert not upper & lower and upper | lower == set(range(259))
    assert len(eval_feature_index("all", "kit")) == 247
    with pytest.raises(UserError, match="unknown evaluator part 'hands'"):
        eval_feature_index("hands")


def test_co_embeddings_match_golden_case6(evaluator, case6):
    text_emb, motion_emb = evaluator.get_co_embeddings(*co_inputs(case6))
    np.testing.assert_array_equal(length_order(case6["m_lens"]), case6["align_idx"])
    np.testing.assert_allclose(text_emb.numpy(), case6["text_embedding"], atol=ATOL)
    np.testing.assert_allclose(motion_emb.numpy(), case6["motion_embedding"], atol=ATOL)
    assert not text_emb.requires_grad and not motion_emb.requires_grad


def test_intermediate_outputs_match_golden_case6(evaluator, case6):
    with torch.no_grad():
        movements = evaluator.movements(case6["motions"][case6["align_idx"]])
        text_in_order = evaluator.embed_text(*co_inputs(case6)[:3])
    np.testing.assert_allclose(movements.numpy(), case6["movements_sorted"], atol=ATOL)
    np.testing.assert_allclose(text_in_order.numpy(), case6["text_embedding_input_order"], atol=ATOL)
    motion_only = evaluator.get_motion_embeddings(case6["motions"], case6["m_lens"])
    np.testing.assert_allclose(motion_only.numpy(), case6["motion_embedding"], atol=ATOL)


def test_padding_beyond_caption_length_has_no_influence(evaluator, case6):
    word_embs, pos_ohot, cap_lens = (np.array(a) for a in co_inputs(case6)[:3])
    for row, length in enumerate(cap_lens):
        word_embs[row, length:] = 100.0
    with torch.no_grad():
        changed = evaluator.embed_text(word_embs, pos_ohot, cap_lens)
    np.testing.assert_allclose(changed.numpy(), case6["text_embedding_input_order"], atol=ATOL)


def test_unsorted_captions_are_accepted(evaluator, case6):
    order = np.array([3, 0, 7, 1, 6, 2, 5, 4])
    word_embs, pos_ohot, cap_lens = co_inputs(case6)[:3]
    with torch.no_grad():
        shuffled = evaluator.embed_text(word_embs[order], pos_ohot[order], cap_lens[order])
    np.testing.assert_allclose(shuffled.numpy(), case6["text_embedding_input_order"][order], atol=ATOL)


def test_embedding_runs_in_eval_mode_and_restores_the_training_mode(evaluator, case6):
    evaluator.train()
    try:
        _, motion_emb = evaluator.get_co_embeddings(*co_inputs(case6))
        assert evaluator.training and evaluator.movement_encoder.main[1].training
    finally:
        evaluator.eval()
    np.testing.assert_allclose(motion_emb.numpy(), case6["motion_embedding"], atol=ATOL)


def test_parameter_counts_follow_the_spec():
    counts = {part: [sum(p.numel() for p in getattr(T2MEvaluator(part), net).parameters())
                     for net in ("movement_encoder", "text_encoder", "motion_encoder")]
              for part in ("all", "upper", "lower")}
    assert counts == {"all": [1842688, 4100288, 15747584], "upper": [1631744, 4100288, 15747584],
                      "lower": [1523200, 4100288, 15747584]}


def test_saved_checkpoint_has_the_official_layout(golden_dir, tmp_path):
    layout = json.loads((golden_dir / "case6_t2m_evaluator_layout.json").read_text())
    T2MEvaluator(part="all").save(tmp_path / "all.tar", epoch=2, iteration=7)
    saved = torch_load(tmp_path / "all.tar")
    assert list(saved) == layout["top_level_keys"]
    assert (saved["epoch"], saved["iter"]) == (2, 7)
    for net in ("text_encoder", "motion_encoder", "movement_encoder"):
        assert {k: list(v.shape) for k, v in saved[net].items()} == layout[net]
    assert set(saved["opt_text_encoder"]) == set(layout["opt_state_dict_keys"])


def test_save_and_load_round_trip(lower_file, case6):
    torch.manual_seed(0)
    original = T2MEvaluator(part="lower")
    loaded = T2MEvaluator.load(lower_file, part="lower")
    assert loaded.eval_index.tolist() == case6["eval_index_lower"].tolist()
    for a, b in zip(original.get_co_embeddings(*co_inputs(case6)), loaded.get_co_embeddings(*co_inputs(case6))):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_wrong_part_names_the_key_and_the_right_part(lower_file):
    with pytest.raises(UserError, match=r"lower\.tar: movement_encoder\.main\.0\.weight has shape \[512, 103, 4\].*part=lower"):
        T2MEvaluator.load(lower_file, part="all")


def test_missing_networks_and_keys_are_named(lower_file, tmp_path):
    checkpoint = torch_load(lower_file)
    del checkpoint["motion_encoder"]
    torch_save(tmp_path / "no_motion.tar", checkpoint)
    with pytest.raises(UserError, match=r"no_motion\.tar: missing key 'motion_encoder'"):
        T2MEvaluator.load(tmp_path / "no_motion.tar", part="lower")
    checkpoint = torch_load(lower_file)
    del checkpoint["text_encoder"]["gru.bias_hh_l0_reverse"]
    torch_save(tmp_path / "no_bias.tar", checkpoint)
    with pytest.raises(UserError, match=r"no_bias\.tar: text_encoder\.gru\.bias_hh_l0_reverse is missing"):
        T2MEvaluator.load(tmp_path / "no_bias.tar", part="lower")
    torch_save(tmp_path / "list.tar", [1, 2])
    with pytest.raises(UserError, match="list.tar: expected a dict"):
        T2MEvaluator.load(tmp_path / "list.tar")


def test_folder_lookup_prefers_part_files_and_falls_back_to_finest(tmp_path, lower_file, golden_dir):
    (tmp_path / "finest.tar").write_bytes((golden_dir / GOLDEN_CHECKPOINT).read_bytes())   # gzip accepted
    (tmp_path / "lower.tar").write_bytes(lower_file.read_bytes())
    assert evaluator_file(tmp_path, "all") == tmp_path / "finest.tar"
    assert T2MEvaluator.load(tmp_path, part="lower").part == "lower"
    with pytest.raises(UserError, match=r"no 'upper' evaluator.*download_t2m_evaluators\.sh"):
        evaluator_file(tmp_path, "upper")


def test_motions_with_the_wrong_width_or_length_are_user_errors(evaluator, case6):
    with pytest.raises(UserError, match="251 features per frame"):
        evaluator.get_motion_embeddings(case6["motions"][..., :251], case6["m_lens"])
    with pytest.raises(UserError, match="at least 4 frames"):
        evaluator.get_motion_embeddings(case6["motions"][:2], [40, 3])
